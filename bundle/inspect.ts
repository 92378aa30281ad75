/**
 * What a bundle holds, read without changing it: `airgap inspect` (a bundle
 * folder, a manifest.json, a transfer file or its chunk list) and
 * `airgap diff OLD NEW` (what a delta from OLD to NEW would carry).
 *
 * A transfer file is read by its tar headers only (positional reads, no
 * hashing): the manifest, and which blobs it carries, without reading the
 * blobs. `airgap import` is what verifies.
 */
import type { KeyObject } from "node:crypto";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { ARTIFACT_KINDS, MANIFEST_FILE, parseManifest, SIGNATURE_FILE, type Artifact, type ArtifactKind, type Manifest } from "./manifest.js";
import { keyFingerprint, verifyBytes } from "./sign.js";
import { PINS_FILE } from "./store.js";
import { BLOCK, padding } from "./tar.js";
import { blobsToCarry, CHUNKS_SUFFIX, TransferError, type ChunkList } from "./transfer.js";

/** How the content of an artifact is pinned: by the SHA-256 upstream publishes (or the image digest), by upstream's SHA-512, or by nothing upstream (kept as first fetched). */
export type Pin = "sha256" | "sha512" | "first-fetch";

/** One artifact as inspect reports it (the manifest's fields, and its pin when the bundle folder says). */
export interface InspectedArtifact extends Artifact {
  pin?: Pin;
}

/** Per kind: artifacts, and the bytes of their distinct blobs. */
export interface KindSummary {
  kind: ArtifactKind;
  artifacts: number;
  bytes: number;
}

/** What `airgap inspect` reports. Sizes in bytes. */
export interface Inspection {
  /** What was read: a bundle folder, a manifest file, a transfer file (one file or chunks). */
  input: { kind: "bundle" | "manifest" | "transfer"; path: string; chunks?: number };
  site: string;
  /** The bundle's number in the site's order, and when its content was first bundled (UTC). */
  sequence: number;
  created: string;
  /** SHA-256 of the manifest's bytes (the id `airgap import` keeps it under). */
  manifest: string;
  /** "verified" against `--trust`'s key, "present" (not checked), "missing", or "bad" (does not verify). */
  signature: "verified" | "present" | "missing" | "bad";
  key?: string;
  repositories: Manifest["repositories"];
  kinds: KindSummary[];
  /** Upstream hosts (or `wheelhouse`, `file`) and how many artifacts came from each. */
  sources: { source: string; artifacts: number; bytes: number }[];
  /** Distinct blobs and their bytes: the bundle's full size. */
  blobs: number;
  bytes: number;
  /** For a transfer: the blobs it carries (fewer than `blobs` for a delta). */
  carried?: { blobs: number; bytes: number; delta: boolean };
  /** For a bundle folder: listed blobs absent from its blobs/. */
  missingBlobs?: number;
  artifacts: InspectedArtifact[];
}

/** Where an artifact came from, for grouping: the URL's host, else the source's first segment. */
export function sourceOf(a: Artifact): string {
  try {
    const u = new URL(a.source);
    if (u.protocol === "http:" || u.protocol === "https:") return u.host;
    return u.protocol.replace(/:$/, "");
  } catch {
    // Images: `registry.k8s.io/pause:3.10`; wheels from a wheelhouse: `wheelhouse/…`.
    return a.source.split("/")[0] || a.source;
  }
}

interface Opened {
  input: Inspection["input"];
  manifestBytes: Buffer;
  signature?: Buffer;
  /** Transfer only: the blobs' names (hex) and sizes. */
  members?: Map<string, number>;
  folder?: string;
}

/** The chunk list of a transfer, when `file` is one, a chunk, or a transfer beside its list. */
function chunkListOf(file: string): string | undefined {
  if (file.endsWith(CHUNKS_SUFFIX)) return file;
  if (/\.\d{3}$/.test(file) && existsSync(file.slice(0, -4) + CHUNKS_SUFFIX)) return file.slice(0, -4) + CHUNKS_SUFFIX;
  if (!existsSync(file) && existsSync(file + CHUNKS_SUFFIX)) return file + CHUNKS_SUFFIX;
  return undefined;
}

/** Positional reads over files laid end to end (a transfer's chunks). */
class Concatenated {
  private constructor(private readonly parts: { file: string; size: number; start: number }[]) {}

  static of(files: string[]): Concatenated {
    let start = 0;
    return new Concatenated(
      files.map((file) => {
        const size = statSync(file).size;
        const p = { file, size, start };
        start += size;
        return p;
      }),
    );
  }

  get size(): number {
    const last = this.parts.at(-1);
    return last ? last.start + last.size : 0;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(Math.max(0, Math.min(length, this.size - offset)));
    let done = 0;
    for (const p of this.parts) {
      if (done >= out.length) break;
      const at = offset + done;
      if (at < p.start || at >= p.start + p.size) continue;
      const fh = await open(p.file, "r");
      try {
        const n = Math.min(out.length - done, p.start + p.size - at);
        await fh.read(out, done, n, at - p.start);
        done += n;
      } finally {
        await fh.close();
      }
    }
    return out;
  }
}

/** Reads a transfer's headers: the first two members (manifest, signature) and every blob's name and size. */
async function openTransfer(file: string): Promise<Opened> {
  const list = chunkListOf(file);
  let files = [file];
  let chunks: number | undefined;
  if (list) {
    const parsed = JSON.parse(await readFile(list, "utf8")) as ChunkList;
    files = parsed.chunks.map((c) => path.join(path.dirname(list), path.basename(c.name)));
    const absent = files.filter((f) => !existsSync(f));
    if (absent.length) throw new TransferError([`the chunk list ${list} names chunks that are missing: ${absent.join(", ")}`]);
    chunks = files.length;
  } else if (!existsSync(file)) {
    throw new TransferError([`no such bundle folder, manifest or transfer file: ${file}`]);
  }
  const data = Concatenated.of(files);
  let offset = 0;
  let manifestBytes: Buffer | undefined;
  let signature: Buffer | undefined;
  const members = new Map<string, number>();
  for (;;) {
    const h = await data.read(offset, BLOCK);
    if (h.length < BLOCK) throw new TransferError([`${file}: ends inside a header at byte ${offset} (truncated?)`]);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(h.subarray(124, 136).toString("ascii").replace(/[\0 ]+$/, "").trim() || "0", 8);
    if (!Number.isFinite(size)) throw new TransferError([`${file}: damaged header at byte ${offset}`]);
    if (offset === 0 && name !== MANIFEST_FILE) throw new TransferError([`${file}: the first member is not ${MANIFEST_FILE} (not an airgap transfer file)`]);
    if (name === MANIFEST_FILE) manifestBytes = await data.read(offset + BLOCK, size);
    else if (name === SIGNATURE_FILE) signature = await data.read(offset + BLOCK, size);
    else if (name.startsWith("blobs/sha256/")) members.set(name.slice("blobs/sha256/".length), size);
    offset += BLOCK + size + padding(size);
  }
  return { input: { kind: "transfer", path: list ?? file, ...(chunks ? { chunks } : {}) }, manifestBytes: manifestBytes!, signature, members };
}

async function openInput(input: string): Promise<Opened> {
  if (existsSync(input) && statSync(input).isDirectory()) {
    const m = path.join(input, MANIFEST_FILE);
    if (!existsSync(m)) throw new TransferError([`${input} holds no ${MANIFEST_FILE}: not a bundle folder or store`]);
    const signature = await readFile(path.join(input, SIGNATURE_FILE)).catch(() => undefined);
    return { input: { kind: "bundle", path: input }, manifestBytes: await readFile(m), signature, folder: input };
  }
  if (input.endsWith(".json") && !input.endsWith(CHUNKS_SUFFIX) && existsSync(input)) {
    const signature = await readFile(`${input}.sig`).catch(() => undefined);
    return { input: { kind: "manifest", path: input }, manifestBytes: await readFile(input), signature };
  }
  return openTransfer(input);
}

/** The manifest of a bundle folder, a manifest file or a transfer (as `airgap diff` reads its two sides). */
export async function readAnyManifest(input: string): Promise<{ manifest: Manifest; opened: Opened }> {
  const opened = await openInput(input);
  return { manifest: parseManifest(opened.manifestBytes.toString("utf8")), opened };
}

/** Sums bytes over distinct digests. */
function distinct(list: Artifact[]): { blobs: number; bytes: number } {
  const seen = new Map<string, number>();
  for (const a of list) seen.set(a.sha256, a.size);
  return { blobs: seen.size, bytes: [...seen.values()].reduce((n, s) => n + s, 0) };
}

/**
 * Reads `input` (a bundle folder or store, a manifest.json, a transfer file,
 * its chunk list or a chunk) and says what it holds. With `trust`, the
 * manifest's signature is checked against that key. Throws TransferError
 * (or ManifestError) naming what cannot be read.
 */
export async function inspect(input: string, trust?: KeyObject): Promise<Inspection> {
  const { manifest, opened } = await readAnyManifest(input);
  const signature: Inspection["signature"] = !opened.signature ? "missing" : !trust ? "present" : verifyBytes(opened.manifestBytes, opened.signature, trust) ? "verified" : "bad";
  const pins = opened.folder ? await readPins(opened.folder) : undefined;
  const artifacts: InspectedArtifact[] = manifest.artifacts.map((a) => (pins ? { ...a, pin: pins.get(a.sha256) ?? "sha256" } : { ...a }));
  const kinds = ARTIFACT_KINDS.map((kind) => {
    const list = manifest.artifacts.filter((a) => a.kind === kind);
    return { kind, artifacts: list.length, bytes: distinct(list).bytes };
  }).filter((k) => k.artifacts > 0);
  const bySource = new Map<string, Artifact[]>();
  for (const a of manifest.artifacts) bySource.set(sourceOf(a), [...(bySource.get(sourceOf(a)) ?? []), a]);
  const sources = [...bySource]
    .map(([source, list]) => ({ source, artifacts: list.length, bytes: distinct(list).bytes }))
    .sort((a, b) => b.bytes - a.bytes || (a.source < b.source ? -1 : 1));
  const total = distinct(manifest.artifacts);
  let carried: Inspection["carried"];
  if (opened.members) {
    const bytes = [...opened.members.values()].reduce((n, s) => n + s, 0);
    carried = { blobs: opened.members.size, bytes, delta: opened.members.size < total.blobs };
  }
  let missingBlobs: number | undefined;
  if (opened.folder) {
    const folder = opened.folder;
    missingBlobs = [...new Set(manifest.artifacts.map((a) => a.sha256))].filter((h) => !existsSync(path.join(folder, "blobs/sha256", h))).length;
  }
  return {
    input: opened.input,
    site: manifest.site,
    sequence: manifest.sequence,
    created: manifest.created,
    manifest: createHash("sha256").update(opened.manifestBytes).digest("hex"),
    signature,
    ...(trust ? { key: keyFingerprint(trust) } : {}),
    repositories: manifest.repositories,
    kinds,
    sources,
    ...total,
    ...(carried ? { carried } : {}),
    ...(missingBlobs !== undefined ? { missingBlobs } : {}),
    artifacts,
  };
}

/** pins.json of a bundle folder, by the SHA-256 it learnt: how upstream pinned that content. */
async function readPins(folder: string): Promise<Map<string, Pin>> {
  const out = new Map<string, Pin>();
  try {
    const pins = JSON.parse(await readFile(path.join(folder, PINS_FILE), "utf8")) as Record<string, string>;
    for (const [key, sha256] of Object.entries(pins)) out.set(sha256, key.startsWith("sha512:") ? "sha512" : "first-fetch");
  } catch {
    // No pins: every artifact is pinned by its SHA-256 upstream.
  }
  return out;
}

/** One artifact's change between two manifests (by path). */
export interface Change {
  kind: ArtifactKind;
  path: string;
  name: string;
  old?: { version?: string; tag?: string; sha256: string; size: number };
  new?: { version?: string; tag?: string; sha256: string; size: number };
}

/** What `airgap diff OLD NEW` reports. */
export interface Difference {
  old: { site: string; sequence: number; manifest: string; artifacts: number };
  new: { site: string; sequence: number; manifest: string; artifacts: number };
  added: Change[];
  removed: Change[];
  changed: Change[];
  unchanged: number;
  /** What `airgap export NEW --since OLD` (or bundle --since) would carry: blobs NEW lists and OLD does not. */
  delta: { blobs: number; bytes: number };
  /** NEW's full size, for the ratio. */
  full: { blobs: number; bytes: number };
}

const brief = (a: Artifact) => ({ ...(a.version !== undefined ? { version: a.version } : {}), ...(a.tag !== undefined ? { tag: a.tag } : {}), sha256: a.sha256, size: a.size });

/** Compares two bundles (folders, manifests or transfers) by artifact path, and sizes the delta. */
export async function diff(oldInput: string, newInput: string): Promise<Difference> {
  const a = await readAnyManifest(oldInput);
  const b = await readAnyManifest(newInput);
  const before = new Map(a.manifest.artifacts.map((x) => [x.path, x]));
  const after = new Map(b.manifest.artifacts.map((x) => [x.path, x]));
  const added: Change[] = [];
  const removed: Change[] = [];
  const changed: Change[] = [];
  let unchanged = 0;
  for (const [p, n] of after) {
    const o = before.get(p);
    if (!o) added.push({ kind: n.kind, path: p, name: n.name, new: brief(n) });
    else if (o.sha256 !== n.sha256) changed.push({ kind: n.kind, path: p, name: n.name, old: brief(o), new: brief(n) });
    else unchanged++;
  }
  for (const [p, o] of before) if (!after.has(p)) removed.push({ kind: o.kind, path: p, name: o.name, old: brief(o) });
  const carry = blobsToCarry(b.manifest, a.manifest);
  const id = (x: Opened) => createHash("sha256").update(x.manifestBytes).digest("hex");
  return {
    old: { site: a.manifest.site, sequence: a.manifest.sequence, manifest: id(a.opened), artifacts: a.manifest.artifacts.length },
    new: { site: b.manifest.site, sequence: b.manifest.sequence, manifest: id(b.opened), artifacts: b.manifest.artifacts.length },
    added,
    removed,
    changed,
    unchanged,
    delta: { blobs: carry.length, bytes: carry.reduce((n, c) => n + c.size, 0) },
    full: distinct(b.manifest.artifacts),
  };
}
