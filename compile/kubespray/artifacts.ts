/**
 * The exact list of files and images a cluster needs, from a catalogue and
 * the site's settings: each download whose condition holds, for the
 * architectures of the hosts in the Kubespray groups that download it.
 */
import type { Arch } from "../../dsl/index.js";
import { evaluate, variablesOf, type Cond } from "./condition.js";
import { compareVersions, FILE_BASES, IMAGE_BASES, normalizeRepo, type Catalogue, type Download, type FileVariant, type ImageVariant } from "./catalogue.js";

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
  /**
   * The names among `settings` the site wrote itself (`kubespray.extraVars`):
   * each one that changes what a carried download fetches must be one the
   * list follows, or it is a problem naming it.
   */
  siteVars?: string[];
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

/** Something the list cannot be made with; `variable` when a variable the site set is the cause. */
export interface ListProblem {
  message: string;
  variable?: string;
  hint?: string;
}

/** Set by the site's own fields, never through extraVars. */
export const TYPED_SETTINGS: Record<string, string> = {
  kube_version: "kubernetes",
  container_manager: "containerRuntime",
  kube_network_plugin: "networkPlugin",
  etcd_deployment_type: "etcdDeployment",
};

/** Lists a few values, then "…". */
function some(list: string[], n = 12): string {
  return list.length <= n ? list.join(", ") : `${list.slice(0, n).join(", ")}, … (${list.length} in all)`;
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

export function computeList(input: ListInput): { artifacts: KubesprayArtifacts; problems: ListProblem[] } {
  const { catalogue: c, kubernetes } = input;
  const problems: ListProblem[] = [];
  const problem = (message: string, variable?: string, hint?: string) => {
    if (!problems.some((p) => p.message === message)) problems.push({ message, ...(variable ? { variable } : {}), ...(hint ? { hint } : {}) });
  };
  const get = settingLookup(c, input.settings);
  const defaults = settingLookup(c, {});
  const holds = (cond: Cond, what: string, lookup = get): boolean => {
    try {
      return evaluate(cond, lookup);
    } catch (err) {
      problem(`${what}: ${(err as Error).message}`);
      return false;
    }
  };
  /** The value the site gives the first of these variables it sets (nearest first), as Kubespray would template it. */
  const siteValue = (vars: string[] | undefined): { variable: string; value: string } | undefined => {
    for (const v of vars ?? []) if (v in input.settings) return { variable: v, value: String(input.settings[v]) };
    return undefined;
  };
  const siteVars = new Set(input.siteVars ?? []);
  /** Variables a carried part reads that the list follows (or the leak check proves), per part. */
  const followed = new Set<string>(["files_repo", "registry_host", ...FILE_BASES, ...IMAGE_BASES, ...Object.keys(c.imageRepos)]);
  const unfollowed = new Map<string, string[]>();
  const watch = (d: Download, part: "file" | "image", deps: string[] | undefined, follows: (string | undefined)[]) => {
    for (const v of deps ?? []) {
      if (!siteVars.has(v) || followed.has(v) || follows.includes(v)) continue;
      unfollowed.set(v, [...(unfollowed.get(v) ?? []), `${d.name} (${part})`]);
    }
  };
  const groupArches = (groups: string[]): Arch[] => {
    const expand = (g: string): string[] => (g === "k8s_cluster" ? ["kube_control_plane", "kube_node"] : [g]);
    const all = input.everything ? Object.values(input.groups).flat() : groups.flatMap(expand).flatMap((g) => input.groups[g] ?? []);
    return [...new Set(all)].sort(cmp) as Arch[];
  };
  // A pod Kubernetes schedules may land on any node: its image is carried for every architecture of the cluster.
  const clusterArches = groupArches(["k8s_cluster"]);
  const imageArches = (d: Download): Arch[] =>
    d.runsOn === "hosts" ? groupArches(d.groups) : ([...new Set([...groupArches(d.groups), ...clusterArches])].sort(cmp) as Arch[]);

  const files = new Map<string, KubesprayFile>();
  const images = new Map<string, KubesprayImage>();
  const addFile = (d: Download, v: FileVariant) => {
    const path = filePath(v.url);
    const prior = files.get(path);
    if (prior) {
      if (prior.checksum !== v.checksum) problem(`${path}: ${prior.name} and ${d.name} pin different checksums`);
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

  /** An image variant as the site's settings make it: its tag (`*_image_tag`, or the version it is made of) and a repository suffix chosen by a setting. */
  const follow = (d: Download, v: ImageVariant): ImageVariant => {
    const im = d.image!;
    let { repo, tag } = v;
    if (im.tagVar && im.tagVar in input.settings) tag = String(input.settings[im.tagVar]);
    else {
      const version = im.tagFrom && siteValue(im.tagFrom.vars);
      if (version) tag = `${im.tagFrom!.prefix}${version.value}${im.tagFrom!.suffix}`;
    }
    if (im.repoIf) {
      const pick = (holdsNow: boolean) => (holdsNow ? im.repoIf!.then : im.repoIf!.else);
      const was = pick(holds(im.repoIf.when, d.name, defaults));
      const now = pick(holds(im.repoIf.when, d.name));
      if (was !== now) {
        if (repo.endsWith(was)) repo = `${repo.slice(0, repo.length - was.length)}${now}`;
        else problem(`${d.name}: the catalogue's repository ${repo} does not end with "${was}"`);
      }
    }
    return { ...v, repo, tag };
  };
  for (const d of c.downloads) {
    if (!input.everything && !holds(d.enabled, d.name)) continue;
    const fileArches = groupArches(d.groups);
    if (d.file && fileArches.length > 0 && (input.everything || holds(d.file.when, d.name))) {
      const f = d.file;
      // The version the site asks for (`runc_version`), else the release's default for this Kubernetes version.
      const asked = siteValue(f.versionVars);
      const pool = asked ? [...forKube(f.variants, kubernetes), ...(f.versions ?? [])].filter((x) => x.version === asked.value) : forKube(f.variants, kubernetes);
      for (const a of fileArches) {
        const v = pool.find((x) => x.arch === a);
        if (v) addFile(d, v);
        else if (asked) {
          const known = [...new Set([...forKube(f.variants, kubernetes), ...(f.versions ?? [])].filter((x) => x.arch === a).map((x) => x.version))].sort(compareVersions).reverse();
          problem(`Kubespray ${c.kubespray} pins no checksum for ${d.name} ${asked.value} (${a}): airgap cannot carry what Kubespray would fetch`, asked.variable,
            `${asked.variable}: one of the versions Kubespray ${c.kubespray} pins for ${a}: ${some(known)}`);
        } else problem(`Kubespray ${c.kubespray} has no ${d.name} for ${a} with Kubernetes ${kubernetes}`);
      }
      watch(d, "file", f.deps, [f.urlVar, f.base, f.repoFlag?.var, ...(f.versionVars ?? [])]);
    }
    const arches = imageArches(d);
    if (d.image && arches.length > 0 && (input.everything || holds(d.image.when, d.name))) {
      const im = d.image;
      const variants = forKube(im.variants, kubernetes).map((v) => follow(d, v));
      const perArch = variants.some((v) => v.arch);
      if (variants.length === 0) problem(`Kubespray ${c.kubespray} has no ${d.name} image with Kubernetes ${kubernetes}`);
      else if (!perArch) addImage(d, variants[0], arches);
      else {
        for (const a of arches) {
          const v = variants.find((x) => x.arch === a);
          if (v) addImage(d, v, [a]);
          else problem(`Kubespray ${c.kubespray} has no ${d.name} image for ${a} with Kubernetes ${kubernetes}`);
        }
      }
      watch(d, "image", im.deps, [im.repoVar, im.base, im.tagVar, ...(im.tagFrom?.vars ?? []), ...(im.repoIf ? variablesOf(im.repoIf.when) : [])]);
    }
  }
  for (const [v, parts] of unfollowed) {
    problem(`extraVars.${v} changes what Kubespray fetches for ${some(parts, 4)}, and airgap cannot follow it: the bundle would not carry what Kubespray asks for`, v,
      `remove ${v} from extraVars; airgap follows a file's *_version where the release pins its checksum, an image's *_image_tag or its version, and the settings that turn downloads on or off`);
  }
  // Two upstream images may not land on one name in the site registry.
  const byTarget = new Map<string, string>();
  for (const i of images.values()) {
    const prior = byTarget.get(i.target);
    if (prior && prior !== i.source) problem(`${prior} and ${i.source} would both be ${i.target} in the site registry`);
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
