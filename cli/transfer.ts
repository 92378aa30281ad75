/**
 * `airgap keygen`, `export`, `import`, `prune`: the command-line side of
 * sign.ts, transfer.ts and prune.ts. A summary on stdout (one JSON object with
 * --json), errors on stderr naming what failed; exit 0 ok, 1 refused or failed.
 */
import type { KeyObject } from "node:crypto";
import chalk from "chalk";
import { prune } from "../bundle/prune.js";
import { formatBytes, formatDuration, formatRate, ByteProgress, type ProgressStream } from "../bundle/progress.js";
import { keyFingerprint, keygen, KeyError, readPrivateKey, readPublicKey } from "../bundle/sign.js";
import { exportBundle, importTransfer, TransferError, type ExportResult } from "../bundle/transfer.js";
import { ManifestError } from "../bundle/manifest.js";

export interface Io {
  stdout: ProgressStream;
  stderr: ProgressStream;
  json?: boolean;
}

const defaultIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr });

/** Runs `fn`; known failures become a message naming what failed and exit 1. */
async function guarded(io: Io, what: string, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof TransferError || err instanceof KeyError || err instanceof ManifestError)) throw err;
    const problems = err instanceof TransferError ? err.problems : [err.message];
    if (io.json) io.stdout.write(JSON.stringify({ ok: false, problems }) + "\n");
    io.stderr.write(`${chalk.red("error")}: ${what}:\n${problems.map((p) => `  ${p}`).join("\n")}\n`);
    return 1;
  }
}

function progress(io: Io, what: string): ByteProgress | undefined {
  return io.json ? undefined : new ByteProgress(io.stderr, what);
}

export async function keygenCommand(dir: string, io: Io = defaultIo()): Promise<number> {
  return guarded(io, "keygen", async () => {
    const k = await keygen(dir);
    if (io.json) io.stdout.write(JSON.stringify({ ok: true, privateKey: k.privateKey, publicKey: k.publicKey, fingerprint: k.fingerprint }) + "\n");
    else
      io.stdout.write(
        `wrote ${k.privateKey} (private, mode 0600: keep it on the bastion) and ${k.publicKey} (public, key ${k.fingerprint})\n` +
          `sign bundles with: airgap bundle site.ts -o DIR --key ${k.privateKey}\n` +
          `trust it in the site: services.repos.trustedKey = "<path of ${k.publicKey} relative to site.ts>"\n`,
      );
    return 0;
  });
}

export async function exportCommand(
  o: { dir: string; file: string; since?: string; split?: number; key?: string },
  io: Io = defaultIo(),
): Promise<number> {
  return guarded(io, `export of ${o.dir}`, async () => {
    const key = o.key ? await readPrivateKey(o.key) : undefined;
    const r = await exportBundle({ dir: o.dir, file: o.file, since: o.since, split: o.split, key, progress: progress(io, "export") });
    reportExport(r, io);
    return 0;
  });
}

export function reportExport(r: ExportResult, io: Io): void {
  if (io.json) {
    io.stdout.write(JSON.stringify({ ok: true, ...r, ratio: r.fullBytes ? r.bytes / r.fullBytes : 1 }) + "\n");
    return;
  }
  const delta = r.skipped ? `, ${r.skipped} blobs left out (in the old manifest)` : "";
  io.stdout.write(`wrote ${r.files.join(", ")}: ${r.blobs} blobs, ${formatBytes(r.bytes)}${delta}\n`);
}

/**
 * `airgap import`: `inputs` (the transfer file, its chunk list or a chunk)
 * into `store`, trusting the public key file `trust`; `site` (optional) and
 * the store's own site bind the bundle's site; `allowRollback` accepts an
 * older sequence (logged in STORE/import.log and on stderr). Exit code 0 or 1.
 */
export async function importCommand(o: { inputs: string[]; store: string; trust: string; site?: string; allowRollback?: boolean }, io: Io = defaultIo()): Promise<number> {
  return guarded(io, `import refused, the store ${o.store} is unchanged`, async () => {
    const trust: KeyObject = await readPublicKey(o.trust);
    const onSignal = (signal: NodeJS.Signals) => {
      io.stderr.write(`\ninterrupted (${signal}): the store is unchanged; the blobs verified so far stay in ${o.store}/.import, run again to resume\n`);
      process.exit(130);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    let r;
    try {
      r = await importTransfer({ inputs: o.inputs, store: o.store, trust, site: o.site, allowRollback: o.allowRollback, progress: progress(io, "import") });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    if (r.rollback) io.stderr.write(`${chalk.yellow("warning")}: ${r.rollback} (logged in ${o.store}/import.log)\n`);
    if (io.json) io.stdout.write(JSON.stringify({ ok: true, ...r, key: keyFingerprint(trust) }) + "\n");
    else if (r.unchanged)
      io.stdout.write(`the store ${r.store} already holds this bundle (site "${r.site}", sequence ${r.sequence}, manifest ${r.manifest.slice(0, 16)}): nothing changed\n`);
    else
      io.stdout.write(
        `imported site "${r.site}" into ${r.store}: sequence ${r.sequence} created ${r.created}, manifest ${r.manifest.slice(0, 16)} (${r.artifacts} artifacts, signed by ${keyFingerprint(trust)}); ` +
          `${r.added} blobs added (${formatBytes(r.addedBytes)}${r.resumed ? `, ${r.resumed} verified by an earlier interrupted run` : ""}), ` +
          `${r.present} already in the store; ${formatBytes(r.bytes)} read in ${formatDuration(r.ms)} (${formatRate(r.bytes, r.ms)})\n`,
      );
    return 0;
  });
}

export async function pruneCommand(o: { store: string; keep?: number; dryRun?: boolean }, io: Io = defaultIo()): Promise<number> {
  return guarded(io, `prune of ${o.store}`, async () => {
    const r = await prune(o);
    if (io.json) io.stdout.write(JSON.stringify({ ok: true, ...r }) + "\n");
    else
      io.stdout.write(
        `${r.dryRun ? "would remove" : "removed"} ${r.removedBlobs} blobs (${formatBytes(r.removedBytes)}) and ${r.removedManifests.length} old manifests from ${r.store}; ` +
          `kept ${r.keptBlobs} blobs of ${r.keptManifests.length} manifest${r.keptManifests.length === 1 ? "" : "s"}\n`,
      );
    return 0;
  });
}
