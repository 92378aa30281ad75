/**
 * The exact list of files and images a cluster needs, from a catalogue and
 * the site's settings: each download whose condition holds, for the
 * architectures of the hosts in the Kubespray groups that download it.
 */
import type { Arch } from "../../dsl/index.js";
import { evaluate, type Cond } from "./condition.js";
import { normalizeRepo, type Catalogue, type Download, type FileVariant, type ImageVariant } from "./catalogue.js";

/** A file Kubespray downloads, and where the site serves it. */
export interface KubesprayFile {
  /** Kubespray's download name(s), `+`-joined when several share the file. */
  name: string;
  /** Kubespray's `downloads`, images kubeadm lists, or an addition of airgap's (see the catalogue's notes). */
  origin: Download["origin"];
  /** The component's version. */
  version: string;
  /** Upstream URL. */
  url: string;
  /** SHA-256 hex when Kubespray pins a SHA-256; null otherwise (see `checksum`). */
  sha256: string | null;
  /** Kubespray's own pin, `sha256:<hex>` or `sha512:<hex>`; null when it pins none (charts). */
  checksum: string | null;
  /** Where the bundle and the file server put it: `files/<upstream host>/<upstream path>`. */
  path: string;
  /** Architectures of the hosts that fetch it. */
  arches: Arch[];
  /** Kubespray's variable holding the URL, and the base variable it starts with. */
  urlVar?: string;
  base?: string;
  repoFlag?: { var: string; flag: string; upstream: string };
}

/** An image Kubespray (or the cluster it builds) pulls, and its name in the site registry. */
export interface KubesprayImage {
  name: string;
  origin: Download["origin"];
  /** Upstream reference, registry host included: `registry.k8s.io/pause:3.10`. */
  source: string;
  /** Path in the site registry: the upstream path, registry host dropped (`pause`, `library/nginx`). */
  path: string;
  tag: string;
  /** `path:tag`, to be pushed as `<registry_host>/<target>`. */
  target: string;
  arches: Arch[];
  repoVar?: string;
  repoSuffix?: string;
  base?: string;
}

export interface KubesprayArtifacts {
  kubespray: string;
  kubernetes: string;
  files: KubesprayFile[];
  images: KubesprayImage[];
}

export interface ListInput {
  catalogue: Catalogue;
  kubernetes: string;
  /** Kubespray variables the site sets (network plugin, runtime, add-on toggles, extra vars). */
  settings: Record<string, unknown>;
  /** Architectures of the hosts in each Kubespray group (`kube_control_plane`, `kube_node`, `etcd`). */
  groups: Record<string, Arch[]>;
  /** Every download of the release for this Kubernetes version, enabled or not. */
  everything?: boolean;
}

/** A setting's value: the site's, else Kubespray's default (itself maybe an expression). */
export function settingLookup(c: Catalogue, site: Record<string, unknown>): (name: string) => unknown {
  const get = (name: string): unknown => {
    if (name in site) return site[name];
    const s = c.settings[name];
    if (!s) return undefined;
    return s.expr !== undefined ? evaluate(s.expr, get) : s.default;
  };
  return get;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const ORIGINS: Download["origin"][] = ["kubespray", "kubeadm", "airgap"];
const firstOrigin = (a: Download["origin"], b: Download["origin"]) => (ORIGINS.indexOf(a) <= ORIGINS.indexOf(b) ? a : b);

function forKube<T extends { kubernetes?: string[] }>(variants: T[], kube: string): T[] {
  return variants.filter((v) => !v.kubernetes || v.kubernetes.includes(kube));
}

/** The path under the served root where a file from `url` lives. */
export function filePath(url: string): string {
  const u = new URL(url);
  return `files/${u.host}${u.pathname}`;
}

/** Splits `host/path/name` into the registry host and the path. */
export function splitRepo(repo: string): { host: string; path: string } {
  const n = normalizeRepo(repo);
  const i = n.indexOf("/");
  return { host: n.slice(0, i), path: n.slice(i + 1) };
}

export function computeList(input: ListInput): { artifacts: KubesprayArtifacts; problems: string[] } {
  const { catalogue: c, kubernetes } = input;
  const problems: string[] = [];
  const get = settingLookup(c, input.settings);
  const holds = (cond: Cond, what: string): boolean => {
    try {
      return evaluate(cond, get);
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
      return false;
    }
  };
  const groupArches = (groups: string[]): Arch[] => {
    const expand = (g: string): string[] => (g === "k8s_cluster" ? ["kube_control_plane", "kube_node"] : [g]);
    const all = input.everything ? Object.values(input.groups).flat() : groups.flatMap(expand).flatMap((g) => input.groups[g] ?? []);
    return [...new Set(all)].sort(cmp) as Arch[];
  };

  const files = new Map<string, KubesprayFile>();
  const images = new Map<string, KubesprayImage>();
  const addFile = (d: Download, v: FileVariant) => {
    const path = filePath(v.url);
    const prior = files.get(path);
    if (prior) {
      if (prior.checksum !== v.checksum) problems.push(`${path}: ${prior.name} and ${d.name} pin different checksums`);
      if (!prior.arches.includes(v.arch)) prior.arches = [...prior.arches, v.arch].sort(cmp) as Arch[];
      if (!prior.name.split("+").includes(d.name)) prior.name = `${prior.name}+${d.name}`;
      prior.origin = firstOrigin(prior.origin, d.origin);
      return;
    }
    files.set(path, {
      name: d.name,
      origin: d.origin,
      version: v.version,
      url: v.url,
      sha256: v.checksum?.startsWith("sha256:") ? v.checksum.slice(7) : null,
      checksum: v.checksum,
      path,
      arches: [v.arch],
      ...(d.file?.urlVar ? { urlVar: d.file.urlVar } : {}),
      ...(d.file?.base ? { base: d.file.base } : {}),
      ...(d.file?.repoFlag ? { repoFlag: d.file.repoFlag } : {}),
    });
  };
  const addImage = (d: Download, v: ImageVariant, arches: Arch[]) => {
    const source = `${normalizeRepo(v.repo)}:${v.tag}`;
    const prior = images.get(source);
    if (prior) {
      prior.arches = [...new Set([...prior.arches, ...arches])].sort(cmp) as Arch[];
      if (!prior.name.split("+").includes(d.name)) prior.name = `${prior.name}+${d.name}`;
      prior.origin = firstOrigin(prior.origin, d.origin);
      return;
    }
    const { path } = splitRepo(v.repo);
    images.set(source, {
      name: d.name,
      origin: d.origin,
      source,
      path,
      tag: v.tag,
      target: `${path}:${v.tag}`,
      arches,
      ...(d.image?.repoVar ? { repoVar: d.image.repoVar } : {}),
      ...(d.image?.repoSuffix ? { repoSuffix: d.image.repoSuffix } : {}),
      ...(d.image?.base ? { base: d.image.base } : {}),
    });
  };

  for (const d of c.downloads) {
    if (!input.everything && !holds(d.enabled, d.name)) continue;
    const arches = groupArches(d.groups);
    if (arches.length === 0) continue;
    if (d.file && (input.everything || holds(d.file.when, d.name))) {
      const variants = forKube(d.file.variants, kubernetes);
      for (const a of arches) {
        const v = variants.find((x) => x.arch === a);
        if (v) addFile(d, v);
        else problems.push(`Kubespray ${c.kubespray} has no ${d.name} for ${a} with Kubernetes ${kubernetes}`);
      }
    }
    if (d.image && (input.everything || holds(d.image.when, d.name))) {
      const variants = forKube(d.image.variants, kubernetes);
      const perArch = variants.some((v) => v.arch);
      if (variants.length === 0) problems.push(`Kubespray ${c.kubespray} has no ${d.name} image with Kubernetes ${kubernetes}`);
      else if (!perArch) addImage(d, variants[0], arches);
      else {
        for (const a of arches) {
          const v = variants.find((x) => x.arch === a);
          if (v) addImage(d, v, [a]);
          else problems.push(`Kubespray ${c.kubespray} has no ${d.name} image for ${a} with Kubernetes ${kubernetes}`);
        }
      }
    }
  }
  // Two upstream images may not land on one name in the site registry.
  const byTarget = new Map<string, string>();
  for (const i of images.values()) {
    const prior = byTarget.get(i.target);
    if (prior && prior !== i.source) problems.push(`${prior} and ${i.source} would both be ${i.target} in the site registry`);
    byTarget.set(i.target, i.source);
  }
  return {
    artifacts: {
      kubespray: c.kubespray,
      kubernetes,
      files: [...files.values()].sort((a, b) => cmp(a.path, b.path)),
      images: [...images.values()].sort((a, b) => cmp(a.source, b.source)),
    },
    problems,
  };
}
