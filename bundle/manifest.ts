/**
 * The bundle format: a folder holding `manifest.json` and a content-addressed
 * store, `blobs/sha256/<hex>`, where every artifact is kept once by digest.
 * docs/bundle.md describes it for the admin side (verify, place, serve).
 *
 * The manifest is deterministic: artifacts sorted by kind then path, keys in a
 * fixed order. Its only time is `created`, which with `sequence` orders the
 * site's bundles (bundle.ts keeps both when the content does not change).
 * Same inputs (site, upstream state and the bundle folder's last manifest),
 * same bytes.
 */
import { compareText } from "../compile/model/context.js";
import type { OsRelease } from "../dsl/index.js";

export const MANIFEST_FORMAT = 1;
export const MANIFEST_FILE = "manifest.json";
/** The detached ed25519 signature of manifest.json's exact bytes (64 raw bytes; bundle/sign.ts). */
export const SIGNATURE_FILE = "manifest.json.sig";
/**
 * Bytes a manifest may have: 32 MiB (about 90,000 artifacts). Import refuses
 * a bigger manifest member by its header, before reading it; the role tools
 * (roles/store/files/airgap_store.py MANIFEST_MAX) use the same cap.
 */
export const MANIFEST_MAX_BYTES = 32 << 20;

/**
 * Artifact kinds of the whole product. `deb` and `file` are produced today,
 * `image` and `image-blob` too (bundle/images.ts), `wheel` (bundle/wheels.ts),
 * `kit` (the controller's kit under `kit/`, bundle/kit.ts: used on the
 * controller only, placed by no role); `rpm` is reserved with the layout
 * given in docs/bundle.md.
 */
export const ARTIFACT_KINDS = ["deb", "rpm", "file", "image", "image-blob", "wheel", "kit"] as const;
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
  /**
   * Set when `airgap bundle` made the file on the bastion instead of
   * downloading it (a `wheel` built from an sdist: its upstream has no wheel).
   * `source` then names the input it was made from.
   */
  built?: BuiltFrom;
}

/** What an artifact made on the bastion was made from, and how. */
export interface BuiltFrom {
  /** The input's upstream URL (the sdist on PyPI). */
  from: string;
  /** SHA-256 of that input as downloaded and checked (the index's digest). */
  sha256: string;
  /** The tool and settings that made it (`pip wheel --no-deps`, the bastion's Python, SOURCE_DATE_EPOCH). */
  by: string;
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
  /** The site's name (a plain name: letters, digits, `.`, `_`, `+`, `~`, `-`). */
  site: string;
  /**
   * The bundle's number in the site's order, from 1, one more than the
   * bundle folder's previous manifest when the content changed. Import and
   * the admin play refuse a bundle whose sequence is lower than the current
   * one's, or equal with other content, unless told to roll back.
   */
  sequence: number;
  /** When this content was first bundled: UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  created: string;
  repositories: Repository[];
  artifacts: Artifact[];
}

/** Where a bundle stands in its site's order (`sequence`, `created`). */
export interface ManifestOrder {
  sequence: number;
  created: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** One path component the admin may use as a folder or file name (suite, architecture, release, site). */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;
const CREATED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A plain name: one path component, never `.` or `..` (the same rule as airgap_store.py's safe_name). */
export function isSafeName(s: unknown): s is string {
  return typeof s === "string" && SAFE_NAME.test(s);
}

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
    ...(a.built !== undefined ? { built: { from: a.built.from, sha256: a.built.sha256, by: a.built.by } } : {}),
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

/** The order of a first bundle; bundle.ts gives the real one. */
export const FIRST_ORDER: ManifestOrder = { sequence: 1, created: "1970-01-01T00:00:00Z" };

export function buildManifest(site: string, repositories: Repository[], artifacts: Artifact[], order: ManifestOrder = FIRST_ORDER): Manifest {
  return {
    format: MANIFEST_FORMAT,
    site,
    sequence: order.sequence,
    created: order.created,
    repositories: repositories
      .map(orderedRepository)
      .sort((a, b) => compareText(a.path, b.path) || compareText(a.pool, b.pool)),
    artifacts: mergeArtifacts(artifacts).map(orderedArtifact),
  };
}

/** The manifest's bytes: two-space JSON, a final newline, nothing that depends on time or order of discovery. */
export function serializeManifest(m: Manifest): string {
  const canonical = buildManifest(m.site, m.repositories, m.artifacts, { sequence: m.sequence, created: m.created });
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
  if (!isSafeName(m.site)) problems.push(`site ${JSON.stringify(m.site)} is not a plain name`);
  if (!Number.isSafeInteger(m.sequence) || (m.sequence as number) < 1) {
    problems.push(`sequence ${JSON.stringify(m.sequence)} is not a positive integer (a bundle made before airgap numbered them: run airgap bundle again)`);
  }
  if (typeof m.created !== "string" || !CREATED.test(m.created)) problems.push(`created ${JSON.stringify(m.created)} is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)`);
  if (!Array.isArray(m.repositories)) problems.push("repositories is not a list");
  else {
    m.repositories.forEach((r, i) => {
      const at = `repositories[${i}]`;
      if (!r || typeof r !== "object") return problems.push(`${at}: not an object`);
      for (const k of ["path", "pool"] as const) {
        if (typeof r[k] !== "string" || !isSafeRelativePath(r[k])) problems.push(`${at}: ${k} ${JSON.stringify(r[k])} is not a safe relative path`);
      }
      for (const k of ["kind", "release", ...(r.suite !== undefined || r.kind === "apt" ? (["suite"] as const) : [])] as const) {
        if (!isSafeName(r[k])) problems.push(`${at}: ${k} ${JSON.stringify(r[k])} is not a plain name`);
      }
      if (!Array.isArray(r.architectures) || !r.architectures.every(isSafeName)) {
        problems.push(`${at}: architectures ${JSON.stringify(r.architectures)} must be a list of plain names`);
      }
      return undefined;
    });
  }
  if (!Array.isArray(m.artifacts)) return [...problems, "artifacts is not a list"];
  const paths = new Set<string>();
  m.artifacts.forEach((a, i) => {
    const at = `artifacts[${i}]${a && typeof a.path === "string" ? ` (${a.path})` : ""}`;
    if (!a || typeof a !== "object") return problems.push(`${at}: not an object`);
    if (!ARTIFACT_KINDS.includes(a.kind)) problems.push(`${at}: unknown kind ${JSON.stringify(a.kind)}`);
    if (typeof a.name !== "string" || a.name === "") problems.push(`${at}: name is missing`);
    if (typeof a.source !== "string" || a.source === "") problems.push(`${at}: source is missing`);
    if (a.built !== undefined) {
      const b = a.built as Partial<BuiltFrom> | null;
      if (!b || typeof b !== "object" || typeof b.from !== "string" || b.from === "" || typeof b.by !== "string" || !/^[0-9a-f]{64}$/.test(String(b.sha256))) {
        problems.push(`${at}: built must name what it was made from (from, its sha256: 64 lower-case hex digits) and by what`);
      }
    }
    for (const k of ["arch", "release"] as const) {
      if (a[k] !== undefined && !isSafeName(a[k])) problems.push(`${at}: ${k} ${JSON.stringify(a[k])} is not a plain name`);
    }
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
