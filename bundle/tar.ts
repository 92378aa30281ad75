/**
 * The small part of POSIX ustar the transfer file needs: regular files only,
 * names under 100 bytes, deterministic headers (mode 0644, owner 0, mtime 0),
 * sizes beyond ustar's 8 GiB in GNU's base-256 form. Reading is streaming:
 * one pass, every byte handed to the caller as it arrives.
 */

export const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** The 512-byte header of a regular file. */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) >= 100) throw new Error(`tar member name too long: ${name}`);
  h.write(name, 0, "utf8");
  h.write(octal(0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  if (size < 8 ** 11) h.write(octal(size, 12), 124, "ascii");
  else {
    // GNU base-256: high bit set, big-endian binary.
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 124 + 4);
  }
  h.write(octal(0, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write("0", 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Two zero blocks end an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

export class TarError extends Error {}

function parseSize(field: Buffer): number {
  if (field[0] & 0x80) {
    const n = field.readBigUInt64BE(4);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarError("member size out of range");
    return Number(n);
  }
  const text = field.toString("ascii").replace(/[\0 ]+$/, "").trim();
  if (!/^[0-7]+$/.test(text)) throw new TarError(`bad size field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** Pulls exact byte counts from a stream of buffers. */
export class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far (the offset of the next byte). */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }

  /** Exactly `n` bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n && (await this.fill()));
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    this.offset += out.length;
    return out;
  }

  /** The next `n` bytes in pieces as they arrive; throws if the stream ends first. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw new TarError(`the file ends ${left} bytes early`);
      const piece = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(piece.length);
      this.offset += piece.length;
      left -= piece.length;
      yield piece;
    }
  }
}

export interface TarMember {
  name: string;
  size: number;
  /** Offset of the member's header in the archive. */
  offset: number;
}

/**
 * Reads the next member's header; undefined at the archive's end. The caller
 * then consumes exactly `size` bytes with `reader.take(size)` and calls
 * `skipPadding`.
 */
export async function nextMember(reader: ByteReader): Promise<TarMember | undefined> {
  const offset = reader.offset;
  const h = await reader.read(BLOCK);
  if (h.length === 0) throw new TarError("the file ends without the archive's end marker (truncated?)");
  if (h.length < BLOCK) throw new TarError(`the file ends inside a header at byte ${offset} (truncated?)`);
  if (h.every((b) => b === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  const stored = parseInt(h.subarray(148, 156).toString("ascii").replace(/[\0 ]+$/, "").trim(), 8);
  if (stored !== sum) throw new TarError(`damaged header at byte ${offset} (checksum ${stored}, computed ${sum})`);
  const type = String.fromCharCode(h[156] || 0x30);
  const name = h.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  if (type !== "0") throw new TarError(`member ${name} at byte ${offset} is not a regular file (type ${type})`);
  return { name, size: parseSize(h.subarray(124, 136)), offset };
}

export async function skipPadding(reader: ByteReader, size: number): Promise<void> {
  const pad = padding(size);
  if (pad && (await reader.read(pad)).length < pad) throw new TarError("the file ends inside a member's padding (truncated?)");
}
