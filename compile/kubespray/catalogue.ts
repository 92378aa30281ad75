/**
 * The catalogue: what one Kubespray release downloads, as data.
 *
 * One JSON file per release under `compile/kubespray/catalogue/`, written by
 * `regenerate.js` from a Kubespray checkout (Kubespray's own variables
 * rendered by Ansible). Only data lives there: URLs, versions, checksums,
 * image names, and in airgap's own format the settings that enable each.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Arch } from "../../dsl/index.js";
import type { Cond } from "./condition.js";

export const CATALOGUE_FORMAT = 1;

/** Where the shipped catalogues are (source tree, also shipped in the npm package). */
export const CATALOGUE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../compile/kubespray/catalogue");

/** Kubespray's variables that hold the upstream hosts; the offline vars point each at the site. */
export const FILE_BASES = ["github_url", "dl_k8s_io_url", "storage_googleapis_url", "get_helm_url"] as const;
export const IMAGE_BASES = ["kube_image_repo", "gcr_image_repo", "docker_image_repo", "quay_image_repo", "github_image_repo"] as const;

export interface FileVariant {
  /** Kubernetes versions this variant is for; absent: every version the release supports. */
  kubernetes?: string[];
  arch: Arch;
  /** The component's version. */
  version: string;
  /** Upstream URL. */
  url: string;
  /** `sha256:<hex>` or `sha512:<hex>` as Kubespray pins it; null when Kubespray pins none. */
  checksum: string | null;
}

export interface ImageVariant {
  kubernetes?: string[];
  /** Only when the reference differs per architecture. */
  arch?: Arch;
  /** Upstream repository, registry host included (`registry.k8s.io/pause`). */
  repo: string;
  tag: string;
}

export interface FilePart {
  /** When the download is a file (with `enabled`). */
  when: Cond;
  /** Kubespray's variable holding the URL (`calicoctl_download_url`). */
  urlVar?: string;
  /** The base variable the URL starts with (`github_url`); absent: the URL names its host itself. */
  base?: string;
  /** For charts fetched by a tool: the variable and flag that set the repository (`cilium_install_extra_flags`, `--repository`). */
  repoFlag?: { var: string; flag: string; upstream: string };
  /** What `variants` hold: the release's default version of the component (per Kubernetes version and architecture). */
  variants: FileVariant[];
  /**
   * The `*_version` variables the URL and checksum are keyed by, nearest first
   * (`["calico_ctl_version", "calico_version"]`: the first defaults to the second).
   * A site that sets one gets the variant of that version (from `variants` or `versions`).
   */
  versionVars?: string[];
  /** Every other version Kubespray pins a checksum for (its `*_checksums` table), rendered like `variants`. */
  versions?: FileVariant[];
  /** Every Kubespray variable the URL and checksum are computed from (transitively). */
  deps?: string[];
}

export interface ImagePart {
  /** When the download is an image (with `enabled`). */
  when: Cond;
  /** Kubespray's variable holding the repository (`calico_node_image_repo`), followed by `repoSuffix` when set. */
  repoVar?: string;
  repoSuffix?: string;
  /** The base variable the repository starts with (`quay_image_repo`); absent: the repository names its registry itself. */
  base?: string;
  variants: ImageVariant[];
  /** Kubespray's variable holding the tag (`calico_node_image_tag`): a site that sets it gets that tag. */
  tagVar?: string;
  /** The tag's default is `prefix` + a version + `suffix`, the version from the first of `vars` (nearest first) that the site sets. */
  tagFrom?: { vars: string[]; prefix: string; suffix: string };
  /** The repository's default ends with `then` when the condition holds, else with `else` (kube-vip: `-iptables` when `kube_vip_lb_fwdmethod` is `masquerade`). */
  repoIf?: { when: Cond; then: string; else: string };
  /** Every Kubespray variable the repository, the tag and the digest are computed from (transitively). */
  deps?: string[];
}

export interface Download {
  /** Kubespray's key in `downloads` (or airgap's name for an addition). */
  name: string;
  /** `kubespray`: Kubespray's `downloads`; `kubeadm`: images `kubeadm config images list` adds; `airgap`: used at run time but missing from Kubespray's lists. */
  origin: "kubespray" | "kubeadm" | "airgap";
  /** Why airgap adds it. */
  note?: string;
  enabled: Cond;
  /** Kubespray's inventory groups whose hosts download it. */
  groups: string[];
  /**
   * Images only: `hosts` when its containers run only on the hosts of `groups`
   * (static pods: the control plane's, kube-vip, the nodes' API proxy). Absent:
   * Kubernetes schedules them, they may land on any node of the cluster, and
   * the image is carried for every architecture of the cluster.
   */
  runsOn?: "hosts";
  file?: FilePart;
  image?: ImagePart;
}

export interface Setting {
  /** Kubespray's default as rendered; absent when undefined by default. */
  default?: unknown;
  /** When the default is itself an expression of other settings. */
  expr?: Cond;
}

export interface Catalogue {
  format: typeof CATALOGUE_FORMAT;
  kubespray: string;
  commit?: string;
  /** ansible-core version that rendered it. */
  ansible: string;
  kubernetes: { default: string; supported: string[] };
  /** The Ansible controller's Python packages (Kubespray's requirements.txt, pinned). */
  controller?: { requirements: string[] };
  arches: Arch[];
  /** Upstream value of each base variable. */
  bases: Record<string, string>;
  /** Every setting the conditions read, with Kubespray's default. */
  settings: Record<string, Setting>;
  /** `*_image_repo` variables whose default names its registry itself (not through a base): upstream value. */
  imageRepos: Record<string, string>;
  /** The variables airgap writes that this release knows (role defaults or its offline sample). */
  variables: string[];
  /**
   * Whether the release's container runtime templates carry registry credentials:
   * containerd's `hosts.toml.j2` renders a mirror's `header` (the pull account's
   * `Authorization`), CRI-O's `config.json.j2` renders `crio_registry_auth`.
   * Absent (a catalogue written before this field): unknown, taken as no.
   */
  registryAuth?: { containerd: boolean; crio: boolean };
  downloads: Download[];
}

const cache = new Map<string, Catalogue>();

/** Releases with a shipped catalogue, newest first. */
export function shippedReleases(dir = CATALOGUE_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^kubespray-(\d+\.\d+\.\d+)\.json$/.exec(f)?.[1])
    .filter((v): v is string => !!v)
    .sort(compareVersions)
    .reverse();
}

/** The shipped catalogue of a release, or undefined. */
export function loadCatalogue(release: string, dir = CATALOGUE_DIR): Catalogue | undefined {
  const file = path.join(dir, `kubespray-${release}.json`);
  const hit = cache.get(file);
  if (hit) return hit;
  if (!existsSync(file)) return undefined;
  const c = JSON.parse(readFileSync(file, "utf8")) as Catalogue;
  if (c.format !== CATALOGUE_FORMAT) throw new Error(`${file}: catalogue format ${c.format}, this airgap reads ${CATALOGUE_FORMAT}`);
  cache.set(file, c);
  return c;
}

/** A catalogue file named by the site (`kubespray.catalogue`); throws a message that says what is wrong with it. */
export function readCatalogueFile(file: string): Catalogue {
  const hit = cache.get(file);
  if (hit) return hit;
  const c = JSON.parse(readFileSync(file, "utf8")) as Partial<Catalogue>;
  if (c.format !== CATALOGUE_FORMAT) throw new Error(`catalogue format ${String(c.format)}, this airgap reads ${CATALOGUE_FORMAT}`);
  for (const key of ["kubespray", "kubernetes", "bases", "settings", "imageRepos", "variables", "downloads"] as const) {
    if (c[key] === undefined) throw new Error(`it has no "${key}"`);
  }
  cache.set(file, c as Catalogue);
  return c as Catalogue;
}

/** Numeric comparison of dotted versions (`1.9.0` < `1.10.0`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? "";
    const y = pb[i] ?? "";
    const nx = Number(x);
    const ny = Number(y);
    const d = Number.isNaN(nx) || Number.isNaN(ny) ? (x < y ? -1 : x > y ? 1 : 0) : nx - ny;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The catalogue as committed: two-space JSON, one variant per line, a final newline. */
export function serializeCatalogue(c: Catalogue): string {
  const oneLine = (v: unknown) => JSON.stringify(v);
  const out = JSON.stringify(c, (key, value) => {
    if ((key === "variants" || key === "versions") && Array.isArray(value)) return value.map((x) => `\u0000${oneLine(x)}\u0000`);
    if (["enabled", "when", "expr", "groups", "arches", "supported", "repoFlag", "versionVars", "deps", "tagFrom", "repoIf", "registryAuth"].includes(key) && typeof value === "object" && value !== null) {
      return `\u0000${oneLine(value)}\u0000`;
    }
    return value;
  }, 2);
  return out.replace(/"\\u0000(.*?)\\u0000"/g, (_, s: string) => JSON.parse(`"${s}"`)) + "\n";
}

/** A repository as a registry reads it: `busybox` is `docker.io/library/busybox`. */
export function normalizeRepo(repo: string): string {
  const first = repo.split("/")[0];
  const hasHost = repo.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasHost) return repo;
  return repo.includes("/") ? `docker.io/${repo}` : `docker.io/library/${repo}`;
}

/**
 * Reads the lists of a Kubespray checkout a site names (`kubespray.checkout`).
 * The command line gives the compiler the one in kubespray/render.ts, which
 * runs Ansible over the checkout's own defaults.
 */
export interface CheckoutReader {
  /** The checkout's release, commit and the Kubernetes versions it supports (amd64); throws when it cannot be read. */
  read(dir: string): { release: string; commit?: string; supported: string[] };
  /** Its catalogue for one Kubernetes version; throws (message "… is not supported by Kubespray …" for an unknown version). */
  render(dir: string, kubernetes: string): Catalogue;
}
