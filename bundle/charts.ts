/**
 * The Helm charts of the bundle (issue 19): each chart of `helm.charts`,
 * pulled on the bastion with the helm client, verified, and carried as
 * `file` artifacts beside each other under `charts/`:
 *
 *   charts/<name>-<version>.tgz        the archive as `helm pull` wrote it
 *   charts/<name>-<version>.tgz.json   its Chart.yaml (`helm show chart`) as JSON:
 *                                      the chart repository role writes index.yaml
 *                                      and the OCI config from it (standard library only)
 *   charts/<name>-<version>.tgz.prov   its provenance file, when the repository publishes one
 *
 * Verification: the site's `digest` pin (SHA-256 of the archive); for a
 * classic repository, the digest its own index.yaml gives (helm itself does
 * not compare it); the SHA-256 a provenance file records for the archive;
 * with a `keyring`, the provenance's signature (`helm pull --verify`). An OCI
 * registry names the archive by its digest already (the chart layer).
 *
 * Images: every chart is rendered with `helm template --skip-tests` (its
 * default values, the site's Kubernetes version when it has one; the pods of
 * `helm test` are left out: list their images to carry them) and every `image:` string
 * of the rendered objects is read. An image the chart renders that the site
 * neither lists (`images`, carried and pushed like every other image) nor
 * excludes stops the bundle, naming the lines to add: the site file stays
 * the one list of what the site registry serves, and compiling stays offline.
 *
 * The helm binary: `$AIRGAP_HELM`, else `helm` on PATH (docs/helm.md). Its
 * repository and registry settings are kept in a scratch folder
 * (HELM_CONFIG_HOME, HELM_CACHE_HOME, HELM_DATA_HOME): the bastion's own are
 * neither read nor changed, except registry credentials, which
 * `HELM_REGISTRY_CONFIG` may name.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { normalImage, type HelmChartModel, type HelmModel } from "../compile/components/helm.js";
import { compareText } from "../compile/model/context.js";
import type { Planned } from "./bundle.js";
import { httpFetch } from "./http.js";
import { hashFile } from "./store.js";

const exec = promisify(execFile);

/** A chart cannot be carried: what and why, and what to do. */
export class ChartError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface ChartOptions {
  env?: NodeJS.ProcessEnv;
  log: { info(s: string): void };
  /** The helm binary. @default $AIRGAP_HELM, else "helm" */
  helm?: string;
  /** CA certificates (`*.crt`) of upstream repositories and registries (the bundle's `--cert-dir`), added to the system's. */
  certDir?: string;
  /** Kubernetes version `helm template` renders for (`1.32.8`). @default helm's own default */
  kubernetes?: string;
}

/** The planned chart files and the scratch folder holding them until the store has them (remove it when done). */
export interface PlannedCharts {
  artifacts: Planned[];
  scratch: string;
  /** Images each chart rendered, normalised (`docker.io/library/busybox:1.36`), by chart `name@version`. */
  rendered: Map<string, string[]>;
}

/** Every string value of an `image` key in the rendered objects (containers, init and ephemeral containers, and the like). */
export function renderedImages(manifests: string): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "image" && typeof x === "string" && x.trim() !== "") found.add(x.trim());
        else walk(x);
      }
    }
  };
  for (const doc of parseAllDocuments(manifests)) {
    if (doc.errors.length) throw new ChartError(`helm template printed YAML that does not parse: ${doc.errors[0].message}`);
    walk(doc.toJS());
  }
  return [...found].sort(compareText);
}

/**
 * The provenance file's recorded SHA-256 of `file` (its signed body lists
 * `files: {<file>: sha256:<hex>}`), or undefined when it records none.
 */
export function provenanceDigest(prov: string, file: string): string | undefined {
  const body = prov.split(/\r?\n/);
  const start = body.findIndex((l) => l.startsWith("-----BEGIN PGP SIGNED MESSAGE-----"));
  const end = body.findIndex((l) => l.startsWith("-----BEGIN PGP SIGNATURE-----"));
  const text = (start >= 0 && end > start ? body.slice(start + 1, end) : body).join("\n");
  // After the armour headers (Hash: …) and a blank line come the chart's YAML, "...", then the files.
  const docs = text.replace(/^Hash:.*\n/m, "").split(/^\.\.\.$/m);
  const files = docs.length > 1 ? (parse(docs[1]) as { files?: Record<string, string> } | null)?.files : undefined;
  const v = files?.[file];
  return typeof v === "string" && /^sha256:[0-9a-f]{64}$/.test(v) ? v.slice("sha256:".length) : undefined;
}

/** A classic repository's index.yaml entry of the chart: its digest and first URL, or undefined when the index does not list it. */
async function indexEntry(c: HelmChartModel, env: NodeJS.ProcessEnv): Promise<{ digest?: string; url?: string } | undefined> {
  const url = `${c.repo}/index.yaml`;
  const res = await httpFetch(url, {}, env);
  if (!res.ok) throw new ChartError(`chart ${c.name} ${c.version}: ${url} answered HTTP ${res.status}`);
  const index = parse(await res.text()) as { entries?: Record<string, { version?: string; digest?: string; urls?: string[] }[]> } | null;
  const e = index?.entries?.[c.name]?.find((v) => v.version === c.version);
  if (!e) return undefined;
  const u = e.urls?.[0];
  return { digest: typeof e.digest === "string" ? e.digest.replace(/^sha256:/, "") : undefined, url: u ? new URL(u, `${c.repo}/`).href : undefined };
}

/** A CA bundle for helm's --ca-file: the system's roots and the `*.crt` of `certDir` (helm's --ca-file replaces the roots otherwise). */
async function caFile(certDir: string, dir: string): Promise<string> {
  const parts: string[] = [];
  for (const system of ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]) {
    if (existsSync(system)) {
      parts.push(await readFile(system, "utf8"));
      break;
    }
  }
  for (const f of readdirSync(certDir).filter((x) => x.endsWith(".crt")).sort()) parts.push(await readFile(path.join(certDir, f), "utf8"));
  const file = path.join(dir, "ca.pem");
  await writeFile(file, parts.join("\n"));
  return file;
}

async function run(helm: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<string> {
  try {
    const { stdout } = await exec(helm, args, { env, maxBuffer: 256 << 20 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new ChartError(`the helm client (${helm}) is not installed on this machine: the bundle pulls the site's charts with it`,
        "install helm (docs/helm.md: go install helm.sh/helm/v3/cmd/helm@v3.18.4), or name it with AIRGAP_HELM=/path/to/helm");
    }
    throw new ChartError(`${what}: helm ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/**
 * Pulls, verifies and renders every chart of the site; undefined when the
 * site has no helm service. Throws a ChartError when a chart cannot be
 * pulled, its bytes are not the pinned or published ones, or it renders an
 * image the site neither lists nor excludes (all charts are checked first,
 * then every such image is named at once).
 */
export async function planCharts(m: HelmModel | undefined, o: ChartOptions): Promise<PlannedCharts | undefined> {
  if (!m || m.charts.length === 0) return undefined;
  const base = o.env ?? process.env;
  const helm = o.helm ?? base.AIRGAP_HELM ?? "helm";
  const scratch = await mkdtemp(path.join(os.tmpdir(), "airgap-charts-"));
  try {
    const home = path.join(scratch, ".helm");
    const out = path.join(scratch, "charts");
    await mkdir(out, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...base,
      HELM_CONFIG_HOME: path.join(home, "config"),
      HELM_CACHE_HOME: path.join(home, "cache"),
      HELM_DATA_HOME: path.join(home, "data"),
      ...(base.HELM_REGISTRY_CONFIG ? {} : { HELM_REGISTRY_CONFIG: path.join(home, "config", "registry.json") }),
    };
    const tls = o.certDir ? ["--ca-file", await caFile(o.certDir, scratch)] : [];
    const artifacts: Planned[] = [];
    const rendered = new Map<string, string[]>();
    const unlisted: string[] = [];
    for (const c of m.charts) {
      const label = `chart ${c.name} ${c.version}`;
      const started = Date.now();
      const dest = path.join(scratch, "pull", `${c.name}-${c.version}`);
      await mkdir(dest, { recursive: true });
      const verify = c.keyring ? ["--verify", "--keyring", c.keyring] : ["--prov"];
      const ref = c.kind === "oci" ? [`${c.repo}/${c.name}`] : [c.name, "--repo", c.repo];
      await run(helm, ["pull", ...ref, "--version", c.version, "--destination", dest, ...verify, ...tls], env, label);
      const tgz = path.join(dest, c.file);
      if (!existsSync(tgz)) {
        const got = readdirSync(dest).filter((f) => f.endsWith(".tgz"));
        throw new ChartError(`${label}: helm pull wrote ${got.join(", ") || "no archive"}, not ${c.file}`, "the repository serves the chart under another name or version");
      }
      const { sha256, size } = await hashFile(tgz);
      if (c.sha256 && c.sha256 !== sha256) {
        throw new ChartError(`${label}: the archive's sha256 is ${sha256}, the site pins ${c.sha256}`, "the upstream chart changed, or the pin is wrong: check with the publisher before changing the digest");
      }
      let source = c.kind === "oci" ? `${c.repo}/${c.name}:${c.version}` : `${c.repo}/${c.file}`;
      if (c.kind === "classic") {
        const e = await indexEntry(c, env);
        if (e?.url) source = e.url;
        if (e?.digest && e.digest !== sha256) {
          throw new ChartError(`${label}: the archive's sha256 is ${sha256}, ${c.repo}/index.yaml says ${e.digest}`, "the repository serves other bytes than its index names: do not carry it until its publisher fixes it");
        }
        if (!e?.digest) o.log.info(`note: ${label}: ${c.repo}/index.yaml gives no digest for it`);
      }
      const provFile = path.join(dest, `${c.file}.prov`);
      const prov = existsSync(provFile) ? await readFile(provFile, "utf8") : undefined;
      if (prov !== undefined) {
        const recorded = provenanceDigest(prov, c.file);
        if (recorded !== sha256) {
          throw new ChartError(`${label}: its provenance file records ${recorded ? `sha256 ${recorded}` : "no sha256"} for ${c.file}, the archive's is ${sha256}`);
        }
      }
      const meta = parse(await run(helm, ["show", "chart", tgz], env, label)) as Record<string, unknown>;
      if (meta?.name !== c.name || String(meta?.version) !== c.version) {
        throw new ChartError(`${label}: the archive's Chart.yaml names ${String(meta?.name)} ${String(meta?.version)}`);
      }
      const metaFile = path.join(out, `${c.file}.json`);
      await writeFile(metaFile, JSON.stringify(meta, null, 2) + "\n");
      const kube = o.kubernetes ? ["--kube-version", o.kubernetes] : [];
      const images = renderedImages(await run(helm, ["template", c.name, tgz, "--skip-tests", ...kube], env, `${label} (rendering its default values)`));
      const normal = images.map((i) => normalImage(i) ?? i);
      rendered.set(`${c.name}@${c.version}`, normal);
      const listed = new Set(c.images.map((i) => i.source));
      const excluded = new Set(c.exclude.map((i) => normalImage(i) ?? i));
      const missing = images.filter((_, k) => !listed.has(normal[k]) && !excluded.has(normal[k]));
      for (const i of missing) unlisted.push(`${label} renders ${i}`);
      const notRendered = c.images.filter((i) => !normal.includes(i.source)).map((i) => i.source);
      if (notRendered.length) o.log.info(`note: ${label}: listed but not in its default rendering (carried anyway): ${notRendered.join(", ")}`);
      o.log.info(
        `${label}: pulled from ${c.repo}, ${size} bytes, sha256 ${sha256}${c.sha256 ? " (the site's pin)" : ""}` +
          `${prov !== undefined ? `, provenance ${c.keyring ? "verified with the keyring" : "carried (its sha256 matches)"}` : ""}; renders ${images.length} image${images.length === 1 ? "" : "s"} (${Date.now() - started} ms)`,
      );
      const file = (p: string, name: string, src: string, info: { sha256: string; size: number }): Planned => ({
        kind: "file",
        name,
        version: c.version,
        source: src,
        path: `charts/${name}`,
        size: info.size,
        sha256: info.sha256,
        fetchUrl: pathToFileURL(p).href,
      });
      artifacts.push(file(tgz, c.file, source, { sha256, size }));
      artifacts.push(file(metaFile, `${c.file}.json`, `helm show chart ${c.file}`, await hashFile(metaFile)));
      if (prov !== undefined) artifacts.push(file(provFile, `${c.file}.prov`, `${source}.prov`, await hashFile(provFile)));
    }
    if (unlisted.length) {
      throw new ChartError(
        `charts render images the site neither carries nor excludes:\n  ${unlisted.join("\n  ")}`,
        "add each to the chart's images (carried and pushed into the site registry) or to its exclude (a part the site never turns on) in the site file",
      );
    }
    return { artifacts, scratch, rendered };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}
