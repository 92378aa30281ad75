/**
 * `airgap prune --store DIR`: removes the blobs no kept manifest references.
 * Kept: the current `manifest.json` and the newest `--keep N` manifests under
 * `manifests/` (the ones `airgap import` records, the current one counted);
 * older recorded manifests are removed with their blobs. A bundle folder on
 * the bastion has no `manifests/`: only its current manifest is kept.
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { MANIFEST_FILE, parseManifest } from "./manifest.js";
import { BLOB_DIR } from "./store.js";
import { MANIFESTS_DIR, TransferError } from "./transfer.js";
import { createHash } from "node:crypto";

export interface PruneResult {
  store: string;
  keptManifests: string[];
  removedManifests: string[];
  removedBlobs: number;
  removedBytes: number;
  keptBlobs: number;
  dryRun: boolean;
}

export async function prune(o: { store: string; keep?: number; dryRun?: boolean }): Promise<PruneResult> {
  const keep = Math.max(1, o.keep ?? 2);
  const currentBytes = await readFile(path.join(o.store, MANIFEST_FILE)).catch(() => undefined);
  if (!currentBytes) throw new TransferError([`${o.store} holds no ${MANIFEST_FILE}: nothing says which blobs are in use, nothing removed`]);
  const current = createHash("sha256").update(currentBytes).digest("hex");
  const recorded = await readdir(path.join(o.store, MANIFESTS_DIR)).catch(() => [] as string[]);
  const dated = await Promise.all(
    recorded
      .filter((f) => /^[0-9a-f]{64}\.json$/.test(f))
      .map(async (f) => ({ id: f.slice(0, 64), mtime: (await stat(path.join(o.store, MANIFESTS_DIR, f))).mtimeMs })),
  );
  // Newest first; the current one is always kept and counts towards --keep.
  const others = dated.filter((d) => d.id !== current).sort((a, b) => b.mtime - a.mtime || (a.id < b.id ? -1 : 1));
  const kept = [current, ...others.slice(0, keep - 1).map((d) => d.id)];
  const dropped = others.slice(keep - 1).map((d) => d.id);
  const referenced = new Set<string>();
  for (const id of kept) {
    const bytes = id === current ? currentBytes : await readFile(path.join(o.store, MANIFESTS_DIR, `${id}.json`));
    for (const a of parseManifest(bytes.toString("utf8")).artifacts) referenced.add(a.sha256);
  }
  const blobs = await readdir(path.join(o.store, BLOB_DIR)).catch(() => [] as string[]);
  let removedBlobs = 0;
  let removedBytes = 0;
  for (const hex of blobs) {
    if (referenced.has(hex)) continue;
    const file = path.join(o.store, BLOB_DIR, hex);
    removedBytes += (await stat(file)).size;
    removedBlobs++;
    if (!o.dryRun) await rm(file, { force: true });
  }
  if (!o.dryRun) {
    for (const id of dropped) for (const f of [`${id}.json`, `${id}.json.sig`]) await rm(path.join(o.store, MANIFESTS_DIR, f), { force: true });
  }
  return {
    store: o.store,
    keptManifests: kept,
    removedManifests: dropped,
    removedBlobs,
    removedBytes,
    keptBlobs: blobs.length - removedBlobs,
    dryRun: o.dryRun ?? false,
  };
}
