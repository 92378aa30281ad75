/**
 * Container images in the bundle: one OCI image layout whose blobs are the
 * bundle's own content-addressed store, so a layer shared by several images
 * is stored, fetched and carried once.
 *
 * skopeo copies each image from its upstream registry into a private layout
 * folder under the store's `.partial/`, whose `blobs` is a link to the store's
 * `blobs/`: skopeo finds the layers the store already holds and skips them,
 * and writes new ones under their digest (it names a blob by the digest it
 * computed while writing, and renames it into place complete). Every blob an
 * image uses is then hashed again before it is listed. The manifest lists:
 *
 *   - `image-blob`: every blob (layers, configs, manifests, indexes) once,
 *     at `oci/blobs/sha256/<hex>`;
 *   - `image`: one per image, `name` its repository, `tag`, `sha256` the
 *     digest of its manifest (or of the index airgap writes when the site's
 *     hosts need several architectures), at `oci/refs/<host>/<path>:<tag>`.
 *
 * From those the admin side rebuilds an OCI layout (oci-layout, index.json
 * naming each image by its upstream reference, blobs = the store) and pushes
 * it with skopeo (roles/registry). docs/bundle.md, "Images".
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, symlink } from "node:fs/promises";
import path from "node:path";
import type { Arch } from "../dsl/index.js";
import { compareText } from "../compile/model/context.js";
import { isKubernetes, type CoreModel } from "../compile/model/site.js";
import { imageModel } from "../compile/components/registry.js";
import { DownloadError } from "./download.js";
import type { Artifact } from "./manifest.js";
import type { SiteModels } from "../compile/components/index.js";
import { formatBytes, formatDuration, type ProgressStream } from "./progress.js";
import { BLOB_DIR, PARTIAL_DIR, type Store } from "./store.js";

/** An image to carry: where it comes from, its name in the site registry, and for which architectures. */
export interface ImageRequest {
  /** Upstream reference, registry host included: `registry.k8s.io/pause:3.10` (`@sha256:…` when pinned). */
  source: string;
  /** `path:tag` in the site registry. */
  target: string;
  /** Architectures of the hosts that run it. */
  arches: Arch[];
}

/** The image list cannot be made (two images on one name, an image without a registry). */
export class ImageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const REF_NAME = "org.opencontainers.image.ref.name";

/** The upstream repository (`registry.k8s.io/pause`) and tag of a source reference. */
export function splitSource(source: string): { name: string; tag: string; digest?: string } {
  const m = imageModel(source);
  if ("problem" in m) throw new ImageError(m.problem, m.hint);
  return { name: `${m.host}/${m.path}`, tag: m.tag, ...(m.digest ? { digest: m.digest } : {}) };
}

/** The path of an `image` entry in the manifest: `oci/refs/<host>/<path>:<tag>`. */
export function imageRefPath(source: string): string {
  const { name, tag } = splitSource(source);
  return `oci/refs/${name}:${tag}`;
}

/** The path of an `image-blob` entry: the blob's place in the OCI layout. */
export function imageBlobPath(sha256: string): string {
  return `oci/blobs/sha256/${sha256}`;
}

/**
 * Every image the site needs: the registry's own list (for the architectures
 * of the Kubernetes hosts, or of every host when there are none), and the
 * images Kubespray pulls when the site deploys Kubernetes.
 */
export function imageRequests(core: CoreModel, models: SiteModels): ImageRequest[] {
  const k8s = core.hosts.filter(isKubernetes);
  const siteArches = [...new Set((k8s.length ? k8s : core.hosts).map((h) => h.arch))].sort(compareText) as Arch[];
  const bySource = new Map<string, ImageRequest>();
  const add = (r: ImageRequest, from: string) => {
    const prior = bySource.get(r.source);
    if (prior) {
      if (prior.target !== r.target) throw new ImageError(`${r.source} is pushed as ${prior.target} and as ${r.target} (${from})`);
      prior.arches = [...new Set([...prior.arches, ...r.arches])].sort(compareText) as Arch[];
    } else bySource.set(r.source, { ...r, arches: [...r.arches].sort(compareText) as Arch[] });
  };
  for (const i of models.registry?.images ?? []) add({ source: i.source, target: i.target, arches: siteArches }, "services.registry.images");
  // The images the site's Helm charts run (helm.charts[].images), for the cluster's architectures.
  for (const c of models.helm?.charts ?? []) for (const i of c.images) add({ source: i.source, target: i.target, arches: siteArches }, `helm chart ${c.name} ${c.version}`);
  // Kubespray's list (compile/kubespray): images with their target in the site registry and the architectures that pull them.
  const kubespray = (models.kubespray as { artifacts?: { images?: { source: string; target: string; arches: Arch[] }[] } } | undefined)?.artifacts?.images ?? [];
  for (const i of kubespray) add({ source: i.source, target: i.target, arches: i.arches }, "Kubespray");
  const list = [...bySource.values()].sort((a, b) => compareText(a.source, b.source));
  if (list.length > 0 && !models.registry) {
    throw new ImageError(`the site needs ${list.length} images but runs no registry to serve them`, "add services.registry to the site");
  }
  const byTarget = new Map<string, string>();
  for (const i of list) {
    const prior = byTarget.get(i.target);
    if (prior) throw new ImageError(`${prior} and ${i.source} would both be ${i.target} in the site registry`);
    byTarget.set(i.target, i.source);
  }
  return list;
}

export interface ImageOptions {
  /** Images copied at a time. @default 4 */
  jobs?: number;
  /** CA certificates (`*.crt`) to verify upstream registries with, as skopeo's --src-cert-dir. */
  certDir?: string;
  /** Credentials for upstream registries (containers-auth.json), as skopeo's --src-authfile. */
  authFile?: string;
  /** The skopeo binary. @default $AIRGAP_SKOPEO, else "skopeo" */
  skopeo?: string;
  stderr: ProgressStream;
  env?: NodeJS.ProcessEnv;
}

export interface ImageResult {
  /** `image` and `image-blob` artifacts, for the manifest. */
  artifacts: Artifact[];
  failures: DownloadError[];
  images: number;
  /** Distinct blobs the images use, and their bytes. */
  blobs: number;
  bytes: number;
  /** Blobs the store did not hold before this run, and their bytes. */
  newBlobs: number;
  newBytes: number;
  ms: number;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

interface Copied {
  request: ImageRequest;
  /** The image's top descriptor: its manifest, or the index over its architectures. */
  top: Descriptor;
  /** Every blob the image uses (top included), hex digests. */
  blobs: string[];
}

/** Runs skopeo and resolves with its stdout (rejects like `skopeo`). */
function skopeoStdout(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", (err: NodeJS.ErrnoException) => reject(new Error(err.code === "ENOENT" ? `${bin} is not installed (apt-get install skopeo)` : err.message)));
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else {
        const last = (stderr.trim().split("\n").filter(Boolean).at(-1) ?? `exit ${code}`).replace(/^time="[^"]*" level=fatal msg="(.*)"$/, "$1").replace(/\\"/g, '"');
        reject(new Error(last));
      }
    });
  });
}

/** An image's size before copying it: the blobs (hex → bytes) of the manifests for its architectures, from upstream's manifests. */
export interface ImageProbe {
  request: ImageRequest;
  /** Undefined when upstream could not be asked (the reason is in `error`). */
  blobs?: Map<string, number>;
  error?: string;
}

/**
 * Asks upstream (`skopeo inspect --raw`, no layer fetched) which blobs each
 * image's architectures use and their sizes: the dry run's image sizes. The
 * per-architecture manifest is counted at its upstream size (a copy into the
 * bundle may rewrite it as OCI, a few hundred bytes either way).
 */
export async function probeImages(images: ImageRequest[], o: Omit<ImageOptions, "stderr">): Promise<ImageProbe[]> {
  const bin = o.skopeo ?? o.env?.AIRGAP_SKOPEO ?? "skopeo";
  const env = o.env ?? process.env;
  const auth = [...(o.certDir ? ["--cert-dir", o.certDir] : []), ...(o.authFile ? ["--authfile", o.authFile] : [])];
  const raw = async (ref: string) => skopeoStdout(bin, ["inspect", "--raw", "--retry-times", "2", ...auth, `docker://${ref}`], env);
  const one = async (req: ImageRequest): Promise<ImageProbe> => {
    const { name, digest } = splitSource(req.source);
    const blobs = new Map<string, number>();
    try {
      const topText = await raw(digest ? `${name}@${digest}` : req.source);
      const top = JSON.parse(topText) as { manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[] } & ManifestDoc;
      for (const arch of req.arches) {
        let doc: ManifestDoc = top;
        if (top.manifests) {
          blobs.set(createHash("sha256").update(topText).digest("hex"), Buffer.byteLength(topText));
          const d = top.manifests.find((m) => m.platform?.os === "linux" && m.platform.architecture === arch);
          if (!d) throw new Error(`no linux/${arch} variant`);
          blobs.set(hexOf(d.digest), d.size);
          doc = JSON.parse(await raw(`${name}@${d.digest}`)) as ManifestDoc;
        } else {
          blobs.set(createHash("sha256").update(topText).digest("hex"), Buffer.byteLength(topText));
        }
        for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) blobs.set(hexOf(b.digest), b.size);
      }
      return { request: req, blobs };
    } catch (err) {
      return { request: req, error: (err as Error).message };
    }
  };
  const out: ImageProbe[] = new Array(images.length);
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      out[i] = await one(images[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs ?? 4, images.length)) }, worker));
  return out;
}

interface ManifestDoc {
  config?: Descriptor;
  layers?: Descriptor[];
}

/** Runs skopeo; resolves with its stderr, rejects with its last lines. */
function skopeo(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], env });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) => reject(new Error(err.code === "ENOENT" ? `${bin} is not installed (apt-get install skopeo)` : err.message)));
    child.on("close", (code) => {
      if (code === 0) resolve(stderr);
      else {
        const lines = stderr.trim().split("\n").filter(Boolean);
        const last = (lines.at(-1) ?? `exit ${code}`).replace(/^time="[^"]*" level=fatal msg="(.*)"$/, "$1").replace(/\\"/g, '"');
        reject(new Error(last));
      }
    });
  });
}

function hexOf(digest: string): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`unsupported digest ${digest} (only sha256)`);
  return digest.slice(7);
}

/** Every blob a manifest or index uses, itself included (hex digests), read from the store. */
async function walk(store: Store, d: Descriptor, seen = new Set<string>()): Promise<string[]> {
  const hex = hexOf(d.digest);
  if (seen.has(hex)) return [];
  seen.add(hex);
  const out = [hex];
  const doc = JSON.parse(await readFile(store.blobPath(hex), "utf8")) as {
    manifests?: Descriptor[];
    config?: Descriptor;
    layers?: Descriptor[];
  };
  for (const m of doc.manifests ?? []) out.push(...(await walk(store, m, seen)));
  for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
    const h = hexOf(b.digest);
    if (!seen.has(h)) {
      seen.add(h);
      out.push(h);
    }
  }
  return out;
}

/** The architecture an image manifest's config declares, when it says. */
async function configArch(store: Store, d: Descriptor): Promise<string | undefined> {
  const doc = JSON.parse(await readFile(store.blobPath(hexOf(d.digest)), "utf8")) as { config?: Descriptor };
  if (!doc.config) return undefined;
  const config = JSON.parse(await readFile(store.blobPath(hexOf(doc.config.digest)), "utf8")) as { architecture?: string };
  return config.architecture;
}

/** Copies one architecture of one image into the store; returns its manifest's descriptor. */
async function copyArch(store: Store, req: ImageRequest, arch: Arch, o: ImageOptions): Promise<Descriptor> {
  const { name, digest } = splitSource(req.source);
  // skopeo takes a tag or a digest, not both: a pinned image is fetched by its digest.
  const from = `docker://${digest ? `${name}@${digest}` : req.source}`;
  const layout = path.join(store.dir, PARTIAL_DIR, `oci-${randomBytes(6).toString("hex")}`);
  await mkdir(layout, { recursive: true });
  await symlink(path.relative(layout, path.join(store.dir, "blobs")), path.join(layout, "blobs"));
  try {
    const ref = "image";
    await skopeo(
      o.skopeo ?? o.env?.AIRGAP_SKOPEO ?? "skopeo",
      [
        "copy",
        "--quiet",
        "--retry-times", "2",
        "--override-os", "linux",
        "--override-arch", arch,
        ...(o.certDir ? ["--src-cert-dir", o.certDir] : []),
        ...(o.authFile ? ["--src-authfile", o.authFile] : []),
        from,
        `oci:${layout}:${ref}`,
      ],
      o.env ?? process.env,
    );
    const index = JSON.parse(await readFile(path.join(layout, "index.json"), "utf8")) as { manifests: (Descriptor & { annotations?: Record<string, string> })[] };
    const d = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    if (!d) throw new Error("skopeo wrote no manifest for it");
    return { mediaType: d.mediaType, digest: d.digest, size: d.size };
  } finally {
    // Removes the link, never what it points to.
    await rm(layout, { recursive: true, force: true });
  }
}

/** An OCI index over the manifests of several architectures, as deterministic bytes. */
export function indexFor(perArch: { arch: Arch; manifest: Descriptor }[]): Buffer {
  const manifests = [...perArch]
    .sort((a, b) => compareText(a.arch, b.arch))
    .map(({ arch, manifest }) => ({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: { architecture: arch, os: "linux" } }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

/** Copies one image (each architecture), writing an index when they differ. */
async function copyImage(store: Store, req: ImageRequest, o: ImageOptions, warn: (s: string) => void): Promise<Copied> {
  const perArch: { arch: Arch; manifest: Descriptor }[] = [];
  for (const arch of req.arches) {
    const manifest = await copyArch(store, req, arch, o);
    if (manifest.mediaType === OCI_MANIFEST) {
      const declared = await configArch(store, manifest);
      if (declared && declared !== arch) warn(`${req.source} has no ${arch} variant; the one copied is for ${declared}`);
    }
    perArch.push({ arch, manifest });
  }
  const distinct = [...new Map(perArch.map((p) => [p.manifest.digest, p])).values()];
  let top: Descriptor;
  if (distinct.length === 1) top = distinct[0].manifest;
  else {
    const bytes = indexFor(perArch);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if ((await store.check({ sha256, size: bytes.length })).state !== "ok") {
      await store.remove(sha256);
      await store.put((async function* () {
        yield bytes;
      })(), { sha256, size: bytes.length });
    }
    top = { mediaType: OCI_INDEX, digest: `sha256:${sha256}`, size: bytes.length };
  }
  return { request: req, top, blobs: await walk(store, top) };
}

/**
 * Copies every image into the bundle's store (`jobs` at a time), checks every
 * blob they use by hashing it, and returns their manifest entries. A blob the
 * store held damaged is removed and its images copied again, once.
 */
export async function copyImages(store: Store, images: ImageRequest[], o: ImageOptions): Promise<ImageResult> {
  const t0 = Date.now();
  const before = new Set(await readdir(path.join(store.dir, BLOB_DIR)).catch(() => [] as string[]));
  const failures: DownloadError[] = [];
  const copied = new Map<string, Copied>();
  const sizes = new Map<string, number>();
  const warn = (s: string) => o.stderr.write(`warning: ${s}\n`);
  let done = 0;

  const round = async (todo: ImageRequest[], total: number): Promise<void> => {
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const req = todo[next++];
        const label = `image ${req.source}`;
        try {
          const c = await copyImage(store, req, o, warn);
          copied.set(req.source, c);
          done++;
          o.stderr.write(`[${done}/${total}] copied ${label} (${req.arches.join(", ")}) as ${req.target}, ${c.blobs.length} blobs\n`);
        } catch (err) {
          failures.push(new DownloadError(label, `docker://${req.source}`, (err as Error).message));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs ?? 4, todo.length)) }, worker));
  };

  /** Hashes every blob the copied images use; returns the images to copy again. */
  const verify = async (): Promise<ImageRequest[]> => {
    const again = new Set<string>();
    const damaged = new Set<string>();
    for (const c of copied.values()) {
      for (const hex of c.blobs) {
        if (sizes.has(hex)) continue;
        if (damaged.has(hex)) {
          again.add(c.request.source);
          continue;
        }
        const have = await store.check({ sha256: hex });
        if (have.state === "ok") sizes.set(hex, have.size);
        else {
          damaged.add(hex);
          again.add(c.request.source);
          warn(`the store's blob ${hex} of ${c.request.source} is ${have.state === "missing" ? "missing" : `damaged (${have.reason})`}; copying again`);
          await store.remove(hex);
        }
      }
    }
    return images.filter((i) => again.has(i.source));
  };

  await round(images, images.length);
  const retry = await verify();
  if (retry.length > 0) {
    for (const r of retry) copied.delete(r.source);
    done -= retry.length;
    await round(retry, images.length);
    for (const r of await verify()) {
      copied.delete(r.source);
      failures.push(new DownloadError(`image ${r.source}`, `docker://${r.source}`, "its blobs are still damaged after a second copy"));
    }
  }

  const artifacts: Artifact[] = [];
  const firstUser = new Map<string, string>();
  for (const i of images) {
    const c = copied.get(i.source);
    if (!c) continue;
    for (const hex of c.blobs) if (!firstUser.has(hex)) firstUser.set(hex, i.source);
    const { name, tag } = splitSource(i.source);
    artifacts.push({ kind: "image", name, tag, source: `docker://${i.source}`, path: imageRefPath(i.source), size: c.top.size, sha256: hexOf(c.top.digest) });
  }
  let bytes = 0;
  let newBlobs = 0;
  let newBytes = 0;
  for (const [hex, source] of firstUser) {
    const size = sizes.get(hex)!;
    bytes += size;
    if (!before.has(hex)) {
      newBlobs++;
      newBytes += size;
    }
    artifacts.push({ kind: "image-blob", name: `sha256:${hex}`, source: `docker://${source}`, path: imageBlobPath(hex), size, sha256: hex });
  }
  return { artifacts, failures, images: copied.size, blobs: firstUser.size, bytes, newBlobs, newBytes, ms: Date.now() - t0 };
}

/** One line about the images of a run. */
export function imageSummary(r: ImageResult): string {
  return (
    `${r.images} images, ${r.blobs} distinct blobs, ${formatBytes(r.bytes)}; ` +
    (r.newBlobs === 0 ? "no new blob" : `${r.newBlobs} new blobs (${formatBytes(r.newBytes)})`) +
    ` in ${formatDuration(r.ms)}`
  );
}
