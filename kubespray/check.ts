/**
 * `airgap check site.ts`: every URL and image Kubespray will use for the site
 * is served by the site (the compile already refuses a leak), is in the
 * bundle's manifest when one is given, and, with a Kubespray checkout, the
 * checkout's own rendering of its downloads agrees.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import type { KubesprayModel } from "../compile/components/kubespray.js";
import type { HelmModel } from "../compile/components/helm.js";
import { escapeModule } from "../compile/components/gomod.js";
import type { GoproxyModel } from "../compile/components/goproxy.js";
import type { Diagnostic } from "../compile/diagnostics.js";
import { synth } from "../compile/synth.js";
import type { KubesprayArtifacts } from "../compile/kubespray/artifacts.js";
import { normalizeRepo } from "../compile/kubespray/catalogue.js";
import { missingFromManifest, resolveRefs, type ManifestLike, type Missing } from "../compile/kubespray/offline.js";
import { sourceCommit, sourcePath } from "../compile/kubespray/source.js";
import { checkoutReader, renderLive, type LiveHost } from "./render.js";
import { truthy } from "../compile/kubespray/condition.js";

export interface LiveReport {
  /** Hosts rendered. */
  hosts: number;
  /** URLs and images the checkout would fetch from outside the site. */
  leaks: string[];
  /** What the checkout fetches that airgap's list lacks, and the reverse. */
  notListed: string[];
  notFetched: string[];
}

export interface CheckResult {
  errors: Diagnostic[];
  siteName?: string;
  kubespray?: KubesprayModel;
  /** The compiled project (for the live check). */
  files: Map<string, string>;
  missing: Missing[];
  /** The site's helm service, when it has one. */
  helm?: HelmModel;
  /** Its charts (archive, metadata) and listed images the bundle lacks (with a manifest). */
  charts: Missing[];
  /** The site's goproxy service, when it has one. */
  goproxy?: GoproxyModel;
  /** Its listed modules' files and checksum database answers the bundle lacks (with a manifest). */
  goModules: Missing[];
  live?: LiveReport;
}

/**
 * What the goproxy service needs in the bundle and the manifest lacks: for
 * each listed module, its `.mod`, `.info`, `.zip` and sum.golang.org's
 * answer under `goproxy/`, and `goproxy/go.sum` (the build lists of its
 * go.mod files are known only to the go command on the bastion).
 */
export function missingGoModules(g: GoproxyModel, m: ManifestLike): Missing[] {
  const files = new Set<string>();
  for (const a of m.artifacts ?? []) if (a.kind === "file" && a.path) files.add(a.path);
  const out: Missing[] = [];
  const variable = "(none: goproxy.modules in the site file)";
  const fix = "run airgap bundle again with this site";
  for (const mod of g.modules) {
    const base = `goproxy/${escapeModule(mod.path)}/@v/${escapeModule(mod.version)}`;
    for (const p of [`${base}.mod`, `${base}.info`, `${base}.zip`, `goproxy/sumdb/sum.golang.org/lookup/${escapeModule(mod.path)}@${escapeModule(mod.version)}`]) {
      if (!files.has(p)) out.push({ kind: "file", what: `${p} (module ${mod.path}@${mod.version})`, variable, why: "not in the bundle", fix });
    }
  }
  if ((g.modules.length || g.goMods.length) && !files.has("goproxy/go.sum")) out.push({ kind: "file", what: "goproxy/go.sum (the go.sum lines carried)", variable, why: "not in the bundle", fix });
  return out;
}

/**
 * What the helm service needs in the bundle and the manifest lacks: each
 * chart's archive and metadata (`charts/<name>-<version>.tgz`, `.tgz.json`;
 * a pinned archive with another SHA-256) and each listed image.
 */
export function missingCharts(helm: HelmModel, m: ManifestLike): Missing[] {
  const files = new Map<string, { sha256?: string }>();
  const images = new Set<string>();
  for (const a of m.artifacts ?? []) {
    if (a.kind === "file" && a.path) files.set(a.path, a);
    if (a.kind === "image") for (const k of [a.source, a.name && a.tag ? `${a.name}:${a.tag}` : undefined]) if (k) images.add(k);
  }
  const out: Missing[] = [];
  const variable = "(none: helm.charts in the site file)";
  for (const c of helm.charts) {
    for (const p of [c.path, `${c.path}.json`]) {
      const got = files.get(p);
      const what = `${p} (chart ${c.name} ${c.version} from ${c.repo})`;
      if (!got) out.push({ kind: "file", what, variable, why: "not in the bundle", fix: "run airgap bundle again with this site" });
      else if (p === c.path && c.sha256 && got.sha256 !== c.sha256) {
        out.push({ kind: "file", what, variable, why: `its sha256 is ${got.sha256}, the site pins ${c.sha256}`, fix: "run airgap bundle again with this site" });
      }
    }
    for (const i of c.images) {
      if ([i.source, `docker://${i.source}`].some((k) => images.has(k))) continue;
      out.push({ kind: "image", what: `${i.source} (chart ${c.name} ${c.version})`, variable, why: "not in the bundle", fix: `add ${i.source}, pushed as <registry_host>/${i.target}: run airgap bundle again` });
    }
  }
  return out;
}

/** What Kubespray would fetch, per its own rendering for each host of the compiled inventory. */
export function liveFetches(hosts: LiveHost[]): { files: Map<string, string>; images: Map<string, string> } {
  const files = new Map<string, string>();
  const images = new Map<string, string>();
  for (const h of hosts) {
    const inCluster = h.groups.includes("k8s_cluster") || h.groups.includes("kube_control_plane") || h.groups.includes("kube_node");
    for (const [name, d] of Object.entries(h.downloads)) {
      if (!truthy(d.enabled)) continue;
      const groups = (d.groups ?? []) as string[];
      if (!groups.some((g) => h.groups.includes(g))) continue;
      if (truthy(d.container)) images.set(`${normalizeRepo(String(d.repo))}:${d.tag}`, name);
      else if (truthy(d.file ?? false) && typeof d.url === "string") files.set(d.url, name);
    }
    if (inCluster) for (const ref of h.kubeadm) images.set(ref, "kubeadm");
  }
  return { files, images };
}

/** Compares the checkout's rendering with airgap's list and the site's services. */
export function compareLive(hosts: LiveHost[], list: KubesprayArtifacts, vars: Record<string, unknown>): LiveReport {
  const filesRepo = resolveRefs(vars.files_repo, vars);
  const registry = resolveRefs(vars.registry_host, vars);
  const live = liveFetches(hosts);
  const leaks: string[] = [];
  for (const [url, name] of live.files) if (!filesRepo || !url.startsWith(`${filesRepo}/`)) leaks.push(`file ${name}: ${url}`);
  for (const [ref, name] of live.images) if (!registry || !ref.startsWith(`${registry}/`)) leaks.push(`image ${name}: ${ref}`);
  // airgap's list, as the site serves it (additions of airgap's own are not in Kubespray's downloads).
  const ours = new Map<string, string>();
  for (const f of list.files) if (f.origin !== "airgap" && filesRepo) ours.set(`${filesRepo}/${f.path.slice("files/".length)}`, f.name);
  for (const i of list.images) if (i.origin !== "airgap" && registry) ours.set(`${registry}/${i.target}`, i.name);
  const theirs = new Map<string, string>([...live.files, ...live.images]);
  const notListed = [...theirs].filter(([k]) => !ours.has(k)).map(([k, n]) => `${n}: ${k}`).sort();
  const notFetched = [...ours].filter(([k]) => !theirs.has(k)).map(([k, n]) => `${n}: ${k}`).sort();
  return { hosts: hosts.length, leaks: leaks.sort(), notListed, notFetched };
}

/** Writes the compiled inventory into a scratch folder and renders Kubespray's downloads from it. */
export function renderCompiled(checkout: string, files: Map<string, string>): LiveHost[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-check-"));
  try {
    for (const [f, content] of files) {
      if (!f.startsWith("inventory/")) continue;
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), content);
    }
    return renderLive(checkout, path.join(dir, "inventory/hosts.yml"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CheckOptions {
  /** A bundle manifest (`DIR/manifest.json`). */
  manifest?: string;
  /** A Kubespray checkout to render the downloads with (default: the site's `kubespray.checkout`). */
  kubespray?: string;
}

export async function checkSite(siteFile: string, o: CheckOptions = {}): Promise<CheckResult> {
  const file = path.resolve(siteFile);
  const r = await synth(file, { checkouts: checkoutReader });
  if (r.errors.length > 0 || !r.site) return { errors: r.errors, siteName: r.siteName, files: r.files, missing: [], charts: [], goModules: [] };
  const kubespray = r.site.models.kubespray;
  const helm = r.site.models.helm;
  const goproxy = r.site.models.goproxy;
  const result: CheckResult = { errors: [], siteName: r.siteName, kubespray, helm, goproxy, files: r.files, missing: [], charts: [], goModules: [] };
  let m: ManifestLike | undefined;
  if (o.manifest) {
    m = JSON.parse(readFileSync(o.manifest, "utf8")) as ManifestLike;
    if (!m || !Array.isArray(m.artifacts)) throw new Error(`${o.manifest}: not a bundle manifest (no artifacts list)`);
    if (helm) result.charts = missingCharts(helm, m);
    if (goproxy) result.goModules = missingGoModules(goproxy, m);
  }
  if (!kubespray) return result;
  if (m) {
    result.missing = missingFromManifest(kubespray.artifacts, m);
    // The release's source (the controller's kit), when the catalogue pins its commit.
    const commit = sourceCommit(kubespray.catalogue);
    const src = sourcePath(kubespray.version);
    if (commit && !m.artifacts.some((a) => a.kind === "file" && a.path === src)) {
      result.missing.push({
        kind: "file", what: `${src} (Kubespray ${kubespray.version}'s source, commit ${commit})`, variable: "(none: the controller's kit)", why: "not in the bundle",
        fix: `run airgap bundle again with a Kubespray checkout that holds the commit (--kubespray DIR, kubespray.checkout or KUBESPRAY_DIR)`,
      });
    }
  }
  const checkout = o.kubespray ?? (kubespray.checkout ? path.resolve(path.dirname(file), kubespray.checkout) : undefined);
  if (checkout) {
    const vars = { ...kubespray.vars };
    const offline = r.files.get("inventory/group_vars/all/kubespray-offline.yml");
    if (offline) Object.assign(vars, parse(offline, { version: "1.1" }) as Record<string, unknown>);
    result.live = compareLive(renderCompiled(checkout, r.files), kubespray.artifacts, vars);
  }
  return result;
}
