/**
 * The bundle format: a folder holding `manifest.json` and a content-addressed
 * store, `blobs/sha256/<hex>`, where every artifact is kept once by digest.
 * docs/bundle.md describes it for the admin side (verify, place, serve).
 *
 * The manifest is deterministic: artifacts sorted by kind then path, keys in a
 * fixed order, no timestamps. Same inputs (site and upstream state), same bytes.
 */
import { compareText } from "../compile/model/context.js";
import type { OsRelease } from "../dsl/index.js";

export const MANIFEST_FORMAT = 1;
export const MANIFEST_FILE = "manifest.json";
/** The detached ed25519 signature of manifest.json's exact bytes (64 raw bytes; bundle/sign.ts). */
export const SIGNATURE_FILE = "manifest.json.sig";

/**
 * Artifact kinds of the whole product. `deb` and `file` are produced today,
 * `image` and `image-blob` too (bundle/images.ts); `rpm` and `wheel`
 * are reserved with the layout given in docs/bundle.md.
 */
export const ARTIFACT_KINDS = ["deb", "rpm", "file", "image", "image-blob", "wheel"] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export interface Artifact {
  kind: ArtifactKind;
  /** Package name, file name, image reference. */
  name: string;
  /** Package version (epoch included, as the package manager writes it). */
  version?: string;
  /** Package architecture as the OS names it (`amd64`, `all`, `x86_64`, `noarch`). */
  arch?: string;
  /** OS release the package belongs to, for `deb` and `rpm`. */
  release?: OsRelease;
  /** The image's tag, for `image` (its `name` is the repository, `registry.k8s.io/pause`; its `sha256` the manifest's digest). */
  tag?: string;
  /** Where it came from upstream. */
  source: string;
  /**
   * Where the admin places it, relative to the served root (forward slashes,
   * no `..`): `debian/pool/bookworm/<file>.deb`, `files/<host>/<path>`.
   */
  path: string;
  size: number;
  /** SHA-256 of the content, 64 lower-case hex digits; the blob is `blobs/sha256/<sha256>`. */
  sha256: string;
}

/** A package repository the admin builds from the bundle's packages. */
export interface Repository {
  kind: "apt" | "rpm";
  release: OsRelease;
  /** Served root of the repository (`debian`, `ubuntu`, `rpm/rocky-9`). */
  path: string;
  /** APT suite (codename) the admin writes the repository's `dists/` for. */
  suite?: string;
  /** Folder under `path` holding this release's packages. */
  pool: string;
  /** Architectures of the site's hosts on this release. */
  architectures: string[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  site: string;
  repositories: Repository[];
  artifacts: Artifact[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A manifest that cannot be read; the message lists every problem. */
export class ManifestError extends Error {}


/** A relative path that stays inside the folder it is joined to. */
export function isSafeRelativePath(p: string): boolean {
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}

function orderedArtifact(a: Artifact): Artifact {
  // Fixed key order; optional keys only when set.
  return {
    kind: a.kind,
    name: a.name,
    ...(a.version !== undefined ? { version: a.version } : {}),
    ...(a.arch !== undefined ? { arch: a.arch } : {}),
    ...(a.release !== undefined ? { release: a.release } : {}),
    ...(a.tag !== undefined ? { tag: a.tag } : {}),
    source: a.source,
    path: a.path,
    size: a.size,
    sha256: a.sha256,
  };
}

function orderedRepository(r: Repository): Repository {
  return {
    kind: r.kind,
    release: r.release,
    path: r.path,
    ...(r.suite !== undefined ? { suite: r.suite } : {}),
    pool: r.pool,
    architectures: [...r.architectures].sort(compareText),
  };
}

/**
 * Merges artifact lists: one entry per path. The same path twice with the same
 * content is one artifact (an `_all.deb` needed on amd64 and arm64 hosts); with
 * different content it is an error.
 */
export function mergeArtifacts(list: Artifact[]): Artifact[] {
  const byPath = new Map<string, Artifact>();
  for (const a of list) {
    const prior = byPath.get(a.path);
    if (prior && prior.sha256 !== a.sha256) {
      throw new Error(`two artifacts want the path ${a.path}: ${prior.source} (sha256 ${prior.sha256}) and ${a.source} (sha256 ${a.sha256})`);
    }
    if (!prior) byPath.set(a.path, a);
  }
  return sortArtifacts([...byPath.values()]);
}

export function sortArtifacts(list: Artifact[]): Artifact[] {
  return [...list].sort((a, b) => compareText(a.kind, b.kind) || compareText(a.path, b.path));
}

export function buildManifest(site: string, repositories: Repository[], artifacts: Artifact[]): Manifest {
  return {
    format: MANIFEST_FORMAT,
    site,
    repositories: repositories
      .map(orderedRepository)
      .sort((a, b) => compareText(a.path, b.path) || compareText(a.pool, b.pool)),
    artifacts: mergeArtifacts(artifacts).map(orderedArtifact),
  };
}

/** The manifest's bytes: two-space JSON, a final newline, nothing that depends on time or order of discovery. */
export function serializeManifest(m: Manifest): string {
  const canonical = buildManifest(m.site, m.repositories, m.artifacts);
  return JSON.stringify(canonical, null, 2) + "\n";
}

/** Reads and checks a manifest; throws with every problem found. */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`manifest is not JSON: ${(err as Error).message}`);
  }
  const problems = checkManifest(raw);
  if (problems.length > 0) throw new ManifestError(`invalid manifest:\n  ${problems.join("\n  ")}`);
  return raw as Manifest;
}

/** Every problem of a manifest value (empty when valid). */
export function checkManifest(raw: unknown): string[] {
  const problems: string[] = [];
  const m = raw as Partial<Manifest> | null;
  if (!m || typeof m !== "object") return ["not an object"];
  if (m.format !== MANIFEST_FORMAT) problems.push(`format is ${JSON.stringify(m.format)}, this airgap reads format ${MANIFEST_FORMAT}`);
  if (typeof m.site !== "string" || m.site === "") problems.push("site is missing");
  if (!Array.isArray(m.repositories)) problems.push("repositories is not a list");
  if (!Array.isArray(m.artifacts)) return [...problems, "artifacts is not a list"];
  const paths = new Set<string>();
  m.artifacts.forEach((a, i) => {
    const at = `artifacts[${i}]${a && typeof a.path === "string" ? ` (${a.path})` : ""}`;
    if (!a || typeof a !== "object") return problems.push(`${at}: not an object`);
    if (!ARTIFACT_KINDS.includes(a.kind)) problems.push(`${at}: unknown kind ${JSON.stringify(a.kind)}`);
    if (typeof a.name !== "string" || a.name === "") problems.push(`${at}: name is missing`);
    if (typeof a.source !== "string" || a.source === "") problems.push(`${at}: source is missing`);
    if (a.kind === "image" && (typeof a.tag !== "string" || a.tag === "")) problems.push(`${at}: an image needs its tag`);
    if (typeof a.path !== "string" || !isSafeRelativePath(a.path)) problems.push(`${at}: path must be relative, without "..", "." or empty segments`);
    else if (paths.has(a.path)) problems.push(`${at}: path listed twice`);
    else paths.add(a.path);
    if (!Number.isSafeInteger(a.size) || a.size < 0) problems.push(`${at}: size is not a byte count`);
    if (typeof a.sha256 !== "string" || !HEX64.test(a.sha256)) problems.push(`${at}: sha256 is not 64 lower-case hex digits`);
    return undefined;
  });
  return problems;
}
