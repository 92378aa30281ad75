/**
 * `airgap bundle site.ts -o DIR`: works out what the site needs carried into
 * the air gap (OS packages with their dependency closure, plain files),
 * fetches what the store lacks, verifies every byte, then writes the manifest.
 * Exit 0 ok, 1 invalid site or failed resolution or download, 2 usage.
 *
 * The manifest is written last and only when every artifact is in the store,
 * so a bundle folder always holds a manifest whose blobs are all present.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { KeyObject } from "node:crypto";
import os from "node:os";
import path from "node:path";
import chalk from "chalk";
import type { SiteModels } from "../compile/components/index.js";
import { formatDiagnostics } from "../compile/diagnostics.js";
import type { CoreModel, HostModel } from "../compile/model/site.js";
import { compareText } from "../compile/model/context.js";
import { synth, type SynthSite } from "../compile/synth.js";
import { checkoutReader } from "../kubespray/render.js";
import { AptError, AptRoot, MIRROR_NAMES, resolveMirrors, type DebPackage, type MirrorName, type MirrorOrigin, type Mirrors } from "./apt.js";
import { artifactLabel, download, DownloadError, downloadPinned, mirrorUrl, probeSize } from "./download.js";
import {
  ARTIFACT_KINDS,
  buildManifest,
  MANIFEST_FILE,
  ManifestError,
  parseManifest,
  serializeManifest,
  SIGNATURE_FILE,
  type Artifact,
  type Manifest,
  type ArtifactKind,
  type Repository,
} from "./manifest.js";
import { SBOM_FILE, serializeSbom } from "./sbom.js";
import { packagesByHost, packageTargets, type PackageTarget } from "./packages.js";
import { planWheels, WheelError } from "./wheels.js";
import { planKubespraySource, SourceError } from "./kubespray-source.js";
import { KitError, planKit } from "./kit.js";
import { ChartError, planCharts } from "./charts.js";
import { GOPROXY_PREFIX, GoModuleError, planGoModules } from "./gomodules.js";
import { copyImages, ImageError, imageRequests, imageSummary, probeImages, type ImageRequest, type ImageResult } from "./images.js";
import { formatBytes, formatDuration, formatRate, Progress, type ProgressStream } from "./progress.js";
import { Store } from "./store.js";
import { writeAtomic } from "./files.js";
import { readPrivateKey, signBytes, KeyError } from "./sign.js";
import { exportBundle, TransferError, type ExportResult } from "./transfer.js";
import { reportExport } from "../cli/transfer.js";
import { rm } from "node:fs/promises";

export interface BundleOptions {
  site: string;
  /** Bundle folder. Required unless `dryRun`. */
  out?: string;
  /** Print what would be fetched, per kind, and write nothing. */
  dryRun?: boolean;
  /** Local mirror of the plain files, laid out as `<host>/<path>`; read instead of their URLs. */
  filesFrom?: string;
  /** Mirror overrides (`--mirror debian=URL`). */
  mirrors?: Partial<Mirrors>;
  /** Where apt keeps its indexes between runs. @default $AIRGAP_CACHE, else $XDG_CACHE_HOME/airgap, else ~/.cache/airgap */
  cache?: string;
  /** Also carry the minimal system's own packages (for hosts installed from older media). */
  includeBase?: boolean;
  /** Parallel downloads (and image copies). @default 4 */
  jobs?: number;
  /** CA certificates (`*.crt`) of upstream registries, for skopeo's --src-cert-dir. */
  certDir?: string;
  /** Credentials for upstream registries (containers-auth.json), for skopeo's --src-authfile. */
  authFile?: string;
  /** Private key (airgap keygen) signing the manifest: manifest.json.sig. */
  key?: string;
  /** Then write the transfer file (bundle/transfer.ts). */
  exportTo?: string;
  /** With `exportTo`: carry only the blobs this older manifest does not list. */
  since?: string;
  /** With `exportTo`: chunks of this many bytes. */
  split?: number;
  /**
   * The bundle's sequence (manifest `sequence`): above the bundle folder's
   * last manifest. @default one more than that manifest's when the content
   * changed (kept when it did not), 1 in a new folder
   */
  sequence?: number;
  /** The time written as `created` for new content. @default now */
  now?: Date;
  /** Machine-readable summary (and dry run) on stdout, no progress. */
  json?: boolean;
  stdout?: ProgressStream;
  stderr?: ProgressStream;
  env?: NodeJS.ProcessEnv;
  /** Mirrors found in this machine's APT sources (tests pass their own). */
  systemMirrors?: Partial<Mirrors>;
  /**
   * The Kubespray checkout whose commit (the catalogue's) the bundle archives
   * as the release's source. @default the site's `kubespray.checkout`, else $KUBESPRAY_DIR
   */
  kubespray?: string;
  /** Carry no Kubespray source (the controller inside gets it elsewhere). @default false */
  noKubespraySource?: boolean;
  /**
   * Carry the controller's kit (bundle/kit.ts: Ansible and pip wheels, Node.js,
   * airgap itself). The CLI carries it unless `--no-kit`. @default false
   */
  kit?: boolean;
  /** The index the kit's wheels come from. @default $AIRGAP_KIT_INDEX, else https://pypi.org/simple/ */
  kitIndex?: string;
}

/** An artifact to be in the store: its size is unknown for plain files until fetched. */
export interface Planned extends Omit<Artifact, "size"> {
  size?: number;
  /** Where it is fetched from: `source`, or its copy in a local mirror. */
  fetchUrl: string;
  /**
   * Set when upstream pins the content otherwise than by SHA-256 (Kubespray:
   * a SHA-512, or nothing): `sha256` is empty until `resolvePins` learns it.
   */
  pin?: { sha512?: string };
}

export interface Plan {
  site: string;
  repositories: Repository[];
  artifacts: Planned[];
  /** Container images, copied with skopeo into the store (their digests are known once copied). */
  images: ImageRequest[];
  /** Scratch folders holding artifacts made here (Kubespray's source archive); removed once the store has them. */
  scratch: string[];
}

/** `--mirror NAME=URL` options, or the usage error they make. */
export function parseMirrorOptions(list: string[]): Partial<Mirrors> | string {
  const out: Partial<Mirrors> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    const name = item.slice(0, eq) as MirrorName;
    const url = item.slice(eq + 1);
    if (eq < 0 || !MIRROR_NAMES.includes(name)) return `--mirror ${item}: write NAME=URL, NAME one of ${MIRROR_NAMES.join(", ")}`;
    try {
      if (!["http:", "https:", "file:"].includes(new URL(url).protocol)) throw new Error();
    } catch {
      return `--mirror ${item}: "${url}" is not an http(s) or file URL`;
    }
    out[name] = url;
  }
  return out;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AIRGAP_CACHE) return env.AIRGAP_CACHE;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "airgap");
}

/** Where a .deb goes in the served tree: `<distribution>/pool/<suite>/<file>`. */
export function debPath(os: HostModel["os"], file: string): string {
  return `${os.distribution}/pool/${os.codename}/${file}`;
}

export function debArtifact(os: HostModel["os"], d: DebPackage): Planned {
  return {
    kind: "deb",
    name: d.name,
    version: d.version,
    arch: d.arch,
    release: os.release,
    source: d.url,
    path: debPath(os, d.file),
    size: d.size,
    sha256: d.sha256,
    fetchUrl: d.url,
  };
}

/**
 * The plain files: the site's own (`repos.files`) and Kubespray's binaries,
 * placed under `files/` as Kubespray's files_repo lays them out. A Kubespray
 * file pinned by SHA-512 (gVisor) is verified by it and stored under its
 * SHA-256; one pinned by nothing (Cilium's chart and index) is stored as
 * first fetched, and said so.
 */
export function fileArtifacts(models: SiteModels, filesFrom?: string, log?: Log): Planned[] {
  type File = { url: string; sha256: string; path: string; pin?: Planned["pin"] };
  const site = (models.repos?.files ?? []).map((f): File => ({ url: f.url, sha256: f.sha256, path: `files/${f.path}` }));
  const kubespray = (models.kubespray?.artifacts.files ?? []).map((f): File => {
    if (f.sha256) return { url: f.url, sha256: f.sha256, path: f.path };
    const sha512 = f.checksum?.startsWith("sha512:") ? f.checksum.slice("sha512:".length) : undefined;
    if (!sha512) log?.info(`note: Kubespray pins no checksum for ${f.url}: the bundle keeps the content it first fetched (its sha256 in the manifest)`);
    return { url: f.url, sha256: "", path: f.path, pin: sha512 ? { sha512 } : {} };
  });
  return [...site, ...kubespray].map((f) => ({
    kind: "file" as const,
    name: path.posix.basename(new URL(f.url).pathname),
    source: f.url,
    path: f.path,
    sha256: f.sha256,
    fetchUrl: filesFrom ? mirrorUrl(filesFrom, f.url) : f.url,
    ...(f.pin ? { pin: f.pin } : {}),
  }));
}

/** The key under which the store remembers a pinned file's SHA-256. */
function pinKey(a: Planned): string {
  return a.pin?.sha512 ? `sha512:${a.pin.sha512}` : `url:${a.source}`;
}

/**
 * Gives each file pinned otherwise than by SHA-256 its SHA-256: from what an
 * earlier run learnt (when the store still holds the content), else by
 * fetching it (SHA-512 verified). Returns the failures.
 */
export async function resolvePins(store: Store, planned: Planned[], log: Log, env?: NodeJS.ProcessEnv): Promise<DownloadError[]> {
  const pins = await store.readPins();
  const failures: DownloadError[] = [];
  for (const a of planned.filter((x) => x.pin)) {
    const known = pins[pinKey(a)];
    if (known && (await store.check({ sha256: known })).state === "ok") {
      a.sha256 = known;
      continue;
    }
    const label = artifactLabel(a);
    try {
      const got = await downloadPinned(store, label, a.fetchUrl, a.pin!, { env });
      log.info(`fetched ${label} (${a.pin!.sha512 ? "Kubespray's sha512 verified" : "no upstream checksum"}): sha256 ${got.sha256}`);
      a.sha256 = got.sha256;
      pins[pinKey(a)] = got.sha256;
    } catch (err) {
      failures.push(err instanceof DownloadError ? err : new DownloadError(label, a.fetchUrl, (err as Error).message));
    }
  }
  if (planned.some((x) => x.pin)) await store.writePins(pins);
  return failures;
}

interface Log {
  info(s: string): void;
  error(s: string, hint?: string): void;
}

/** Resolves the .debs of one release and architecture. */
async function resolveApt(t: PackageTarget, cache: string, mirrors: Mirrors, includeBase: boolean, log: Log): Promise<{ debs: Planned[]; repo: Repository }> {
  const started = Date.now();
  const apt = new AptRoot(cache, t.release, t.arch, mirrors);
  log.info(`${t.release.release} ${t.arch}: resolving ${t.sets.length} package list${t.sets.length === 1 ? "" : "s"} (${t.hosts.length} host${t.hosts.length === 1 ? "" : "s"}) against ${apt.sources.join(", ")}`);
  await apt.prepare();
  await apt.update();
  const index = await apt.index();
  const minimal = await apt.minimalHost(index);
  const byPath = new Map<string, Planned>();
  for (const set of t.sets) for (const d of await apt.closure(set, index)) byPath.set(debPath(t.release, d.file), debArtifact(t.release, d));
  const beyond = byPath.size;
  if (includeBase) for (const d of minimal) byPath.set(debPath(t.release, d.file), debArtifact(t.release, d));
  const debs = [...byPath.values()];
  const bytes = debs.reduce((n, d) => n + (d.size ?? 0), 0);
  log.info(
    `${t.release.release} ${t.arch}: ${debs.length} packages, ${formatBytes(bytes)} ` +
      `(${beyond} beyond the minimal host's ${minimal.length}${includeBase ? ", which are included" : ""}), resolved in ${formatDuration(Date.now() - started)}`,
  );
  const repo: Repository = {
    kind: "apt",
    release: t.release.release,
    path: t.release.distribution,
    suite: t.release.codename,
    pool: `pool/${t.release.codename}`,
    architectures: [t.arch],
  };
  return { debs, repo };
}

/** Works out every artifact of the bundle; resolves packages with apt (network). */
export async function planBundle(site: SynthSite, o: BundleOptions, log: Log): Promise<Plan> {
  const { core, models } = site;
  const env = o.env ?? process.env;
  const images = imageRequests(core, models);
  const targets = packageTargets(packagesByHost(site));
  const rpm = targets.filter((t) => t.release.family === "RedHat");
  if (rpm.length > 0) {
    const what = rpm.map((t) => `${t.release.release} ${t.arch} (${t.hosts.join(", ")})`).join("; ");
    throw new AptError(`RPM bundles are designed (docs/bundle.md, "RHEL") but not implemented yet: ${what}`, "bundle the Debian and Ubuntu hosts from a site file without these hosts");
  }
  const { mirrors, origin } = resolveMirrors(o.mirrors ?? {}, env, o.systemMirrors);
  const used = new Set(targets.flatMap((t) => (t.release.distribution === "debian" ? ["debian", "debian-security"] : [t.arch === "amd64" ? "ubuntu" : "ubuntu-ports"])));
  for (const name of [...used].sort(compareText)) log.info(`mirror ${name}: ${mirrors[name as keyof Mirrors]} (${origin[name as keyof Mirrors] satisfies MirrorOrigin})`);
  const cache = path.resolve(o.cache ?? defaultCacheDir(env));
  const artifacts = new Map<string, Planned>();
  const repos = new Map<string, Repository>();
  for (const t of targets) {
    if (t.sets.length === 0) continue;
    const { debs, repo } = await resolveApt(t, cache, mirrors, o.includeBase ?? false, log);
    for (const d of debs) artifacts.set(d.path, d);
    const prior = repos.get(`${repo.path}/${repo.pool}`);
    repos.set(`${repo.path}/${repo.pool}`, prior ? { ...prior, architectures: [...new Set([...prior.architectures, ...repo.architectures])] } : repo);
  }
  for (const f of fileArtifacts(models, o.filesFrom, log)) {
    const prior = artifacts.get(f.path);
    if (prior && prior.sha256 !== f.sha256) throw new AptError(`two files want the path ${f.path}: ${prior.source} and ${f.source} with different sha256`);
    artifacts.set(f.path, f);
  }
  const scratch: string[] = [];
  for (const w of await planWheels(models.pypi, { env, log, controller: site.python, scratch })) artifacts.set(w.path, w);
  const source = await planKubespraySource(models.kubespray, { checkout: o.kubespray, skip: o.noKubespraySource, env, log }).catch(async (err: unknown) => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
    throw err;
  });
  if (source) {
    scratch.push(source.scratch);
    artifacts.set(source.artifact.path, source.artifact);
  }
  if (o.kit) {
    const kit = await planKit(site, { index: o.kitIndex, env, log });
    if (kit) {
      scratch.push(kit.scratch);
      for (const a of kit.artifacts) artifacts.set(a.path, a);
    }
  }
  const charts = await planCharts(models.helm, { env, log, certDir: o.certDir, kubernetes: models.kubespray?.kubernetes });
  if (charts) {
    scratch.push(charts.scratch);
    for (const c of charts.artifacts) artifacts.set(c.path, c);
  }
  const gomods = await planGoModules(models.goproxy, { env, log, earlier: o.out ? await earlierSumdb(o.out) : undefined });
  if (gomods) {
    scratch.push(gomods.scratch);
    for (const g of gomods.artifacts) artifacts.set(g.path, g);
  }
  return { site: core.name, repositories: [...repos.values()], artifacts: [...artifacts.values()], images, scratch };
}

function byKind(list: Planned[]): Map<ArtifactKind, Planned[]> {
  const m = new Map<ArtifactKind, Planned[]>();
  for (const k of ARTIFACT_KINDS) {
    const of = list.filter((a) => a.kind === k);
    if (of.length) m.set(k, of);
  }
  return m;
}

async function dryRun(plan: Plan, store: Store | undefined, out: ProgressStream, json = false, o: Pick<BundleOptions, "env" | "jobs" | "certDir" | "authFile"> = {}): Promise<void> {
  const env = o.env;
  const lines: string[] = [];
  const kinds: { kind: string; artifacts: number; toFetch: number; bytesToFetch: number; totalBytes: number; unknownSizes: number }[] = [];
  const fetchList: { kind: string; path: string; url: string; size?: number }[] = [];
  const rows: string[][] = [["kind", "artifacts", "to fetch", "size to fetch", "total size"]];
  let grandFetch = 0;
  let grandTotal = 0;
  for (const [kind, list] of byKind(plan.artifacts)) {
    let fetch = 0;
    let fetchBytes = 0;
    let totalBytes = 0;
    let unknown = 0;
    for (const a of [...list].sort((x, y) => compareText(x.path, y.path))) {
      const pinned = a.pin ? (await store?.readPins())?.[pinKey(a)] : undefined;
      const sha256 = a.pin ? pinned : a.sha256;
      const have = store && sha256 ? await store.check({ sha256, size: a.size }) : { state: "missing" as const };
      const size = have.state === "ok" ? have.size : (a.size ?? (await probeSize(a.fetchUrl, undefined, env)));
      if (size === undefined) unknown++;
      totalBytes += size ?? 0;
      if (have.state !== "ok") {
        fetch++;
        fetchBytes += size ?? 0;
        lines.push(`  ${artifactLabel(a)}  ${size === undefined ? "size unknown" : formatBytes(size)}  ${a.fetchUrl}`);
        fetchList.push({ kind, path: a.path, url: a.fetchUrl, ...(size !== undefined ? { size } : {}) });
      }
    }
    const note = unknown ? ` (+${unknown} of unknown size)` : "";
    rows.push([kind, String(list.length), String(fetch), formatBytes(fetchBytes) + note, formatBytes(totalBytes)]);
    kinds.push({ kind, artifacts: list.length, toFetch: fetch, bytesToFetch: fetchBytes, totalBytes, unknownSizes: unknown });
    grandFetch += fetchBytes;
    grandTotal += totalBytes;
  }
  // Images: their blobs' sizes from upstream's manifests (skopeo inspect --raw); a blob several images share counts once.
  const probes = plan.images.length ? await probeImages(plan.images, { jobs: o.jobs, certDir: o.certDir, authFile: o.authFile, env: o.env }) : [];
  const imageBlobs = new Map<string, number>();
  const imageMissing = new Set<string>();
  const images: { source: string; target: string; arches: string[]; bytes?: number; bytesToFetch?: number; error?: string }[] = [];
  for (const p of probes) {
    const i = p.request;
    if (!p.blobs) {
      images.push({ source: i.source, target: i.target, arches: i.arches, error: p.error });
      continue;
    }
    let bytes = 0;
    let toFetch = 0;
    for (const [hex, size] of p.blobs) {
      bytes += size;
      const have = store ? (await store.check({ sha256: hex, size })).state === "ok" : false;
      if (!have) {
        toFetch += size;
        imageMissing.add(hex);
      }
      imageBlobs.set(hex, size);
    }
    images.push({ source: i.source, target: i.target, arches: i.arches, bytes, bytesToFetch: toFetch });
  }
  if (plan.images.length) {
    const imageTotal = [...imageBlobs.values()].reduce((n, s) => n + s, 0);
    const imageFetch = [...imageMissing].reduce((n, h) => n + imageBlobs.get(h)!, 0);
    const unknown = images.filter((i) => i.error).length;
    const note = unknown ? ` (+${unknown} of unknown size)` : "";
    rows.push(["image", String(plan.images.length), String(images.filter((i) => i.error || (i.bytesToFetch ?? 0) > 0).length), formatBytes(imageFetch) + note, formatBytes(imageTotal)]);
    kinds.push({ kind: "image", artifacts: plan.images.length, toFetch: images.filter((i) => i.error || (i.bytesToFetch ?? 0) > 0).length, bytesToFetch: imageFetch, totalBytes: imageTotal, unknownSizes: unknown });
    grandFetch += imageFetch;
    grandTotal += imageTotal;
  }
  rows.push(["total", String(plan.artifacts.length + plan.images.length), String(lines.length + images.filter((i) => i.error || (i.bytesToFetch ?? 0) > 0).length), formatBytes(grandFetch), formatBytes(grandTotal)]);
  if (json) {
    out.write(JSON.stringify({ site: plan.site, dryRun: true, kinds, bytesToFetch: grandFetch, totalBytes: grandTotal, fetch: fetchList, images }) + "\n");
    return;
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => "  " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
  out.write(
    `dry run for site "${plan.site}", nothing written${store ? ` (compared with ${store.dir})` : ""}\n` +
      (lines.length ? `would fetch:\n${lines.join("\n")}\n` : "would fetch nothing: the store holds every artifact\n") +
      (plan.images.length
        ? `would copy ${plan.images.length} images (skopeo; layers the store holds are not fetched again):\n` +
          images.map((i) => `  image ${i.source} (${i.arches.join(", ")}) as ${i.target}  ${i.error ? `size unknown: ${i.error}` : `${formatBytes(i.bytesToFetch!)} to fetch of ${formatBytes(i.bytes!)}`}\n`).join("")
        : "") +
      `${table.join("\n")}\n`,
  );
}

export interface FetchResult {
  fetched: number;
  fetchedBytes: number;
  /** Time spent downloading. */
  fetchMs: number;
  present: number;
  failures: DownloadError[];
  /** Sizes of every artifact now in the store, by path. */
  sizes: Map<string, number>;
}

/** Puts every planned artifact into the store, skipping what it already holds with the right digest. */
export async function fetchAll(store: Store, planned: Planned[], o: { jobs?: number; stderr: ProgressStream; env?: NodeJS.ProcessEnv }): Promise<FetchResult> {
  const sizes = new Map<string, number>();
  const todo: Planned[] = [];
  let present = 0;
  for (const a of planned) {
    const have = await store.check({ sha256: a.sha256, size: a.size });
    if (have.state === "ok") {
      sizes.set(a.path, have.size);
      present++;
    } else {
      if (have.state === "corrupt") {
        o.stderr.write(`${chalk.yellow("warning")}: the store's copy of ${artifactLabel(a)} is damaged (${have.reason}); fetching it again\n`);
        await store.remove(a.sha256);
      }
      // Two artifacts with one content are fetched once.
      if (!todo.some((t) => t.sha256 === a.sha256)) todo.push(a);
    }
  }
  const failures: DownloadError[] = [];
  const knownBytes = todo.reduce((n, a) => n + (a.size ?? 0), 0);
  const progress = new Progress(o.stderr, todo.length, knownBytes);
  const t0 = Date.now();
  let next = 0;
  let fetched = 0;
  const worker = async () => {
    while (next < todo.length) {
      const a = todo[next++];
      const label = artifactLabel(a);
      progress.start(label);
      try {
        const size = await download(store, label, a.fetchUrl, { sha256: a.sha256, size: a.size }, {
          onBytes: (n) => progress.bytesIn(n),
          onRetry: (lost, reason) => progress.retry(label, lost, reason),
          env: o.env,
        });
        sizes.set(a.path, size);
        fetched++;
        progress.finish(label, size);
      } catch (err) {
        progress.fail(label);
        if (err instanceof DownloadError) failures.push(err);
        else failures.push(new DownloadError(label, a.fetchUrl, (err as Error).message));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs ?? 4, todo.length)) }, worker));
  progress.end();
  const fetchMs = Date.now() - t0;
  // Artifacts sharing content with a fetched one.
  for (const a of planned) {
    if (!sizes.has(a.path)) {
      const twin = planned.find((t) => t.sha256 === a.sha256 && sizes.has(t.path));
      if (twin) sizes.set(a.path, sizes.get(twin.path)!);
    }
  }
  return { fetched, fetchedBytes: progress.fetchedBytes, fetchMs, present, failures, sizes };
}

/** Writes `file` atomically when its bytes differ. */
async function writeIfChanged(file: string, text: string): Promise<void> {
  if ((await readFile(file, "utf8").catch(() => undefined)) === text) return;
  await writeAtomic(file, text);
}

/** The manifest the folder holds, when it is one this airgap reads. */
async function previousManifest(dir: string): Promise<Manifest | undefined> {
  const text = await readFile(path.join(dir, MANIFEST_FILE), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return parseManifest(text);
  } catch {
    return undefined;
  }
}

/**
 * The checksum database answers and tiles of the folder's last bundle
 * (path → its blob), for bundle/gomodules.ts: the new bundle's tiles then
 * also prove the tree heads a client inside saw from that bundle.
 */
async function earlierSumdb(dir: string): Promise<Map<string, string>> {
  const prev = await previousManifest(dir);
  const out = new Map<string, string>();
  for (const a of prev?.artifacts ?? []) {
    const blob = path.join(dir, "blobs", "sha256", a.sha256);
    if (a.kind === "file" && a.path.startsWith(`${GOPROXY_PREFIX}/sumdb/`) && existsSync(blob)) out.set(a.path, blob);
  }
  return out;
}

/**
 * The manifest of this content, ordered after the folder's last one: the same
 * content keeps its sequence and creation time (a re-run writes the same
 * bytes); new content gets the next sequence (or `sequence`, which must be
 * above the last one) and `now`. Throws a ManifestError when `sequence` is not.
 */
export async function orderedManifest(dir: string, site: string, repositories: Repository[], artifacts: Artifact[], sequence?: number, now = new Date()): Promise<string> {
  const prev = await previousManifest(dir);
  const last = prev && prev.site === site ? prev : undefined;
  if (last) {
    const same = serializeManifest(buildManifest(site, repositories, artifacts, { sequence: last.sequence, created: last.created }));
    if (serializeManifest(last) === same && (sequence === undefined || sequence === last.sequence)) return same;
    if (sequence !== undefined && sequence <= last.sequence) {
      throw new ManifestError(`--sequence ${sequence} is not above the sequence of ${path.join(dir, MANIFEST_FILE)}, ${last.sequence}: the site would refuse it as a rollback`);
    }
  }
  const created = now.toISOString().replace(/\.\d+Z$/, "Z");
  return serializeManifest(buildManifest(site, repositories, artifacts, { sequence: sequence ?? (last ? last.sequence + 1 : 1), created }));
}

/** Writes manifest.json atomically; says whether its bytes changed. */
export async function writeManifest(dir: string, text: string): Promise<"written" | "unchanged"> {
  const file = path.join(dir, MANIFEST_FILE);
  const before = await readFile(file, "utf8").catch(() => undefined);
  if (before === text) return "unchanged";
  await writeAtomic(file, text);
  return "written";
}

export async function bundle(o: BundleOptions): Promise<number> {
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const log: Log = {
    info: (s) => stderr.write(`${s}\n`),
    error: (s, hint) => stderr.write(`${chalk.red("error")}: ${s}\n${hint ? `  ${chalk.green("hint:")} ${hint}\n` : ""}`),
  };
  if (!o.out && !o.dryRun) {
    stderr.write(`airgap bundle needs the bundle folder: -o DIR (or --dry-run)\n\nRun "airgap bundle --help" for usage.\n`);
    return 2;
  }
  if (!existsSync(o.site)) {
    log.error(`no such site file: ${o.site}`);
    return 1;
  }
  if (o.filesFrom && !existsSync(o.filesFrom)) {
    log.error(`no such folder: ${o.filesFrom} (--files-from)`);
    return 1;
  }
  if ((o.since || o.split) && !o.exportTo) {
    stderr.write(`--since and --split shape the transfer file: give it with --export FILE\n\nRun "airgap bundle --help" for usage.\n`);
    return 2;
  }
  let key: KeyObject | undefined;
  try {
    key = o.key ? await readPrivateKey(o.key) : undefined;
  } catch (err) {
    if (!(err instanceof KeyError)) throw err;
    log.error(err.message);
    return 1;
  }
  const started = Date.now();
  const result = await synth(o.site, { checkouts: checkoutReader });
  if (result.errors.length > 0 || !result.site) {
    stderr.write(formatDiagnostics(result.errors));
    return 1;
  }
  let plan: Plan;
  try {
    plan = await planBundle(result.site, o, log);
  } catch (err) {
    if (!(err instanceof AptError) && !(err instanceof ImageError) && !(err instanceof WheelError) && !(err instanceof SourceError) && !(err instanceof KitError) && !(err instanceof ChartError) && !(err instanceof GoModuleError)) throw err;
    log.error(err.message, err.hint);
    return 1;
  }
  try {
    return await bundlePlanned(plan, o, { stdout, stderr, log, key, started });
  } finally {
    for (const dir of plan.scratch) await rm(dir, { recursive: true, force: true });
  }
}

/** Fetches the plan into the store, writes and signs the manifest, exports. */
export async function bundlePlanned(plan: Plan, o: BundleOptions, c: { stdout: ProgressStream; stderr: ProgressStream; log: Log; key?: KeyObject; started: number }): Promise<number> {
  const { stdout, stderr, log, key, started } = c;
  if (o.dryRun) {
    await dryRun(plan, o.out && existsSync(o.out) ? new Store(o.out) : undefined, stdout, o.json, o);
    return 0;
  }
  const store = new Store(o.out!);
  const { stale } = await store.open();
  if (stale > 0) log.info(`removed ${stale} partial file${stale === 1 ? "" : "s"} an interrupted run left in ${o.out}`);
  const onSignal = (signal: NodeJS.Signals) => {
    store.abandonInFlight();
    stderr.write(`\ninterrupted (${signal}): partial files removed, the manifest was not written; run again to resume\n`);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let fetchedResult: FetchResult;
  let imageResult: ImageResult | undefined;
  try {
    const pinFailures = await resolvePins(store, plan.artifacts, log, o.env);
    fetchedResult = await fetchAll(store, plan.artifacts.filter((a) => a.sha256), { jobs: o.jobs, stderr, env: o.env });
    fetchedResult.failures.push(...pinFailures);
    if (plan.images.length > 0) {
      imageResult = await copyImages(store, plan.images, { jobs: o.jobs, certDir: o.certDir, authFile: o.authFile, stderr, env: o.env });
      fetchedResult.failures.push(...imageResult.failures);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await store.close();
  }
  const { fetched, fetchedBytes, fetchMs, present, failures, sizes } = fetchedResult;
  if (failures.length > 0) {
    for (const f of failures) log.error(`could not fetch ${f.artifact}\n  from ${f.url}\n  ${f.reason}`);
    stderr.write(
      `${failures.length} of ${plan.artifacts.length + plan.images.length} artifacts failed; the manifest was not written. ` +
        `Verified downloads stay in the store: run again to resume.\n`,
    );
    return 1;
  }
  const artifacts: Artifact[] = [
    ...plan.artifacts.map(({ fetchUrl: _, pin: _pin, ...a }) => ({ ...a, size: sizes.get(a.path)! })),
    ...(imageResult?.artifacts ?? []),
  ];
  let text: string;
  try {
    text = await orderedManifest(o.out!, plan.site, plan.repositories, artifacts, o.sequence, o.now);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    log.error(err.message, "give a higher --sequence, or none (one more than the folder's last bundle)");
    return 1;
  }
  const written = await writeManifest(o.out!, text);
  await writeIfChanged(path.join(o.out!, SBOM_FILE), serializeSbom(parseManifest(text), Buffer.from(text)));
  const signed = await writeSignature(o.out!, text, key, written === "written");
  const unreferenced = await store.unreferenced(new Set(artifacts.map((a) => a.sha256)));
  const total = artifacts.reduce((n, a) => n + a.size, 0);
  const counts = ARTIFACT_KINDS.map((k) => [k, artifacts.filter((a) => a.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  const ms = Date.now() - started;
  const unsigned = !existsSync(path.join(o.out!, SIGNATURE_FILE));
  let exported: ExportResult | undefined;
  if (o.exportTo) {
    try {
      exported = await exportBundle({ dir: o.out!, file: o.exportTo, since: o.since, split: o.split, key });
    } catch (err) {
      if (!(err instanceof TransferError)) throw err;
      if (o.json) stdout.write(JSON.stringify({ ok: false, problems: err.problems }) + "\n");
      log.error(`export to ${o.exportTo}: ${err.problems.join("; ")}`);
      return 1;
    }
  }
  if (o.json) {
    const kinds = Object.fromEntries(ARTIFACT_KINDS.map((k) => [k, artifacts.filter((a) => a.kind === k).length]).filter(([, n]) => n));
    stdout.write(
      JSON.stringify({
        ok: true, bundle: o.out, site: plan.site, artifacts: artifacts.length, kinds, bytes: total,
        fetched, fetchedBytes, present, manifest: written, signed: !unsigned, unreferenced, ms,
        ...(imageResult ? { images: { images: imageResult.images, blobs: imageResult.blobs, bytes: imageResult.bytes, newBlobs: imageResult.newBlobs, newBytes: imageResult.newBytes } } : {}),
        ...(exported ? { export: { ...exported, ratio: exported.fullBytes ? exported.bytes / exported.fullBytes : 1 } } : {}),
      }) + "\n",
    );
    return 0;
  }
  const fetchLine =
    fetched === 0
      ? `nothing to download: all ${present} artifacts were already in the store`
      : `fetched ${fetched} (${formatBytes(fetchedBytes)} in ${formatDuration(fetchMs)}, ${formatRate(fetchedBytes, fetchMs)}), ${present} already in the store`;
  stdout.write(
    `bundle ${o.out}: ${artifacts.length} artifacts (${counts}), ${formatBytes(total)}; ${fetchLine}; ` +
      `manifest ${written} (${MANIFEST_FILE}), ${signed}; ${formatDuration(ms)}\n` +
      (imageResult ? `images: ${imageSummary(imageResult)}\n` : "") +
      (unreferenced > 0 ? `${unreferenced} blob${unreferenced === 1 ? "" : "s"} in the store ${unreferenced === 1 ? "is" : "are"} no longer in the manifest (kept; "airgap prune --store ${o.out}" removes them)\n` : ""),
  );
  if (unsigned) log.info(`${chalk.yellow("warning")}: the bundle is unsigned; airgap import and the admin play refuse it (sign with --key, made by airgap keygen)`);
  if (exported) reportExport(exported, { stdout, stderr });
  return 0;
}

/** Signs the manifest's bytes (deterministic: ed25519); without a key, a signature of older bytes is removed. */
async function writeSignature(dir: string, text: string, key: KeyObject | undefined, changed: boolean): Promise<string> {
  const file = path.join(dir, SIGNATURE_FILE);
  if (!key) {
    if (changed) await rm(file, { force: true });
    return existsSync(file) ? `signature kept (${SIGNATURE_FILE})` : "unsigned";
  }
  const sig = signBytes(Buffer.from(text), key);
  const before = await readFile(file).catch(() => undefined);
  if (before && before.equals(sig)) return `signature unchanged (${SIGNATURE_FILE})`;
  await writeAtomic(file, sig);
  return `signed (${SIGNATURE_FILE})`;
}
