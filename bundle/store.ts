/**
 * The bundle's content-addressed store: `blobs/sha256/<hex>`, one file per
 * distinct content. A blob only ever appears under its name complete and
 * verified: content is written to `.partial/` in the same folder (so the final
 * rename is atomic), hashed while it is written, and renamed only when its
 * digest and size match. A failed or interrupted write leaves nothing behind.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, rmSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";

export const BLOB_DIR = "blobs/sha256";
/** Where content is written before it is verified and renamed into the store (same file system). */
export const PARTIAL_DIR = ".partial";
/** SHA-256 of content its upstream pins otherwise (see `readPins`); the bastion's, never transferred. */
export const PINS_FILE = "pins.json";

export interface Expected {
  sha256: string;
  /** Byte count, when known beforehand (packages); files learn it from their content. */
  size?: number;
}

/** The content did not match what was expected; nothing was stored. */
export class IntegrityError extends Error {}

/** SHA-256 and size of a file. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

export type BlobState = { state: "ok"; size: number } | { state: "missing" } | { state: "corrupt"; reason: string };

export class Store {
  constructor(readonly dir: string) {}

  blobPath(sha256: string): string {
    return path.join(this.dir, BLOB_DIR, sha256);
  }

  /** Creates the folders and removes partial files a killed run left behind. */
  async open(): Promise<{ stale: number }> {
    await mkdir(path.join(this.dir, BLOB_DIR), { recursive: true });
    const partial = path.join(this.dir, PARTIAL_DIR);
    let stale = 0;
    try {
      for (const f of await readdir(partial)) {
        await rm(path.join(partial, f), { force: true });
        stale++;
      }
    } catch {
      /* no partial folder */
    }
    await mkdir(partial, { recursive: true });
    return { stale };
  }

  /** Removes the partial folder (called when a run ends). */
  async close(): Promise<void> {
    await rm(path.join(this.dir, PARTIAL_DIR), { recursive: true, force: true });
  }

  /** Whether the store holds this content, checked by hashing the blob. */
  async check(expected: Expected): Promise<BlobState> {
    const file = this.blobPath(expected.sha256);
    let st;
    try {
      st = await stat(file);
    } catch {
      return { state: "missing" };
    }
    if (expected.size !== undefined && st.size !== expected.size) {
      return { state: "corrupt", reason: `${st.size} bytes, expected ${expected.size}` };
    }
    const actual = await hashFile(file);
    if (actual.sha256 !== expected.sha256) return { state: "corrupt", reason: `its sha256 is ${actual.sha256}` };
    return { state: "ok", size: actual.size };
  }

  /** How many blobs the store holds that `referenced` does not list. */
  async unreferenced(referenced: Set<string>): Promise<number> {
    const names = await readdir(path.join(this.dir, BLOB_DIR)).catch(() => [] as string[]);
    return names.filter((n) => !referenced.has(n)).length;
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.blobPath(sha256), { force: true });
  }

  /**
   * Writes content whose SHA-256 is not known beforehand: a file its upstream
   * pins by SHA-512 only (verified here), or by nothing at all. Returns the
   * SHA-256 it is stored under. Same guarantees as `put`.
   */
  async putPinned(content: AsyncIterable<Uint8Array>, pin: { sha512?: string }, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    const partial = path.join(this.dir, PARTIAL_DIR, `pinned.${process.pid}.${randomBytes(4).toString("hex")}`);
    const fh = await open(partial, "wx", 0o644);
    try {
      const sha256 = createHash("sha256");
      const sha512 = createHash("sha512");
      let size = 0;
      for await (const chunk of content) {
        size += chunk.length;
        sha256.update(chunk);
        sha512.update(chunk);
        await fh.write(chunk);
        onBytes?.(chunk.length);
      }
      const got512 = sha512.digest("hex");
      if (pin.sha512 !== undefined && got512 !== pin.sha512) throw new IntegrityError(`sha512 mismatch: expected ${pin.sha512}, got ${got512}`);
      const digest = sha256.digest("hex");
      await fh.sync();
      await fh.close();
      await rename(partial, this.blobPath(digest));
      return { sha256: digest, size };
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
      throw err;
    }
  }

  /**
   * What earlier runs learnt: the SHA-256 of content pinned otherwise
   * (`sha512:<hex>`, or `url:<url>` for content pinned by nothing, kept so the
   * bundle does not change under an upstream that republishes a file).
   */
  async readPins(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, PINS_FILE), "utf8")) as Record<string, string>;
    } catch {
      return {};
    }
  }

  async writePins(pins: Record<string, string>): Promise<void> {
    const file = path.join(this.dir, PINS_FILE);
    const sorted = Object.fromEntries(Object.entries(pins).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await writeFile(`${file}.tmp`, JSON.stringify(sorted, null, 2) + "\n");
    await rename(`${file}.tmp`, file);
  }

  /**
   * Writes `content` into the store if it matches `expected`; returns its size.
   * On any error (transfer, size, digest) the partial file is removed and the
   * error is rethrown; the store is unchanged.
   */
  async put(content: AsyncIterable<Uint8Array>, expected: Expected, onBytes?: (n: number) => void): Promise<number> {
    const partial = path.join(this.dir, PARTIAL_DIR, `${expected.sha256}.${process.pid}.${randomBytes(4).toString("hex")}`);
    const fh = await open(partial, "wx", 0o644);
    try {
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of content) {
        size += chunk.length;
        if (expected.size !== undefined && size > expected.size) {
          throw new IntegrityError(`more than the expected ${expected.size} bytes`);
        }
        hash.update(chunk);
        await fh.write(chunk);
        onBytes?.(chunk.length);
      }
      if (expected.size !== undefined && size !== expected.size) {
        throw new IntegrityError(`got ${size} bytes, expected ${expected.size}`);
      }
      const digest = hash.digest("hex");
      if (digest !== expected.sha256) throw new IntegrityError(`sha256 mismatch: expected ${expected.sha256}, got ${digest}`);
      await fh.sync();
      await fh.close();
      await rename(partial, this.blobPath(expected.sha256));
      return size;
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Synchronous clean-up for signal handlers: removes the partial folder with
   * whatever is being written (a write still starting then fails: its folder is gone).
   */
  abandonInFlight(): void {
    rmSync(path.join(this.dir, PARTIAL_DIR), { recursive: true, force: true });
  }
}
