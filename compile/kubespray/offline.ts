/**
 * Kubespray's offline variables for a site, and the check that with them
 * nothing Kubespray fetches comes from outside the site.
 */
import type { Arch } from "../../dsl/index.js";
import { IMAGE_BASES, type Catalogue } from "./catalogue.js";
import { filePath, splitRepo, type KubesprayArtifacts, type KubesprayFile, type KubesprayImage } from "./artifacts.js";

export interface OfflineInput {
  catalogue: Catalogue;
  /** The site's name (the CA file is named after it). */
  site: string;
  /** files_repo as the repos component writes it (resolved), when the site serves files. */
  filesRepo?: string;
  /** registry_host as the registry component writes it, when the site runs a registry. */
  registryHost?: string;
  /** OS families of the Kubernetes hosts. */
  families: ("Debian" | "RedHat")[];
  /** The pull account: name and the Jinja2 expression of its password (no braces; never a literal). */
  pull?: { name: string; password: string };
  containerRuntime: "containerd" | "crio";
  /** Whether Cilium may be installed (the network plugin, deployed additionally, or everything carried). */
  cilium: boolean;
  /** The list for this site (its images' registries are mirrored). */
  artifacts: KubesprayArtifacts;
}

/** Where the site CA lands on a node, per OS family (the ca_trust role puts it there). */
export function caPath(family: "Debian" | "RedHat", site: string): string {
  return family === "Debian" ? `/usr/local/share/ca-certificates/airgap-${site}.crt` : `/etc/pki/ca-trust/source/anchors/airgap-${site}.pem`;
}

/**
 * A cluster of Debian- and RedHat-family nodes: the CA path per family, in the
 * inventory's `all` variables, so that the mirrors' `ca` is a short lookup by
 * `ansible_os_family` (an inline `'…' if … else '…'` of both paths made lines
 * longer than yamllint's limit once the site name had five characters).
 */
export const CA_PATHS_VAR = "airgap_kubespray_ca_paths";
export function caPaths(site: string): Record<"Debian" | "RedHat", string> {
  return { Debian: caPath("Debian", site), RedHat: caPath("RedHat", site) };
}

const REGISTRY_HOST = "{{ registry_host }}";
const FILES_REPO = "{{ files_repo }}";

/**
 * The Kubespray variables the kubespray component writes for the site (before
 * the site's own extraVars). `files_repo`, the file bases (`github_url`, …),
 * `debian_repo`/`ubuntu_repo`/`yum_repo` and `registry_host` are the repos and
 * registry components' to write; these refer to them.
 */
export function offlineVars(i: OfflineInput): Record<string, unknown> {
  const c = i.catalogue;
  const v: Record<string, unknown> = {};
  if (i.filesRepo) {
    // Files whose URL names its host itself (not through a base): point each at files_repo.
    for (const d of c.downloads) {
      const f = d.file;
      if (!f?.urlVar || f.base || f.repoFlag) continue;
      // One URL for every variant, or one per architecture that differs only by it: the
      // version the list carries (the site may have asked for another), else the release's.
      const listed = i.artifacts.files.filter((x) => x.urlVar === f.urlVar).flatMap((x) => x.arches.map((arch) => ({ arch, url: x.url })));
      const templates = [...new Set((listed.length ? listed : f.variants).map((x) => x.url.split(x.arch).join("@@arch@@")))];
      if (templates.length !== 1) continue;
      const local = filePath(templates[0]).slice("files/".length).split("@@arch@@").join("{{ image_arch }}");
      v[f.urlVar] = `${FILES_REPO}/${local}`;
    }
  }
  if (i.registryHost) {
    for (const b of IMAGE_BASES) v[b] = REGISTRY_HOST;
    for (const [name, upstream] of Object.entries(c.imageRepos)) v[name] = siteRepo(upstream);
    const registries = upstreamRegistries(i);
    const families = [...new Set(i.families)];
    const ca = families.length === 1 ? caPath(families[0], i.site) : `{{ ${CA_PATHS_VAR}[ansible_os_family] }}`;
    if (i.containerRuntime === "containerd") {
      const mirror = {
        host: `https://${i.registryHost}`,
        capabilities: ["pull", "resolve"],
        skip_verify: false,
        ca,
        ...(i.pull ? { header: { Authorization: `Basic {{ ('${i.pull.name}:' + ${i.pull.password}) | b64encode }}` } } : {}),
      };
      v.containerd_registries_mirrors = [
        { prefix: i.registryHost, mirrors: [mirror] },
        // Upstream names resolve inside the site too, never upstream: same path, site registry.
        ...registries.map((r) => ({ prefix: r, server: `https://${i.registryHost}`, mirrors: [mirror] })),
      ];
    } else {
      v.crio_registries = registries.map((r) => ({ prefix: r, location: i.registryHost, insecure: false, blocked: false }));
      if (i.pull) v.crio_registry_auth = [{ registry: i.registryHost, username: i.pull.name, password: `{{ ${i.pull.password} }}` }];
    }
  }
  if (i.cilium) {
    if (i.filesRepo) v.cilium_install_extra_flags = `--repository ${FILES_REPO}/helm.cilium.io`;
    // Images are copied per architecture, so upstream digests do not hold: pull by tag.
    const noDigest = { image: { useDigest: false } };
    v.cilium_extra_values = {
      image: { useDigest: false },
      operator: { image: { useDigest: false } },
      hubble: { relay: noDigest, ui: { backend: noDigest, frontend: noDigest } },
      certgen: noDigest,
      envoy: noDigest,
    };
  }
  if (i.families.includes("RedHat")) v.rhel_enable_repos = false;
  // Only what this release reads (an older one may lack, say, cilium_extra_values).
  const known = new Set(c.variables);
  return Object.fromEntries(Object.entries(v).filter(([k]) => known.has(k)));
}

/** A `*_image_repo` value in the site registry: same path, the site's registry host. */
function siteRepo(upstream: string): string {
  // A registry alone (`gke.gcr.io`): the variable is a prefix, images follow it.
  if (!upstream.includes("/") && upstream.includes(".")) return REGISTRY_HOST;
  return `${REGISTRY_HOST}/${splitRepo(upstream).path}`;
}

/** The registries the site's images come from (each mirrored to the site registry, never reached). */
function upstreamRegistries(i: OfflineInput): string[] {
  const hosts = new Set(i.artifacts.images.map((img) => splitRepo(img.source).host));
  return [...hosts].filter((h) => h !== i.registryHost).sort();
}

// ---- The check ----

export interface Leak {
  kind: "file" | "image" | "variable";
  /** What leaks: the download and its upstream reference. */
  what: string;
  /** Where Kubespray would fetch it from. */
  from: string;
  /** The Kubespray variable that decides it. */
  variable: string;
  /** What to add or change. */
  fix: string;
}

/** Resolves `{{ name }}` references to other variables of the file (only those). */
export function resolveRefs(value: unknown, vars: Record<string, unknown>, extra: Record<string, string> = {}, depth = 0): string | undefined {
  if (typeof value !== "string") return undefined;
  const out = value.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (m, name: string) => {
    if (name in extra) return extra[name];
    if (depth > 8 || !(name in vars)) return m;
    return resolveRefs(vars[name], vars, extra, depth + 1) ?? m;
  });
  return out.includes("{{") ? undefined : out;
}

/** The URL Kubespray would fetch a file from with these variables. */
export function effectiveUrl(f: KubesprayFile, arch: Arch, vars: Record<string, unknown>, c: Catalogue): string | undefined {
  const ctx = { image_arch: arch };
  if (f.repoFlag) {
    const flags = resolveRefs(vars[f.repoFlag.var] ?? "", vars, ctx);
    if (flags === undefined) return undefined;
    const m = new RegExp(`${f.repoFlag.flag}[= ](\\S+)`).exec(flags);
    return m ? `${m[1].replace(/\/$/, "")}${f.url.slice(f.repoFlag.upstream.length)}` : f.url;
  }
  if (f.urlVar && f.urlVar in vars) return resolveRefs(vars[f.urlVar], vars, ctx);
  if (f.base && f.base in vars) {
    const base = resolveRefs(vars[f.base], vars, ctx);
    return base === undefined ? undefined : `${base}${f.url.slice(c.bases[f.base].length)}`;
  }
  return f.url;
}

/** The repository Kubespray would pull an image from with these variables. */
export function effectiveRepo(img: KubesprayImage, vars: Record<string, unknown>, c: Catalogue): string | undefined {
  const upstream = img.source.slice(0, img.source.length - img.tag.length - 1);
  if (img.repoVar && img.repoVar in vars) {
    const r = resolveRefs(vars[img.repoVar], vars);
    return r === undefined ? undefined : `${r}${img.repoSuffix ?? ""}`;
  }
  if (img.base && img.base in vars) {
    const base = resolveRefs(vars[img.base], vars);
    return base === undefined ? undefined : `${base}${upstream.slice(c.bases[img.base].length)}`;
  }
  return upstream;
}

/** Every file and image of the list that Kubespray would fetch from anywhere but where the site serves it. */
export function findLeaks(list: KubesprayArtifacts, vars: Record<string, unknown>, c: Catalogue): Leak[] {
  const leaks: Leak[] = [];
  const filesRepo = resolveRefs(vars.files_repo, vars);
  const registry = resolveRefs(vars.registry_host, vars);
  for (const f of list.files) {
    const want = filesRepo ? `${filesRepo}/${f.path.slice("files/".length)}` : undefined;
    for (const a of f.arches) {
      const from = effectiveUrl(f, a, vars, c);
      if (from !== undefined && from === want) continue;
      const variable = f.repoFlag?.var ?? (f.urlVar && f.urlVar in vars ? f.urlVar : f.base ?? f.urlVar ?? "(none)");
      leaks.push({
        kind: "file",
        what: `${f.name} ${f.version} (${a}) ${f.url}`,
        from: from ?? `an expression airgap cannot follow: ${JSON.stringify(vars[variable])}`,
        variable,
        fix: !filesRepo
          ? "serve files_repo: add services.repos to the site"
          : from?.startsWith(`${filesRepo}/`)
            ? `serve it at ${want} (the bundle puts it at ${f.path}), or drop the override of ${variable}`
            : `point ${variable} under ${filesRepo} (leave it to airgap: remove it from extraVars)`,
      });
    }
  }
  for (const img of list.images) {
    const want = registry ? `${registry}/${img.path}` : undefined;
    const from = effectiveRepo(img, vars, c);
    if (from !== undefined && from === want) continue;
    const variable = img.repoVar && img.repoVar in vars ? img.repoVar : img.base ?? img.repoVar ?? "(none)";
    leaks.push({
      kind: "image",
      what: `${img.name} ${img.source}`,
      from: from !== undefined ? `${from}:${img.tag}` : `an expression airgap cannot follow: ${JSON.stringify(vars[variable])}`,
      variable,
      fix: !registry
        ? "run a registry: add services.registry to the site"
        : `point ${variable} at ${want}${img.repoSuffix ? ` without "${img.repoSuffix}"` : ""} (leave it to airgap: remove it from extraVars)`,
    });
  }
  return leaks;
}

/** URL- and repository-valued variables (from the site's extraVars) that name a host outside the site. */
export function outsideVariables(extra: Record<string, unknown>, vars: Record<string, unknown>, inside: (host: string) => boolean): Leak[] {
  const leaks: Leak[] = [];
  for (const [k, raw] of Object.entries(extra)) {
    if (!/(_url|_repo|_image_repo|_base_url|_gpgkey|_mirror)$/.test(k)) continue;
    const val = resolveRefs(raw, vars);
    if (!val) continue;
    let host: string | undefined;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(val)) {
      try {
        host = new URL(val).hostname;
      } catch {
        host = undefined;
      }
    } else if (k.endsWith("_image_repo")) {
      host = splitRepo(val).host.replace(/:\d+$/, "");
    }
    if (host && !inside(host)) {
      leaks.push({ kind: "variable", what: `extraVars.${k}`, from: val, variable: k, fix: `point ${k} at a service of the site, or remove it from extraVars` });
    }
  }
  return leaks;
}

// ---- The bundle manifest ----

/** What `check` reads from a bundle manifest: artifacts with their kind, path, name, source, sha256. */
export interface ManifestLike {
  artifacts: { kind: string; path?: string; name?: string; tag?: string; source?: string; sha256?: string }[];
}

export interface Missing {
  kind: "file" | "image";
  what: string;
  /** The Kubespray variable Kubespray fetches it through. */
  variable: string;
  /** Why: absent, or present with another checksum. */
  why: string;
  fix: string;
}

/** Every file and image of the list that the manifest does not hold (or holds with another checksum). */
export function missingFromManifest(list: KubesprayArtifacts, m: ManifestLike): Missing[] {
  const out: Missing[] = [];
  const files = new Map<string, { sha256?: string }>();
  const images = new Set<string>();
  for (const a of m.artifacts ?? []) {
    if (a.kind === "file" && a.path) files.set(a.path, a);
    // An image: `name` its repository and `tag` (docs/bundle.md), `source` `docker://<reference>`.
    if (a.kind === "image") for (const k of [a.source, a.name, a.path, a.name && a.tag ? `${a.name}:${a.tag}` : undefined]) if (k) images.add(k);
  }
  for (const f of list.files) {
    const got = files.get(f.path);
    const variable = f.repoFlag?.var ?? f.urlVar ?? f.base ?? "(none)";
    const what = `${f.path} (${f.name} ${f.version})`;
    if (!got) out.push({ kind: "file", what, variable, why: "not in the bundle", fix: `add ${f.url} at ${f.path}: run airgap bundle again` });
    else if (f.sha256 && got.sha256 && got.sha256 !== f.sha256) {
      out.push({ kind: "file", what, variable, why: `its sha256 is ${got.sha256}, Kubespray pins ${f.sha256}`, fix: `fetch ${f.url} again: run airgap bundle again` });
    }
  }
  for (const i of list.images) {
    if ([i.source, i.target, `docker://${i.source}`].some((k) => images.has(k))) continue;
    out.push({
      kind: "image", what: `${i.source} (${i.name})`, variable: i.repoVar ?? i.base ?? "(none)",
      why: "not in the bundle", fix: `add ${i.source}, pushed as <registry_host>/${i.target}: run airgap bundle again`,
    });
  }
  return out;
}
