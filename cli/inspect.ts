/**
 * `airgap inspect` and `airgap diff`: the command-line side of
 * bundle/inspect.ts (and the SBOM of bundle/sbom.ts). A summary on stdout
 * (one JSON object with --json), errors on stderr; exit 0, or 1 when the input
 * cannot be read (or, with --trust, its signature does not verify).
 */
import chalk from "chalk";
import { diff, inspect, type Change, type Inspection } from "../bundle/inspect.js";
import { artifactLabel } from "../bundle/download.js";
import { ManifestError } from "../bundle/manifest.js";
import { formatBytes } from "../bundle/progress.js";
import { serializeSbom } from "../bundle/sbom.js";
import { KeyError, readPublicKey } from "../bundle/sign.js";
import { TransferError } from "../bundle/transfer.js";
import { readAnyManifest } from "../bundle/inspect.js";
import type { Io } from "./transfer.js";

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

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => "  " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
}

function describe(r: Inspection): string {
  const what = r.input.kind === "transfer" ? `transfer ${r.input.path}${r.input.chunks ? ` (${r.input.chunks} chunks)` : ""}` : `${r.input.kind} ${r.input.path}`;
  const sig = {
    verified: chalk.green(`signed, verified by key ${r.key}`),
    present: "signed (not checked: give --trust PUB)",
    missing: chalk.yellow("unsigned: airgap import refuses it"),
    bad: chalk.red(`signature does NOT verify against key ${r.key}`),
  }[r.signature];
  return `${what}: site "${r.site}", bundle ${r.sequence} (${r.created}), manifest ${r.manifest.slice(0, 16)}, ${sig}`;
}

export async function inspectCommand(o: { input: string; trust?: string; list?: boolean; sbom?: boolean }, io: Io): Promise<number> {
  return guarded(io, `cannot inspect ${o.input}`, async () => {
    const trust = o.trust ? await readPublicKey(o.trust) : undefined;
    if (o.sbom) {
      const { manifest, opened } = await readAnyManifest(o.input);
      io.stdout.write(serializeSbom(manifest, opened.manifestBytes));
      return 0;
    }
    const r = await inspect(o.input, trust);
    const bad = r.signature === "bad";
    if (io.json) {
      io.stdout.write(JSON.stringify({ ok: !bad, ...r }) + "\n");
      return bad ? 1 : 0;
    }
    const lines = [describe(r)];
    const rows = [["kind", "artifacts", "size"], ...r.kinds.map((k) => [k.kind, String(k.artifacts), formatBytes(k.bytes)]), ["total", String(r.artifacts.length), `${formatBytes(r.bytes)} in ${r.blobs} blobs`]];
    lines.push(...table(rows));
    if (r.repositories.length) lines.push(`repositories: ${r.repositories.map((p) => `${p.kind} ${p.release}${p.suite ? ` (${p.suite})` : ""} ${p.architectures.join(",")} at ${p.path}/`).join("; ")}`);
    lines.push(`sources: ${r.sources.map((s) => `${s.source} ${s.artifacts} (${formatBytes(s.bytes)})`).join(", ")}`);
    const pins = r.artifacts.filter((a) => a.pin && a.pin !== "sha256");
    if (pins.length) lines.push(`pinned otherwise than by an upstream SHA-256: ${pins.map((a) => `${a.path} (${a.pin === "sha512" ? "upstream SHA-512, verified" : "no upstream checksum: kept as first fetched"})`).join(", ")}`);
    if (r.carried) lines.push(`carries ${r.carried.blobs} of its ${r.blobs} blobs (${formatBytes(r.carried.bytes)})${r.carried.delta ? ": a delta, it imports only over a store that holds the rest" : ""}`);
    if (r.missingBlobs) lines.push(chalk.yellow(`${r.missingBlobs} listed blobs are not in ${r.input.path}/blobs (incomplete bundle)`));
    if (o.list) {
      lines.push("artifacts:");
      for (const a of r.artifacts) lines.push(`  ${artifactLabel(a)}${a.tag ? ` ${a.tag}` : ""}  ${formatBytes(a.size)}  ${a.path}  sha256:${a.sha256.slice(0, 12)}${a.pin && a.pin !== "sha256" ? ` (${a.pin})` : ""}  ${a.source}`);
    }
    io.stdout.write(lines.join("\n") + "\n");
    if (bad) io.stderr.write(`${chalk.red("error")}: the manifest of ${o.input} is not signed by the key ${o.trust}\n`);
    return bad ? 1 : 0;
  });
}

function changeLine(sign: string, c: Change): string {
  const v = (x?: { version?: string; tag?: string; sha256: string; size: number }) => (x ? x.version ?? x.tag ?? `sha256:${x.sha256.slice(0, 12)}` : "");
  if (c.old && c.new) return `  ${sign} ${c.kind} ${c.name} ${v(c.old)} → ${v(c.new)} (${formatBytes(c.new.size)})  ${c.path}`;
  const x = (c.new ?? c.old)!;
  return `  ${sign} ${c.kind} ${c.name} ${v(x)} (${formatBytes(x.size)})  ${c.path}`;
}

export async function diffCommand(o: { old: string; new: string }, io: Io): Promise<number> {
  return guarded(io, `cannot compare ${o.old} and ${o.new}`, async () => {
    const d = await diff(o.old, o.new);
    if (io.json) {
      io.stdout.write(JSON.stringify({ ok: true, ...d }) + "\n");
      return 0;
    }
    const site = d.old.site === d.new.site ? `site "${d.new.site}"` : `sites "${d.old.site}" → "${d.new.site}"`;
    const lines = [`${o.old} → ${o.new} (${site}, bundle ${d.old.sequence} → ${d.new.sequence}): ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`];
    lines.push(...d.added.map((c) => changeLine(chalk.green("+"), c)));
    lines.push(...d.removed.map((c) => changeLine(chalk.red("-"), c)));
    lines.push(...d.changed.map((c) => changeLine(chalk.yellow("~"), c)));
    const ratio = d.full.bytes ? ` (${((100 * d.delta.bytes) / d.full.bytes).toFixed(1)}% of the full ${formatBytes(d.full.bytes)})` : "";
    lines.push(`a delta (export --since the old manifest) would carry ${d.delta.blobs} blobs, ${formatBytes(d.delta.bytes)}${ratio}`);
    io.stdout.write(lines.join("\n") + "\n");
    return 0;
  });
}
