/** Shared by the Kubespray tests: example sites pinned to a release, compiled in memory. */
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadCatalogue } from "../../compile/kubespray/catalogue.js";
import type { KubesprayArtifacts } from "../../compile/kubespray/index.js";
import { checkSite, type CheckResult } from "../../kubespray/check.js";
import { EXAMPLES } from "../helpers.js";

/** The examples that deploy Kubernetes from a shipped catalogue (not the lab's, tied to its stand-in catalogue file). */
export const KUBESPRAY_EXAMPLES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".ts"))
  .filter((f) => {
    const text = readFileSync(path.join(EXAMPLES, f), "utf8");
    return /kubespray:\s*\{/.test(text) && !/kubespray:\s*\{[^}]*catalogue:/.test(text);
  })
  .sort();

/** Replaces the first `key: "…"` after `kubespray:`. */
function setKey(text: string, key: string, value: string): string {
  const at = text.indexOf("kubespray:");
  const rest = text.slice(at).replace(new RegExp(`${key}:\\s*"[^"]*"`), `${key}: "${value}"`);
  return text.slice(0, at) + rest;
}

/** Adds settings to the kubespray block (as written after `kubespray: {`). */
function addSettings(text: string, settings: string): string {
  return text.replace(/kubespray:\s*\{/, (m) => `${m} ${settings},`);
}

/** The example's Kubernetes version when the release supports it, else the release's default. */
export function kubernetesFor(example: string, release: string): string {
  const text = readFileSync(path.join(EXAMPLES, example), "utf8");
  const own = /kubespray:\s*\{[\s\S]*?kubernetes:\s*"([^"]+)"/.exec(text)?.[1] ?? "";
  const c = loadCatalogue(release)!;
  return c.kubernetes.supported.includes(own) ? own : c.kubernetes.default;
}

/** Writes the example, pinned to a release (and optional extra settings, then an edit of the text), into a scratch folder. */
export function pinnedSite(example: string, release: string, extra?: string, kubernetes?: string, edit?: (text: string) => string): string {
  let text = readFileSync(path.join(EXAMPLES, example), "utf8");
  text = setKey(text, "version", release);
  text = setKey(text, "kubernetes", kubernetes ?? kubernetesFor(example, release));
  if (extra) text = addSettings(text, extra);
  if (edit) text = edit(text);
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-ks-test-"));
  const file = path.join(dir, example);
  writeFileSync(file, text);
  // The files the examples name relative to themselves (plant.ts's tools/go.mod).
  for (const e of readdirSync(EXAMPLES, { withFileTypes: true })) if (e.isDirectory()) cpSync(path.join(EXAMPLES, e.name), path.join(dir, e.name), { recursive: true });
  return file;
}

export async function check(file: string): Promise<CheckResult> {
  return checkSite(file);
}

/** A manifest as `airgap bundle` writes it (docs/bundle.md), holding the list. */
export function manifestOf(site: string, a: KubesprayArtifacts) {
  return {
    format: 1,
    site,
    repositories: [],
    artifacts: [
      ...a.files.map((f) => ({ kind: "file", name: path.posix.basename(f.path), source: f.url, path: f.path, size: 1, sha256: f.sha256 ?? "0".repeat(64) })),
      ...a.images.map((i) => ({
        kind: "image", name: i.source.slice(0, -(i.tag.length + 1)), tag: i.tag, source: `docker://${i.source}`,
        path: `oci/refs/${i.source}`, size: 1, sha256: "1".repeat(64),
      })),
    ],
  };
}
