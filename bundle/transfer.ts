/**
 * The transfer file: what crosses the air gap. One tar, members in a fixed
 * order: `manifest.json`, `manifest.json.sig`, then the blobs carried
 * (`blobs/sha256/<hex>`, by digest). An importer verifies the signature before
 * it reads any blob. Optionally split into chunks (`FILE.000`, `FILE.001`, …)
 * listed with their sizes and digests in `FILE.chunks.json`, signed by
 * `FILE.chunks.json.sig`.
 *
 * `importTransfer` verifies everything (signature against the site's trusted
 * key, every chunk, every blob) into a staging folder inside the store, and
 * only then moves blobs and manifest into place: on any failure the store is
 * as it was. A staging folder left by an interrupted import is reused.
 */
import { createHash, type KeyObject } from "node:crypto";
import { constants, createReadStream, createWriteStream, existsSync, type WriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import { once } from "node:events";
import { isSafeName, MANIFEST_FILE, MANIFEST_MAX_BYTES, parseManifest, SIGNATURE_FILE, type Manifest } from "./manifest.js";
import { keyFingerprint, publicOf, signBytes, verifyBytes } from "./sign.js";
import { SBOM_FILE, serializeSbom } from "./sbom.js";
import { BLOB_DIR } from "./store.js";
import { BLOCK, ByteReader, nextMember, padding, skipPadding, TAR_END, tarHeader, TarError } from "./tar.js";
import { ByteProgress } from "./progress.js";
import { fsyncDir, writeAtomic } from "./files.js";

export const CHUNKS_SUFFIX = ".chunks.json";
/** Staging inside the store (same file system: moving in is a rename). */
export const STAGING_DIR = ".import";
/** Manifests the store keeps (by the manifest's sha256), for `airgap prune`. */
export const MANIFESTS_DIR = "manifests";
const READ_SIZE = 1 << 20;

/** The transfer or the bundle is refused; `problems` name what failed. */
export class TransferError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

export interface ChunkList {
  format: 1;
  /** The transfer file's name; chunks are `<transfer>.000`, … */
  transfer: string;
  /** SHA-256 of the manifest inside: ties the list to one bundle. */
  manifest: string;
  size: number;
  chunks: { name: string; size: number; sha256: string }[];
}

/** `--split` sizes: bytes, or with k, M, G, T (powers of 1024; "G", "GiB" and "GB" alike). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Math.floor(Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase()));
  return n >= BLOCK ? n : undefined;
}

/** Blobs to carry: every digest the manifest lists that `since` (an older manifest) does not. */
export function blobsToCarry(m: Manifest, since?: Manifest): { sha256: string; size: number; label: string }[] {
  const old = new Set(since?.artifacts.map((a) => a.sha256) ?? []);
  const out = new Map<string, { sha256: string; size: number; label: string }>();
  for (const a of m.artifacts) {
    if (!old.has(a.sha256) && !out.has(a.sha256)) out.set(a.sha256, { sha256: a.sha256, size: a.size, label: `${a.kind} ${a.path}` });
  }
  return [...out.values()].sort((x, y) => (x.sha256 < y.sha256 ? -1 : 1));
}

/** Writes a byte stream into one file, or into chunks of `split` bytes each hashed. */
class ChunkWriter {
  private current?: WriteStream;
  private currentHash = createHash("sha256");
  private currentSize = 0;
  readonly chunks: ChunkList["chunks"] = [];
  readonly files: string[] = [];
  size = 0;

  constructor(
    private readonly file: string,
    private readonly split?: number,
  ) {}

  private async roll(): Promise<void> {
    await this.close();
    const name = this.split ? `${this.file}.${String(this.chunks.length).padStart(3, "0")}` : this.file;
    const tmp = `${name}.partial`;
    this.files.push(name);
    await rm(tmp, { force: true });
    this.current = createWriteStream(tmp, { flags: "wx", mode: 0o644 });
    this.currentHash = createHash("sha256");
    this.currentSize = 0;
    this.chunks.push({ name: path.basename(name), size: 0, sha256: "" });
  }

  async write(data: Buffer): Promise<void> {
    let rest = data;
    while (rest.length > 0) {
      if (!this.current || (this.split && this.currentSize === this.split)) await this.roll();
      const room = this.split ? this.split - this.currentSize : rest.length;
      const piece = rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      this.currentHash.update(piece);
      this.currentSize += piece.length;
      this.size += piece.length;
      if (!this.current!.write(piece)) await once(this.current!, "drain");
    }
  }

  async close(): Promise<void> {
    if (!this.current) return;
    const s = this.current;
    this.current = undefined;
    await new Promise<void>((resolve, reject) => s.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const last = this.chunks[this.chunks.length - 1];
    last.size = this.currentSize;
    last.sha256 = this.currentHash.digest("hex");
    await rename(`${this.files[this.files.length - 1]}.partial`, this.files[this.files.length - 1]);
  }

  async abandon(): Promise<void> {
    this.current?.destroy();
    for (const f of this.files) {
      await rm(f, { force: true });
      await rm(`${f}.partial`, { force: true });
    }
  }
}

export interface ExportOptions {
  /** Bundle folder (manifest.json, manifest.json.sig, blobs/). */
  dir: string;
  /** The transfer file to write. */
  file: string;
  /** An older manifest: carry only the blobs it does not list. */
  since?: string;
  /** Chunk size in bytes; the chunk list is signed with `key`. */
  split?: number;
  key?: KeyObject;
  progress?: ByteProgress;
}

export interface ExportResult {
  file: string;
  files: string[];
  blobs: number;
  /** Blobs left out because the old manifest lists them. */
  skipped: number;
  bytes: number;
  /** Bytes of the whole bundle's blobs (what a full transfer carries). */
  fullBytes: number;
}

/** Writes the transfer file (or its chunks and signed chunk list). */
export async function exportBundle(o: ExportOptions): Promise<ExportResult> {
  const manifestBytes = await readFile(path.join(o.dir, MANIFEST_FILE)).catch(() => undefined);
  if (!manifestBytes) throw new TransferError([`${o.dir} holds no ${MANIFEST_FILE}: run airgap bundle first`]);
  const signature = await readFile(path.join(o.dir, SIGNATURE_FILE)).catch(() => undefined);
  if (!signature) throw new TransferError([`${o.dir} holds no ${SIGNATURE_FILE}: the bundle is unsigned (airgap bundle --key KEY signs it)`]);
  const manifest = parseManifest(manifestBytes.toString("utf8"));
  if (o.key && !verifyBytes(manifestBytes, signature, publicOf(o.key))) {
    throw new TransferError([`${SIGNATURE_FILE} in ${o.dir} was not made by this key (run airgap bundle --key KEY again)`]);
  }
  let since: Manifest | undefined;
  if (o.since) {
    const text = await readFile(o.since, "utf8").catch((err: Error) => {
      throw new TransferError([`cannot read the old manifest ${o.since}: ${err.message}`]);
    });
    since = parseManifest(text);
    if (since.site !== manifest.site) throw new TransferError([`the old manifest ${o.since} is site "${since.site}", this bundle site "${manifest.site}"`]);
  }
  if (o.split && !o.key) throw new TransferError(["a split transfer needs the signing key (--key) to sign its chunk list"]);
  const carry = blobsToCarry(manifest, since);
  const all = blobsToCarry(manifest);
  // The runbook's `--export transfer/SITE.tar` names a folder that a first run has not made yet.
  await mkdir(path.dirname(path.resolve(o.file)), { recursive: true });
  const w = new ChunkWriter(o.file, o.split);
  o.progress?.begin(carry.reduce((n, b) => n + b.size, 0) + manifestBytes.length);
  try {
    for (const [name, data] of [[MANIFEST_FILE, manifestBytes], [SIGNATURE_FILE, signature]] as const) {
      await w.write(tarHeader(name, data.length));
      await w.write(data);
      await w.write(Buffer.alloc(padding(data.length)));
    }
    for (const b of carry) {
      await w.write(tarHeader(`${BLOB_DIR}/${b.sha256}`, b.size));
      const hash = createHash("sha256");
      let size = 0;
      const file = path.join(o.dir, BLOB_DIR, b.sha256);
      try {
        for await (const piece of createReadStream(file, { highWaterMark: READ_SIZE })) {
          const buf = piece as Buffer;
          size += buf.length;
          if (size > b.size) break;
          hash.update(buf);
          await w.write(buf);
          o.progress?.add(buf.length);
        }
      } catch (err) {
        throw new TransferError([`${b.label}: cannot read its blob ${file}: ${(err as Error).message}`]);
      }
      const digest = hash.digest("hex");
      if (size !== b.size || digest !== b.sha256) {
        throw new TransferError([`${b.label}: the bundle's blob is damaged (${size} bytes, sha256 ${digest}; the manifest says ${b.size} bytes, ${b.sha256}); run airgap bundle again`]);
      }
      await w.write(Buffer.alloc(padding(b.size)));
    }
    await w.write(TAR_END);
    await w.close();
    if (o.split) {
      const list: ChunkList = {
        format: 1,
        transfer: path.basename(o.file),
        manifest: createHash("sha256").update(manifestBytes).digest("hex"),
        size: w.size,
        chunks: w.chunks,
      };
      const text = Buffer.from(JSON.stringify(list, null, 2) + "\n");
      await writeAtomic(o.file + CHUNKS_SUFFIX, text);
      await writeAtomic(o.file + CHUNKS_SUFFIX + ".sig", signBytes(text, o.key!));
      w.files.push(o.file + CHUNKS_SUFFIX, o.file + CHUNKS_SUFFIX + ".sig");
    }
  } catch (err) {
    await w.abandon();
    throw err;
  } finally {
    o.progress?.end();
  }
  return {
    file: o.file,
    files: w.files,
    blobs: carry.length,
    skipped: all.length - carry.length,
    bytes: w.size,
    fullBytes: all.reduce((n, b) => n + b.size, 0),
  };
}

/** The transfer named on the command line: one tar, or a chunk list with its chunks. */
async function openInputs(inputs: string[], trust: KeyObject): Promise<{ label: string; parts: { file: string; size?: number; sha256?: string; label: string }[] }> {
  if (inputs.length === 0) throw new TransferError(["no transfer file given"]);
  // A chunk list, a chunk (FILE.000), or a transfer file beside its chunk list.
  const first = inputs[0];
  const listFile = first.endsWith(CHUNKS_SUFFIX)
    ? first
    : /\.\d{3}$/.test(first)
      ? first.slice(0, -4) + CHUNKS_SUFFIX
      : existsSync(first + CHUNKS_SUFFIX)
        ? first + CHUNKS_SUFFIX
        : undefined;
  if (!listFile) {
    if (inputs.length > 1) throw new TransferError([`several files given (${inputs.join(", ")}) but no chunk list (${first}${CHUNKS_SUFFIX})`]);
    if (!existsSync(first)) throw new TransferError([`no such transfer file: ${first}`]);
    return { label: first, parts: [{ file: first, label: first }] };
  }
  const text = await readCapped(listFile, CHUNK_LIST_MAX_BYTES, "the chunk list");
  if (!text) throw new TransferError([`the chunk list ${listFile} is missing`]);
  const sig = await readCapped(listFile + ".sig", 64, "the chunk list's signature");
  if (!sig) throw new TransferError([`the chunk list ${listFile} is unsigned (no ${path.basename(listFile)}.sig)`]);
  if (!verifyBytes(text, sig, trust)) {
    throw new TransferError([`the chunk list ${listFile}: its signature does not verify against the trusted key ${keyFingerprint(trust)} (altered, or signed by another key)`]);
  }
  let list: ChunkList;
  try {
    list = JSON.parse(text.toString("utf8")) as ChunkList;
    if (list.format !== 1 || !Array.isArray(list.chunks)) throw new Error(`format ${JSON.stringify(list.format)}, this airgap reads 1`);
  } catch (err) {
    throw new TransferError([`the chunk list ${listFile} cannot be read: ${(err as Error).message}`]);
  }
  const dir = path.dirname(listFile);
  const parts = list.chunks.map((c) => ({ file: path.join(dir, path.basename(c.name)), size: c.size, sha256: c.sha256, label: `chunk ${c.name}` }));
  const problems: string[] = [];
  for (const [i, p] of parts.entries()) {
    const st = await stat(p.file).catch(() => undefined);
    if (!st) problems.push(`${p.label} (${i + 1} of ${parts.length}) is missing: ${p.file}`);
    else if (st.size !== p.size) problems.push(`${p.label}: ${st.size} bytes, the chunk list says ${p.size} (truncated or replaced)`);
  }
  if (problems.length) throw new TransferError(problems);
  return { label: listFile, parts };
}

/** A file's bytes, or undefined when absent; refused unread when it has more than `max` bytes. */
async function readCapped(file: string, max: number, what: string): Promise<Buffer | undefined> {
  const st = await stat(file).catch(() => undefined);
  if (!st) return undefined;
  if (st.size > max) throw new TransferError([`${what} ${file} has ${st.size} bytes, more than the ${max} it may have; refused unread`]);
  return readFile(file);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(file, { highWaterMark: READ_SIZE })) hash.update(piece as Buffer);
  return hash.digest("hex");
}

/** Every chunk's digest, before any is read as tar; a swapped chunk is named as such. */
async function verifyChunks(parts: { file: string; sha256?: string; label: string }[], progress?: ByteProgress): Promise<void> {
  const problems: string[] = [];
  const actual: string[] = [];
  for (const p of parts) {
    if (!p.sha256) continue;
    const d = await sha256Of(p.file);
    actual.push(d);
    progress?.add((await stat(p.file)).size);
    if (d !== p.sha256) problems.push(`${p.label}: sha256 ${d}, expected ${p.sha256}`);
  }
  parts.forEach((p, i) => {
    const j = parts.findIndex((q) => q.sha256 === actual[i]);
    if (j >= 0 && j !== i) problems.push(`${p.label} holds ${parts[j].label}'s content: the chunks are out of order`);
  });
  if (problems.length) throw new TransferError(problems);
}

async function* concat(files: string[]): AsyncGenerator<Buffer> {
  for (const f of files) for await (const piece of createReadStream(f, { highWaterMark: READ_SIZE })) yield piece as Buffer;
}

export interface ImportOptions {
  inputs: string[];
  store: string;
  trust: KeyObject;
  /** The site's name: a bundle made for another site is refused. The store's current manifest binds its site too. */
  site?: string;
  /** Accept a bundle older than the store's current one, or another under its sequence (logged). @default false */
  allowRollback?: boolean;
  progress?: ByteProgress;
}

export interface ImportResult {
  store: string;
  site: string;
  /** SHA-256 of the imported manifest. */
  manifest: string;
  sequence: number;
  created: string;
  artifacts: number;
  /** Blobs moved into the store by this run. */
  added: number;
  addedBytes: number;
  /** Blobs of the transfer the store already held (hashed again, not written). */
  present: number;
  /** Blobs an interrupted import had already verified (hashed again, moved, not copied again). */
  resumed: number;
  bytes: number;
  ms: number;
  /** The store already held exactly this manifest: nothing was read past it, nothing changed. */
  unchanged?: boolean;
  /** With `allowRollback`: what was accepted on purpose (also in STORE/import.log). */
  rollback?: string;
}

/** The log of imports kept in the store, one JSON object per line. */
export const IMPORT_LOG = "import.log";
/** Bytes a chunk list may have (4 MiB: tens of thousands of chunks). */
const CHUNK_LIST_MAX_BYTES = 4 << 20;

async function readMember(reader: ByteReader, expect: string, max: number): Promise<Buffer | undefined> {
  const m = await nextMember(reader);
  if (!m || m.name !== expect) return undefined;
  // Refused by its header: a member over the cap is never read.
  if (m.size > max) throw new TransferError([`${expect} in the transfer is ${m.size} bytes, more than the ${max} it may have; refused unread`]);
  const parts: Buffer[] = [];
  for await (const p of reader.take(m.size)) parts.push(Buffer.from(p));
  await skipPadding(reader, m.size);
  return Buffer.concat(parts);
}

/** The store's current manifest, or undefined in a new store. */
async function currentManifest(store: string): Promise<{ manifest: Manifest; id: string } | undefined> {
  const file = path.join(store, MANIFEST_FILE);
  const st = await stat(file).catch(() => undefined);
  if (!st) return undefined;
  if (st.size > MANIFEST_MAX_BYTES) throw new TransferError([`the store's ${file} has ${st.size} bytes, more than a manifest may have: the store is damaged`]);
  const bytes = await readFile(file);
  let m: Partial<Manifest> | undefined;
  try {
    m = JSON.parse(bytes.toString("utf8")) as Partial<Manifest>;
  } catch {
    m = undefined;
  }
  if (!m || typeof m !== "object" || !isSafeName(m.site)) throw new TransferError([`the store's ${file} cannot be read: the store is damaged (move it aside and import again)`]);
  // A store filled before airgap numbered bundles: its manifest counts as sequence 0.
  const manifest = { ...m, sequence: Number.isSafeInteger(m.sequence) ? m.sequence : 0, created: m.created ?? "(unknown)" } as Manifest;
  return { manifest, id: createHash("sha256").update(bytes).digest("hex") };
}

/**
 * Whether `m` (sha256 `id`) may follow the store's current manifest: the same
 * site, and a higher sequence (or the very same manifest). The problem, or the
 * rollback accepted with `allow`, as text.
 */
function orderCheck(m: Manifest, id: string, current: { manifest: Manifest; id: string } | undefined, allow: boolean): { problem?: string; rollback?: string } {
  if (!current) return {};
  const cur = current.manifest;
  if (cur.site !== m.site) return { problem: `the bundle was made for site "${m.site}"; the store holds site "${cur.site}" (a bundle of another site, even signed by the same key, is refused)` };
  if (current.id === id || m.sequence > cur.sequence) return {};
  const what =
    m.sequence < cur.sequence
      ? `sequence ${m.sequence} (created ${m.created}, manifest ${id.slice(0, 16)}) is older than the store's current ${cur.sequence} (created ${cur.created}, manifest ${current.id.slice(0, 16)})`
      : `sequence ${m.sequence} (created ${m.created}, manifest ${id.slice(0, 16)}) is the store's current one's (created ${cur.created}, manifest ${current.id.slice(0, 16)}) with other content: a replay`;
  if (allow) return { rollback: `rollback accepted on purpose (--allow-rollback): ${what}` };
  return { problem: `the bundle is refused: ${what}; to go back on purpose, import with --allow-rollback` };
}

/** Verifies a transfer and moves it into the store; see the module comment. */
export async function importTransfer(o: ImportOptions): Promise<ImportResult> {
  const started = Date.now();
  const { label, parts } = await openInputs(o.inputs, o.trust);
  const total = (await Promise.all(parts.map((p) => stat(p.file)))).reduce((n, s) => n + s.size, 0);
  const chunked = parts.some((p) => p.sha256);
  o.progress?.begin(chunked ? 2 * total : total);
  const staging = path.join(o.store, STAGING_DIR);
  const stagedBlobs = path.join(staging, "blobs");
  const partial = path.join(staging, "partial");
  // The folders this run may make, deepest first, that were not there before:
  // a refused import removes them again (when still empty), so it leaves the
  // store, even a store that did not exist, as it found it.
  const made = [path.join(o.store, BLOB_DIR), path.dirname(path.join(o.store, BLOB_DIR)), o.store].filter((d) => !existsSync(d));
  const storeBlobs = path.join(o.store, BLOB_DIR);
  let failed = false;
  try {
    if (chunked) await verifyChunks(parts, o.progress);
    const reader = new ByteReader(concat(parts.map((p) => p.file))[Symbol.asyncIterator]());
    const manifestBytes = await readMember(reader, MANIFEST_FILE, MANIFEST_MAX_BYTES).catch(rethrowTar(label));
    if (!manifestBytes) throw new TransferError([`${label}: the first member is not ${MANIFEST_FILE} (not an airgap transfer file, or its start is damaged)`]);
    const signature = await readMember(reader, SIGNATURE_FILE, 64).catch(rethrowTar(label));
    if (!signature) throw new TransferError([`${label}: unsigned (no ${SIGNATURE_FILE} after the manifest); refused`]);
    if (!verifyBytes(manifestBytes, signature, o.trust)) {
      throw new TransferError([`${label}: the manifest's signature does not verify against the trusted key ${keyFingerprint(o.trust)} (the manifest was altered, or signed by another key)`]);
    }
    o.progress?.add(manifestBytes.length);
    let manifest: Manifest;
    try {
      manifest = parseManifest(manifestBytes.toString("utf8"));
    } catch (err) {
      throw new TransferError([`${label}: ${(err as Error).message}`]);
    }
    const id = createHash("sha256").update(manifestBytes).digest("hex");
    if (o.site !== undefined && manifest.site !== o.site) {
      throw new TransferError([`${label}: the bundle was made for site "${manifest.site}", this is site "${o.site}" (--site)`]);
    }
    const current = await currentManifest(o.store);
    const order = orderCheck(manifest, id, current, o.allowRollback ?? false);
    if (order.problem) throw new TransferError([`${label}: ${order.problem}`]);
    const result = (r: Partial<ImportResult>): ImportResult => ({
      store: o.store, site: manifest.site, manifest: id, sequence: manifest.sequence, created: manifest.created,
      artifacts: manifest.artifacts.length, added: 0, addedBytes: 0, present: 0, resumed: 0, bytes: total, ms: Date.now() - started, ...r,
    });
    if (current?.id === id) return result({ unchanged: true });

    const expected = new Map<string, { size: number; label: string }>();
    for (const a of manifest.artifacts) if (!expected.has(a.sha256)) expected.set(a.sha256, { size: a.size, label: `${a.kind} ${a.path}` });
    await mkdir(storeBlobs, { recursive: true });
    await mkdir(stagedBlobs, { recursive: true });
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    let present = 0;
    let resumed = 0;
    const added: string[] = [];
    let addedBytes = 0;
    const seen = new Set<string>();
    for (;;) {
      const m = await nextMember(reader).catch(rethrowTar(label));
      if (!m) break;
      const hex = m.name.startsWith(`${BLOB_DIR}/`) ? m.name.slice(BLOB_DIR.length + 1) : "";
      const want = expected.get(hex);
      if (!want) throw new TransferError([`${label}: member ${m.name} (at byte ${m.offset}) is not a blob the signed manifest lists`]);
      if (seen.has(hex)) throw new TransferError([`${label}: blob ${hex} appears twice`]);
      seen.add(hex);
      if (m.size !== want.size) throw new TransferError([`${want.label}: blob ${hex} is ${m.size} bytes in the transfer, the manifest says ${want.size}`]);
      // A blob already in the store, or staged by an interrupted run, is hashed again before it is trusted.
      const inStore = await verifiedFile(path.join(storeBlobs, hex), hex, want.size, `${want.label}: the store's blob ${hex}`, "remove it and import again");
      const staged = inStore ? false : await verifiedFile(path.join(stagedBlobs, hex), hex, want.size, `${want.label}: the staged blob ${STAGING_DIR}/blobs/${hex}`, "planted or damaged; the staging folder is removed, import again");
      const write = !inStore && !staged;
      const hash = createHash("sha256");
      const tmp = path.join(partial, hex);
      const fh = write ? await open(tmp, "wx", 0o644) : undefined;
      // The write of one piece runs (on libuv's threads) while the next is hashed.
      let writing: Promise<unknown> = Promise.resolve();
      try {
        for await (const piece of reader.take(m.size)) {
          if (fh) {
            hash.update(piece);
            await writing;
            writing = fh.write(piece);
          }
          o.progress?.add(piece.length);
        }
        await writing;
        await fh?.sync();
      } catch (err) {
        await writing.catch(() => undefined);
        throw new TransferError([`${want.label}: blob ${hex}: ${(err as Error).message}`]);
      } finally {
        await fh?.close();
      }
      if (fh) {
        const digest = hash.digest("hex");
        if (digest !== hex) throw new TransferError([`${want.label}: blob ${hex} in the transfer has sha256 ${digest} (altered on the way); refused`]);
      }
      await skipPadding(reader, m.size).catch(rethrowTar(label));
      if (fh) {
        await rename(tmp, path.join(stagedBlobs, hex));
        added.push(hex);
        addedBytes += m.size;
      } else if (inStore) present++;
      else {
        added.push(hex);
        addedBytes += m.size;
        resumed++;
      }
    }
    await fsyncDir(stagedBlobs);
    // Every blob the manifest lists must now be in the store (hashed again) or staged.
    const missing: string[] = [];
    for (const [hex, want] of expected) {
      if (seen.has(hex)) continue;
      const ok = await verifiedFile(path.join(storeBlobs, hex), hex, want.size, `${want.label}: the store's blob ${hex}`, "remove it and import a full transfer");
      if (!ok) missing.push(`${want.label}: blob ${hex} is neither in the transfer nor in the store`);
    }
    if (missing.length) {
      throw new TransferError([
        ...missing.slice(0, 20),
        ...(missing.length > 20 ? [`… and ${missing.length - 20} more`] : []),
        `a delta (airgap bundle --since) imports only over the store of the bundle it was made against`,
      ]);
    }
    // Verified: move in. Blobs first (content-addressed, harmless alone), the manifest last.
    for (const hex of added) await rename(path.join(stagedBlobs, hex), path.join(storeBlobs, hex));
    await fsyncDir(storeBlobs);
    await mkdir(path.join(o.store, MANIFESTS_DIR), { recursive: true });
    await writeAtomic(path.join(o.store, MANIFESTS_DIR, `${id}.json`), manifestBytes);
    await writeAtomic(path.join(o.store, MANIFESTS_DIR, `${id}.json.sig`), signature);
    await writeAtomic(path.join(o.store, SIGNATURE_FILE), signature);
    await writeAtomic(path.join(o.store, MANIFEST_FILE), manifestBytes);
    await appendLog(o.store, {
      time: new Date().toISOString(), site: manifest.site, sequence: manifest.sequence, created: manifest.created, manifest: id,
      previous: current ? { sequence: current.manifest.sequence, manifest: current.id } : null,
      ...(order.rollback ? { rollback: order.rollback } : {}),
    });
    // The SBOM of what was just verified, made from the signed manifest itself.
    await writeAtomic(path.join(o.store, SBOM_FILE), Buffer.from(serializeSbom(manifest, manifestBytes)));
    await rm(staging, { recursive: true, force: true });
    return result({ added: added.length, addedBytes, present, resumed, rollback: order.rollback, ms: Date.now() - started });
  } catch (err) {
    failed = err instanceof TransferError;
    throw err;
  } finally {
    o.progress?.end();
    // Refused: nothing of this transfer stays. Interrupted (a signal, a crash, a full disk): the staging stays for the next run.
    if (failed) {
      await rm(staging, { recursive: true, force: true });
      for (const d of made) await rmdir(d).catch(() => undefined);
    }
  }
}

/**
 * Whether `file` exists; when it does, it must hold `size` bytes with sha256
 * `hex` (hashed now), else a TransferError naming `what` with `advice`.
 */
async function verifiedFile(file: string, hex: string, size: number, what: string, advice: string): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  if (!st) return false;
  const digest = st.isFile() && st.size === size ? await sha256Of(file) : undefined;
  if (digest === hex) return true;
  throw new TransferError([`${what} has ${st.size} bytes${digest ? ` and sha256 ${digest}` : ""}, not the manifest's ${size} bytes with that sha256: ${advice}`]);
}

/** One JSON line appended to STORE/import.log (never through a symbolic link). */
async function appendLog(store: string, entry: object): Promise<void> {
  const fh = await open(path.join(store, IMPORT_LOG), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  try {
    await fh.write(JSON.stringify(entry) + "\n");
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function rethrowTar(label: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof TarError) throw new TransferError([`${label}: ${err.message}`]);
    throw err;
  };
}

