/**
 * Renders Kubespray's own variables with Ansible, the way Kubespray's
 * `contrib/offline/generate_list.sh` does (a play that loads the
 * `kubespray_defaults` role and templates what it needs), and turns the
 * result into a catalogue (regeneration) or into the list of what Kubespray
 * would download for a compiled inventory (the live check).
 *
 * Needs `ansible-playbook` (ansible-core 2.14 or later; only ansible.builtin
 * is used). Nothing is written into the Kubespray checkout.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseYaml } from "../compile/yaml-parse.js";
import type { Arch } from "../dsl/index.js";
import { evaluate, parseCondition, simplify, truthy, variablesOf, type Cond } from "../compile/kubespray/condition.js";
import {
  CATALOGUE_FORMAT,
  compareVersions,
  FILE_BASES,
  IMAGE_BASES,
  type Catalogue,
  type Download,
  type FilePart,
  type FileVariant,
  type ImagePart,
  type ImageVariant,
  type CheckoutReader,
  type Setting,
} from "../compile/kubespray/catalogue.js";
import { normalizeRepo } from "../compile/kubespray/catalogue.js";

/** Ansible's names for our architectures (`ansible_architecture`). */
export const MACHINE: Record<Arch, string> = { amd64: "x86_64", arm64: "aarch64" };
const ARCHES: Arch[] = ["amd64", "arm64"];

/** The variables airgap writes, besides the addon toggles, `*_image_repo` and URL overrides (checked against each release). */
export const AIRGAP_WRITES = [
  "kube_version", "container_manager", "kube_network_plugin", "etcd_deployment_type",
  "files_repo", "registry_host", "debian_repo", "ubuntu_repo", "yum_repo",
  ...FILE_BASES, ...IMAGE_BASES,
  "containerd_registries_mirrors", "crio_registries", "crio_registry_auth",
  "cilium_install_extra_flags", "cilium_extra_values", "rhel_enable_repos",
  "ntp_enabled", "upstream_dns_servers", "resolvconf_mode",
];

// ---- Kubespray's files, read as YAML (names and raw expressions only) ----

export interface RawDefaults {
  dir: string;
  release: string;
  commit?: string;
  /** kubespray_defaults' defaults and vars (older releases: the download role's defaults too). */
  core: Map<string, unknown>;
  /** Every other role's defaults, first definition wins. */
  others: Map<string, unknown>;
  /** Names the offline sample inventory mentions (`inventory/sample/group_vars/all/offline.yml`, comments included). */
  sample: Set<string>;
  /** requirements.txt: the controller's Python packages. */
  requirements: string[];
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function readYaml(file: string): Record<string, unknown> {
  const v = parseYaml(readFileSync(file, "utf8"), { version: "1.1", uniqueKeys: false, logLevel: "silent" });
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Every `defaults/main(.yml|/)` of every role under `roles/`, nested roles included. */
function roleDefaults(roles: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 4) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = path.join(d, e.name);
      if (e.name === "defaults") {
        out.push(...yamlFiles(path.join(p, "main.yml")), ...yamlFiles(path.join(p, "main")));
      } else if (!["tasks", "templates", "files", "handlers", "meta", "vars"].includes(e.name)) {
        walk(p, depth + 1);
      }
    }
  };
  walk(roles, 0);
  return out.sort();
}

export function readDefaults(dir: string): RawDefaults {
  const galaxy = path.join(dir, "galaxy.yml");
  if (!existsSync(galaxy) || !existsSync(path.join(dir, "roles"))) throw new Error(`${dir} is not a Kubespray checkout (no galaxy.yml or roles/)`);
  const release = /^version:\s*["']?([0-9][^"'\s]*)/m.exec(readFileSync(galaxy, "utf8"))?.[1];
  if (!release) throw new Error(`${galaxy} names no version`);
  let commit: string | undefined;
  try {
    commit = execFileSync("git", ["-C", dir, "rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    commit = undefined;
  }
  const coreFiles = [
    "roles/download/defaults/main.yml", "roles/download/defaults/main",
    "roles/kubespray-defaults/defaults/main.yml", "roles/kubespray-defaults/defaults/main",
    "roles/kubespray-defaults/vars/main.yml", "roles/kubespray-defaults/vars/main",
    "roles/kubespray_defaults/defaults/main.yml", "roles/kubespray_defaults/defaults/main",
    "roles/kubespray_defaults/vars/main.yml", "roles/kubespray_defaults/vars/main",
  ].flatMap((f) => yamlFiles(path.join(dir, f)));
  const core = new Map<string, unknown>();
  for (const f of coreFiles) for (const [k, v] of Object.entries(readYaml(f))) core.set(k, v);
  const others = new Map<string, unknown>();
  const coreSet = new Set(coreFiles);
  for (const f of roleDefaults(path.join(dir, "roles"))) {
    if (coreSet.has(f)) continue;
    for (const [k, v] of Object.entries(readYaml(f))) if (!others.has(k)) others.set(k, v);
  }
  const sample = new Set<string>();
  const sampleFile = path.join(dir, "inventory/sample/group_vars/all/offline.yml");
  if (existsSync(sampleFile)) {
    for (const m of readFileSync(sampleFile, "utf8").matchAll(/^[#\s]*([a-z_][a-z0-9_]*):/gm)) sample.add(m[1]);
  }
  return { dir, release, commit, core, others, sample, requirements: readRequirements(dir) };
}

/** The Python requirements of Kubespray's Ansible controller, as its requirements.txt pins them. */
export function readRequirements(dir: string): string[] {
  const file = path.join(dir, "requirements.txt");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
}

/** The one variable a value refers to, when it is exactly `{{ name }}`. */
function soleVar(raw: unknown): string | undefined {
  return typeof raw === "string" ? /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(raw.trim())?.[1] : undefined;
}

// ---- Running Ansible ----

export function ansibleVersion(): string {
  const out = execFileSync("ansible-playbook", ["--version"], { encoding: "utf8" });
  return /core ([0-9][^\]\s]*)/.exec(out)?.[1] ?? out.split("\n")[0];
}

/** Runs a playbook with Kubespray's roles on the roles path, in a scratch folder; returns the folder (caller removes it). */
function runPlaybook(kubespray: string, work: string, play: unknown, files: Record<string, unknown>, inventory?: string): void {
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(work, name), JSON.stringify(content, null, 1));
  writeFileSync(path.join(work, "render.yml"), JSON.stringify(play, null, 1));
  writeFileSync(path.join(work, "ansible.cfg"), "[defaults]\nretry_files_enabled = False\ndeprecation_warnings = False\nlocalhost_warning = False\n");
  const inv = inventory ?? path.join(work, "hosts.yml");
  if (!inventory) {
    writeFileSync(inv, JSON.stringify({
      all: {
        hosts: { localhost: { ansible_connection: "local", ansible_python_interpreter: "{{ ansible_playbook_python }}" } },
        children: {
          kube_control_plane: { hosts: { localhost: null } },
          kube_node: { hosts: { localhost: null } },
          etcd: { hosts: { localhost: null } },
          k8s_cluster: { children: { kube_control_plane: null, kube_node: null } },
        },
      },
    }));
  }
  try {
    execFileSync("ansible-playbook", ["-i", inv, "render.yml"], {
      cwd: work,
      encoding: "utf8",
      maxBuffer: 512 * 1024 * 1024,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        ANSIBLE_CONFIG: path.join(work, "ansible.cfg"),
        ANSIBLE_ROLES_PATH: path.join(kubespray, "roles"),
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_FORCE_COLOR: "0",
      },
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const lines = `${e.stdout ?? ""}\n${e.stderr ?? ""}`.split("\n").filter((l) => /fatal|ERROR|error/.test(l));
    throw new Error(`ansible-playbook failed rendering Kubespray's variables:\n${lines.slice(0, 20).join("\n") || e.message}`);
  }
}

const readJson = (work: string, name: string): unknown => JSON.parse(readFileSync(path.join(work, name), "utf8"));

// ---- The catalogue ----

/** What airgap adds to Kubespray's `downloads`: images kubeadm pulls, and what runs but is not downloaded. */
interface Extra {
  name: string;
  origin: "kubeadm" | "airgap";
  note: string;
  /** Needs this key in `downloads` (for conditions copied from it). */
  like?: string;
  /** The regeneration fails when it cannot be rendered. */
  required?: boolean;
  enabled?: unknown;
  groups: string[];
  image?: { repo: string; tag: string; repoVar: string; repoSuffix?: string };
  file?: { url: string; version: string; repoFlag: { var: string; flag: string; upstream: string } };
}

/**
 * Whether the release's container runtime templates carry registry credentials:
 * containerd's hosts.toml renders a mirror's `header` (2.30 and later; 2.28's
 * has none, and its containerd 2 config has no auth section), CRI-O's auth file
 * renders `crio_registry_auth`.
 */
export function registryAuth(dir: string): { containerd: boolean; crio: boolean } {
  const text = (f: string) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), "utf8") : "");
  return {
    containerd: /\bmirror\.header\b/.test(text("roles/container-engine/containerd/templates/hosts.toml.j2")),
    crio: /\bcrio_registry_auth\b/.test(text("roles/container-engine/cri-o/templates/config.json.j2")),
  };
}

/** The variable kubeadm's image repository comes from (`imageRepository:` of Kubespray's kubeadm-images template). */
export function kubeadmRepoVar(dir: string): string {
  const template = path.join(dir, "roles/download/templates/kubeadm-images.yaml.j2");
  const found = existsSync(template) ? /imageRepository:\s*\{\{\s*([a-z0-9_]+)\s*\}\}/.exec(readFileSync(template, "utf8"))?.[1] : undefined;
  return found ?? "kube_image_repo";
}

function extras(raw: RawDefaults): Extra[] {
  const has = (v: string) => raw.core.has(v) || raw.others.has(v);
  const out: Extra[] = [];
  const kubeadmRepo = kubeadmRepoVar(raw.dir);
  for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]) {
    out.push({
      name: `kubeadm_${c.replace(/-/g, "_")}`, origin: "kubeadm", note: "listed by `kubeadm config images list`; Kubespray pulls it on every node",
      enabled: true, groups: ["k8s_cluster"], required: true,
      image: { repo: `{{ ${kubeadmRepo} }}/${c}`, tag: "v{{ kube_version }}", repoVar: kubeadmRepo, repoSuffix: `/${c}` },
    });
  }
  const downloads = (raw.core.get("downloads") ?? {}) as Record<string, Record<string, unknown>>;
  if (downloads.cilium_operator) {
    out.push({
      name: "cilium_operator_generic", origin: "airgap", like: "cilium_operator", groups: ["k8s_cluster"],
      note: "the Cilium chart runs the operator image with the `-generic` suffix",
      image: { repo: "{{ cilium_operator_image_repo }}-generic", tag: "{{ cilium_operator_image_tag }}", repoVar: "cilium_operator_image_repo", repoSuffix: "-generic" },
    });
  }
  if (downloads.cilium && downloads.cilium_hubble_envoy) {
    out.push({
      name: "cilium_envoy", origin: "airgap", like: "cilium", groups: ["k8s_cluster"],
      note: "Cilium 1.16 and later run cilium-envoy as a DaemonSet by default, Hubble or not",
      image: { repo: "{{ cilium_hubble_envoy_image_repo }}", tag: "{{ cilium_hubble_envoy_image_tag }}", repoVar: "cilium_hubble_envoy_image_repo" },
    });
  }
  if (downloads.cilium && has("cilium_install_extra_flags")) {
    const repoFlag = { var: "cilium_install_extra_flags", flag: "--repository", upstream: "https://helm.cilium.io" };
    out.push({
      name: "cilium_chart_index", origin: "airgap", like: "cilium", groups: ["kube_control_plane"],
      note: "`cilium install` reads the chart repository's index (no checksum pinned: it changes upstream)",
      file: { url: "https://helm.cilium.io/index.yaml", version: "{{ cilium_version }}", repoFlag },
    });
    out.push({
      name: "cilium_chart", origin: "airgap", like: "cilium", groups: ["kube_control_plane"],
      note: "`cilium install --version` fetches this chart (Kubespray pins no checksum for it)",
      file: { url: "https://helm.cilium.io/cilium-{{ cilium_version }}.tgz", version: "{{ cilium_version }}", repoFlag },
    });
  }
  if (has("local_path_provisioner_helper_image_repo") && has("local_path_provisioner_helper_image_tag")) {
    out.push({
      name: "local_path_provisioner_helper", origin: "airgap", enabled: "{{ local_path_provisioner_enabled }}", groups: ["kube_node"],
      note: "the local-path provisioner starts helper pods from this image",
      image: { repo: "{{ local_path_provisioner_helper_image_repo }}", tag: "{{ local_path_provisioner_helper_image_tag }}", repoVar: "local_path_provisioner_helper_image_repo" },
    });
  }
  if (has("node_feature_discovery_image_repo") && has("node_feature_discovery_enabled")) {
    out.push({
      name: "node_feature_discovery", origin: "airgap", enabled: "{{ node_feature_discovery_enabled }}", groups: ["k8s_cluster"],
      note: "deployed by kubernetes-apps, not in Kubespray's downloads",
      image: { repo: "{{ node_feature_discovery_image_repo }}", tag: "{{ node_feature_discovery_image_tag }}", repoVar: "node_feature_discovery_image_repo" },
    });
  }
  if (downloads.ingress_nginx_controller && has("ingress_nginx_kube_webhook_certgen_image_repo") && has("ingress_nginx_kube_webhook_certgen_image_tag")) {
    out.push({
      name: "ingress_nginx_kube_webhook_certgen", origin: "airgap", like: "ingress_nginx_controller", groups: ["kube_node"],
      note: "ingress-nginx's admission webhook Jobs run this image (with ingress_nginx_webhook_enabled); carried with the add-on",
      image: {
        repo: "{{ ingress_nginx_kube_webhook_certgen_image_repo }}", tag: "{{ ingress_nginx_kube_webhook_certgen_image_tag }}",
        repoVar: "ingress_nginx_kube_webhook_certgen_image_repo",
      },
    });
  }
  for (const part of ["controller", "scheduler"]) {
    if (!has(`scheduler_plugins_${part}_image_repo`) || !has("scheduler_plugins_enabled")) continue;
    out.push({
      name: `scheduler_plugins_${part}`, origin: "airgap", enabled: "{{ scheduler_plugins_enabled }}", groups: ["kube_control_plane"],
      note: "deployed by kubernetes-apps, not in Kubespray's downloads",
      image: { repo: `{{ scheduler_plugins_${part}_image_repo }}`, tag: `{{ scheduler_plugins_${part}_image_tag }}`, repoVar: `scheduler_plugins_${part}_image_repo` },
    });
  }
  return out;
}

/** The `*_version` variable a file's URL is built from (its component's version). */
function versionVarOf(raw: RawDefaults, d: Record<string, unknown>): string | undefined {
  const urlVar = soleVar(d.url);
  const template = String((urlVar && raw.core.get(urlVar)) ?? d.url ?? "");
  return /\{\{\s*([a-z0-9_]*_version)\b/.exec(template)?.[1];
}

function normChecksum(v: unknown): string | null {
  if (typeof v !== "string" || v.trim() === "" || v === "None") return null;
  const s = v.trim().toLowerCase();
  if (/^sha(256|512):[0-9a-f]+$/.test(s)) return s;
  if (/^[0-9a-f]{64}$/.test(s)) return `sha256:${s}`;
  if (/^[0-9a-f]{128}$/.test(s)) return `sha512:${s}`;
  throw new Error(`unreadable checksum ${v}`);
}

/** Supported Kubernetes versions per architecture: kubelet, kubeadm and kubectl all pinned. */
export function supportedKubernetes(raw: RawDefaults): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of ARCHES) {
    const sets = ["kubelet_checksums", "kubeadm_checksums", "kubectl_checksums"].map(
      (n) => new Set(Object.keys(((raw.core.get(n) ?? {}) as Record<string, Record<string, unknown>>)[a] ?? {})),
    );
    out[a] = [...sets[0]].filter((v) => sets.every((s) => s.has(v))).sort(compareVersions).reverse();
  }
  return out;
}

/**
 * Images whose containers run only on the hosts of their download groups:
 * static pods (the control plane's, kube-vip, etcd under kubeadm, the nodes'
 * API server proxy). Every other image runs in a pod Kubernetes schedules, so
 * it may land on any node of the cluster.
 */
export const HOST_PINNED = new Set([
  "kubeadm_kube_apiserver", "kubeadm_kube_controller_manager", "kubeadm_kube_scheduler",
  "kube-vip", "etcd", "nginx", "haproxy",
]);

const JINJA_WORDS = new Set([
  "if", "else", "elif", "endif", "for", "endfor", "in", "is", "not", "and", "or", "true", "false", "none",
  "True", "False", "None", "loop", "item", "set", "endset", "recursive",
]);

/** The variables a Jinja2 template reads (not attributes, filters, tests or functions). */
export function referencesOf(template: string): string[] {
  const out = new Set<string>();
  for (const m of template.matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)) {
    const body = (m[1] ?? m[2]).replace(/'[^']*'|"[^"]*"/g, " ");
    for (const t of body.matchAll(/([.|]\s*|\bis\s+(?:not\s+)?)?\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?/g)) {
      if (t[1] || t[3] || JINJA_WORDS.has(t[2])) continue;
      out.add(t[2]);
    }
  }
  return [...out];
}

function referencesIn(v: unknown): string[] {
  if (typeof v === "string") return referencesOf(v);
  if (Array.isArray(v)) return v.flatMap(referencesIn);
  if (v && typeof v === "object") return Object.values(v).flatMap(referencesIn);
  return [];
}

/** Every variable the values read, transitively through Kubespray's defaults. */
export function dependencies(raw: RawDefaults, values: unknown[]): string[] {
  const seen = new Set<string>();
  const queue = values.flatMap(referencesIn);
  while (queue.length) {
    const v = queue.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const def = raw.core.has(v) ? raw.core.get(v) : raw.others.get(v);
    if (def !== undefined) queue.push(...referencesIn(def));
  }
  return [...seen].sort();
}

const rawValue = (raw: RawDefaults, v: string): unknown => (raw.core.has(v) ? raw.core.get(v) : raw.others.get(v));

/** A variable, then each variable its default is exactly (`calico_ctl_version` → `calico_version`). */
function aliasChain(raw: RawDefaults, v: string): string[] {
  const chain = [v];
  for (let next = soleVar(rawValue(raw, v)); next && !chain.includes(next); next = soleVar(rawValue(raw, next))) chain.push(next);
  return chain;
}

/** The tag's default as `prefix{{ version }}suffix`, with the version's alias chain. */
function tagFromOf(raw: RawDefaults, tagVar: string | undefined): { vars: string[]; prefix: string; suffix: string } | undefined {
  if (!tagVar) return undefined;
  const t = rawValue(raw, tagVar);
  const m = typeof t === "string" ? /^([^{}]*)\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}([^{}]*)$/.exec(t) : null;
  return m ? { vars: aliasChain(raw, m[2]), prefix: m[1], suffix: m[3] } : undefined;
}

/** A repository variable whose default ends with `{{ 'a' if cond else 'b' }}` (kube-vip's `-iptables`). */
function repoIfOf(raw: RawDefaults, repoVar: string | undefined): { when: Cond; then: string; else: string } | undefined {
  const r = repoVar ? rawValue(raw, repoVar) : undefined;
  const m = typeof r === "string" ? /^([^{}]*\{\{[^{}]*\}\}[^{}]*)\{\{\s*'([^']*)'\s+if\s+(.+?)\s+else\s+'([^']*)'\s*\}\}$/.exec(r) : null;
  if (!m) return undefined;
  try {
    return { when: parseCondition(`{{ ${m[3]} }}`), then: m[2], else: m[4] };
  } catch {
    return undefined;
  }
}

/** The `*_checksums` table a file's checksum is looked up in by its version variable, and whether it is per architecture. */
function checksumTable(raw: RawDefaults, d: Record<string, unknown>, versionVar: string): { table: Record<string, Record<string, unknown>> } | undefined {
  const cs = typeof d.checksum === "string" ? d.checksum : "";
  const texts = [cs, ...referencesOf(cs).filter((v) => v.endsWith("_checksum")).map((v) => String(rawValue(raw, v) ?? ""))];
  const re = new RegExp(`([a-z0-9_]+)(?:\\[image_arch\\]|\\['no_arch'\\]|\\.no_arch)\\[${versionVar}\\]`);
  for (const t of texts) {
    const name = re.exec(t)?.[1];
    const table = name ? raw.core.get(name) : undefined;
    if (table && typeof table === "object") return { table: table as Record<string, Record<string, unknown>> };
  }
  return undefined;
}

const MARK = (v: string) => `@@${v}@@`;

export interface RenderOptions {
  /** Only these Kubernetes versions (default: every supported one). */
  kubernetes?: string[];
  arches?: Arch[];
  /** Progress lines. */
  log?: (s: string) => void;
}

/** Renders a catalogue from a Kubespray checkout. */
export function renderCatalogue(kubespray: string, o: RenderOptions = {}): Catalogue {
  const log = o.log ?? (() => undefined);
  const raw = readDefaults(kubespray);
  const rawDownloads = raw.core.get("downloads") as Record<string, Record<string, unknown>> | undefined;
  if (!rawDownloads) throw new Error("no `downloads` in Kubespray's defaults");
  const defaultsRaw = (raw.core.get("download_defaults") ?? {}) as Record<string, unknown>;
  const supported = supportedKubernetes(raw);
  const arches = o.arches ?? ARCHES;
  const kubes = o.kubernetes ?? supported.amd64;
  for (const k of kubes) if (!supported.amd64.includes(k)) throw new Error(`Kubernetes ${k} is not supported by Kubespray ${raw.release}`);

  // Conditions, as airgap reads them.
  const conds = new Map<string, { enabled: Cond; file: Cond; container: Cond }>();
  const problems: string[] = [];
  const cond = (name: string, field: string, v: unknown): Cond => {
    try {
      return parseCondition(v);
    } catch (err) {
      problems.push(`downloads.${name}.${field}: ${(err as Error).message}`);
      return false;
    }
  };
  for (const [name, d] of Object.entries(rawDownloads)) {
    conds.set(name, {
      enabled: cond(name, "enabled", d.enabled ?? defaultsRaw.enabled ?? false),
      file: cond(name, "file", d.file ?? defaultsRaw.file ?? false),
      container: cond(name, "container", d.container ?? defaultsRaw.container ?? false),
    });
  }
  const extraList = extras(raw);
  const extraEnabled = new Map<string, Cond>();
  for (const x of extraList) extraEnabled.set(x.name, x.like ? conds.get(x.like)!.enabled : cond(x.name, "enabled", x.enabled));
  if (problems.length) throw new Error(`conditions airgap cannot read (extend compile/kubespray/condition.ts):\n  ${problems.join("\n  ")}`);

  // Settings those conditions read, with their defaults' own expressions, transitively.
  const settingExpr = new Map<string, Cond | undefined>();
  // Repositories whose default picks a suffix by a setting (kube-vip's `-iptables`): that setting is read too.
  const repoIfs = new Map<string, NonNullable<ReturnType<typeof repoIfOf>>>();
  for (const [name, d] of Object.entries(rawDownloads)) {
    const r = d.container !== false ? repoIfOf(raw, soleVar(d.repo)) : undefined;
    if (r) repoIfs.set(name, r);
  }
  for (const x of extraList) {
    const r = x.image ? repoIfOf(raw, x.image.repoVar) : undefined;
    if (r) repoIfs.set(x.name, r);
  }
  const pending = [...conds.values()].flatMap((c) => [c.enabled, c.file, c.container]).concat([...extraEnabled.values()], [...repoIfs.values()].map((r) => r.when)).flatMap(variablesOf);
  while (pending.length) {
    const v = pending.pop()!;
    if (settingExpr.has(v)) continue;
    const r = raw.core.has(v) ? raw.core.get(v) : raw.others.get(v);
    let expr: Cond | undefined;
    if (typeof r === "string" && r.includes("{{")) {
      try {
        expr = parseCondition(r);
        pending.push(...variablesOf(expr));
      } catch {
        expr = undefined; // a computed default airgap does not read: its rendered value stands
      }
    }
    settingExpr.set(v, expr);
  }
  const settingNames = [...settingExpr.keys()].sort();
  // Variables other roles define that the play must see (kubespray_defaults is loaded as a role).
  const otherVars: Record<string, unknown> = {};
  const need = [...settingNames, ...extraList.flatMap((x) => [x.image?.repo, x.image?.tag].join(" ").match(/[a-z0-9_]+_image_(repo|tag)/g) ?? [])];
  for (const v of need) if (!raw.core.has(v) && raw.others.has(v)) otherVars[v] = raw.others.get(v);
  const imageRepoVars = [...new Set([...raw.core.keys(), ...raw.others.keys()].filter((k) => k.endsWith("_image_repo")))].sort();
  for (const v of imageRepoVars) if (!raw.core.has(v)) otherVars[v] = raw.others.get(v);

  const versionVars: Record<string, string> = {};
  for (const [name, d] of Object.entries(rawDownloads)) {
    const vv = typeof d.version === "string" ? d.version : versionVarOf(raw, d) ? `{{ ${versionVarOf(raw, d)} }}` : "";
    versionVars[name] = vv;
  }
  const extraVars: Record<string, unknown> = {};
  extraList.forEach((x, i) => {
    extraVars[`airgap_extra_${i}`] = x.image ? { repo: x.image.repo, tag: x.image.tag } : { url: x.file!.url, version: x.file!.version };
  });
  const combos = kubes.flatMap((k) => arches.map((a) => ({ kube: k, arch: a, machine: MACHINE[a] })));
  // Every other version of a file Kubespray pins a checksum for (its `*_checksums` table), per architecture.
  const alternatives: { name: string; chain: string[]; items: { version: string; arch: Arch; machine: string }[] }[] = [];
  for (const [name, d] of Object.entries(rawDownloads)) {
    const v = conds.get(name)!.file === false ? undefined : versionVarOf(raw, d);
    if (!v || v === "kube_version" || typeof d.url !== "string") continue;
    const t = checksumTable(raw, d, v);
    if (!t) continue;
    const items = arches.flatMap((a) =>
      Object.entries(t.table[a] ?? t.table.no_arch ?? {})
        .filter(([, c]) => typeof c === "string" && c.trim() !== "" && c.trim() !== "0")
        .map(([version]) => ({ version, arch: a, machine: MACHINE[a] })));
    if (items.length) alternatives.push({ name, chain: aliasChain(raw, v), items });
  }
  const markers = Object.fromEntries([...FILE_BASES, ...IMAGE_BASES].map((b) => [b, MARK(b)]));

  const work = mkdtempSync(path.join(os.tmpdir(), "airgap-kubespray-"));
  try {
    // Few tasks, long loops: Ansible starts a worker per task, not per loop item. A task whose
    // loop meets an undefined variable fails as a whole, so each addition has its own task.
    const comboVars = {
      kube_version: "{{ item.kube }}",
      image_arch: "{{ item.arch }}",
      host_architecture: "{{ item.arch }}",
      ansible_architecture: "{{ item.machine }}",
    };
    const amd64 = { ansible_architecture: MACHINE.amd64, image_arch: "amd64", host_architecture: "amd64" };
    const tasks: Record<string, unknown>[] = [
      {
        name: "Settings",
        "ansible.builtin.debug": { msg: "{{ lookup('vars', item, default='@@undefined@@') }}" },
        loop: settingNames,
        register: "airgap_settings",
      },
      {
        name: "Bases and default Kubernetes version",
        "ansible.builtin.debug": { msg: { kube_version: "{{ kube_version }}", bases: Object.fromEntries([...FILE_BASES, ...IMAGE_BASES].map((b) => [b, `{{ ${b} }}`])) } },
        register: "airgap_defaults",
      },
      {
        name: "Every *_image_repo, bases marked",
        "ansible.builtin.debug": { msg: "{{ lookup('vars', item) }}" },
        loop: imageRepoVars,
        register: "airgap_repos",
        vars: markers,
      },
      {
        name: "Downloads, bases marked",
        "ansible.builtin.debug": { msg: "{{ downloads }}" },
        register: "airgap_marked",
        vars: { ...markers, ...amd64 },
      },
      ...extraList.map((x, i) => ({
        name: `Addition ${x.name}, bases marked`,
        "ansible.builtin.debug": { msg: `{{ airgap_extra_${i} }}` },
        register: `airgap_marked_extra_${i}`,
        ignore_errors: true,
        vars: { ...markers, ...amd64 },
      })),
      {
        name: "Downloads of every Kubernetes version and architecture",
        "ansible.builtin.debug": { msg: { downloads: "{{ downloads }}", versions: "{{ airgap_versions }}" } },
        loop: combos,
        loop_control: { label: "{{ item.kube }} {{ item.arch }}" },
        register: "airgap_combos",
        vars: comboVars,
      },
      ...extraList.map((x, i) => ({
        name: `Addition ${x.name}, every Kubernetes version`,
        "ansible.builtin.debug": { msg: `{{ airgap_extra_${i} }}` },
        loop: combos.filter((c) => c.arch === arches[0]),
        loop_control: { label: "{{ item.kube }}" },
        register: `airgap_extra_out_${i}`,
        ignore_errors: true,
        vars: comboVars,
      })),
      ...alternatives.map((alt, i) => ({
        name: `Every version of ${alt.name} Kubespray pins`,
        "ansible.builtin.debug": { msg: { url: rawDownloads[alt.name].url, checksum: rawDownloads[alt.name].checksum ?? "" } },
        loop: alt.items,
        loop_control: { label: "{{ item.version }} {{ item.arch }}" },
        register: `airgap_versions_${i}`,
        ignore_errors: true,
        vars: { [alt.chain[0]]: "{{ item.version }}", image_arch: "{{ item.arch }}", host_architecture: "{{ item.arch }}", ansible_architecture: "{{ item.machine }}" },
      })),
      {
        name: "Write everything",
        "ansible.builtin.copy": {
          dest: "{{ airgap_work }}/rendered.json",
          mode: "0644",
          content: `{{ {
            'settings': airgap_settings.results | map(attribute='msg') | list,
            'defaults': airgap_defaults.msg,
            'repos': airgap_repos.results | map(attribute='msg') | list,
            'marked': airgap_marked.msg,
            'marked_extras': [${extraList.map((_, i) => `airgap_marked_extra_${i}.msg if airgap_marked_extra_${i} is succeeded else none`).join(", ")}],
            'combos': airgap_combos.results | map(attribute='msg') | list,
            'extras': [${extraList.map((_, i) => `(airgap_extra_out_${i}.results | default([])) | map(attribute='msg') | list if airgap_extra_out_${i} is succeeded else none`).join(", ")}],
            'versions': [${alternatives.map((_, i) => `{'msg': airgap_versions_${i}.results | map(attribute='msg') | list, 'failed': airgap_versions_${i}.results | map(attribute='failed', default=false) | list}`).join(", ")}]
          } | to_json }}`,
        },
      },
    ];
    const play = [
      {
        name: "Render Kubespray's downloads",
        hosts: "localhost",
        gather_facts: false,
        vars: { airgap_work: work, airgap_versions: versionVars, ansible_system: "Linux", ...otherVars, ...extraVars },
        roles: [{ role: "kubespray_defaults", when: false }],
        tasks,
      },
    ];
    log(`rendering Kubespray ${raw.release}: ${kubes.length} Kubernetes versions x ${arches.length} architectures`);
    runPlaybook(kubespray, work, play, {});
    interface Rendered {
      settings: unknown[];
      defaults: { kube_version: string; bases: Record<string, string> };
      repos: unknown[];
      marked: Record<string, Record<string, unknown>>;
      marked_extras: (Record<string, string> | null)[];
      combos: { downloads: Record<string, Record<string, unknown>>; versions: Record<string, string> }[];
      extras: (Record<string, string>[] | null)[];
      versions: { msg: unknown[]; failed: boolean[] }[];
    }
    const r = readJson(work, "rendered.json") as Rendered;

    // Settings and bases.
    const s = r.defaults;
    const settings: Record<string, Setting> = {};
    settingNames.forEach((name, i) => {
      const expr = settingExpr.get(name);
      const v = r.settings[i];
      settings[name] = { ...(v === "@@undefined@@" ? {} : { default: v }), ...(expr ? { expr } : {}) };
    });
    const lookup = (name: string): unknown => {
      const st = settings[name];
      if (!st) return undefined;
      return st.expr !== undefined ? evaluate(st.expr, lookup) : st.default;
    };

    // Image repositories that name their registry themselves.
    const imageRepos: Record<string, string> = {};
    imageRepoVars.forEach((name, i) => {
      const v = r.repos[i];
      if (typeof v === "string" && !v.includes("@@")) imageRepos[name] = v;
    });

    const marked = r.marked;
    const markedExtras = r.marked_extras;
    const baseOf = (v: unknown, bases: readonly string[]): string | undefined =>
      typeof v === "string" ? bases.find((b) => v.startsWith(MARK(b))) : undefined;

    // Per combination: files and images.
    const fileRows = new Map<string, Map<string, { arch: Arch; kube: string; v: Omit<FileVariant, "kubernetes"> }[]>>();
    const imageRows = new Map<string, { arch: Arch; kube: string; v: { repo: string; tag: string } }[]>();
    const push = <T>(m: Map<string, T[]>, k: string, x: T) => m.set(k, [...(m.get(k) ?? []), x]);
    const mismatches: string[] = [];
    combos.forEach((c, ci) => {
      const data = r.combos[ci];
      for (const [name, d] of Object.entries(data.downloads)) {
        const cc = conds.get(name)!;
        if (c.kube === s.kube_version && c.arch === "amd64") {
          // The reading of each condition must agree with Ansible's rendering of it.
          for (const [field, cnd] of [["enabled", cc.enabled], ["file", cc.file], ["container", cc.container]] as const) {
            const rendered = d[field] ?? defaultsRaw[field] ?? false;
            if (truthy(rendered) !== evaluate(cnd, lookup)) mismatches.push(`downloads.${name}.${field}: Ansible says ${JSON.stringify(rendered)}`);
          }
        }
        if (cc.file !== false && typeof d.url === "string" && d.url !== "None") {
          const byFile = fileRows.get(name) ?? new Map();
          push(byFile, "", { arch: c.arch, kube: c.kube, v: { arch: c.arch, version: String(data.versions[name] ?? ""), url: d.url, checksum: normChecksum(d.checksum) } });
          fileRows.set(name, byFile);
        }
        if (cc.container !== false && typeof d.repo === "string" && d.repo !== "None") {
          push(imageRows, name, { arch: c.arch, kube: c.kube, v: { repo: d.repo, tag: String(d.tag) } });
        }
      }
    });
    // Additions are the same on every architecture (images are multi-arch, charts are not binaries).
    const firstArch = combos.filter((c) => c.arch === arches[0]);
    extraList.forEach((x, i) => {
      const out = r.extras[i];
      if (!out) return;
      firstArch.forEach((c, ci) => {
        const m = out[ci];
        if (!m || typeof m !== "object") return;
        if (x.image) {
          for (const a of arches) push(imageRows, x.name, { arch: a, kube: c.kube, v: { repo: m.repo, tag: m.tag } });
        } else {
          const byFile = fileRows.get(x.name) ?? new Map();
          for (const a of arches) push(byFile, "", { arch: a, kube: c.kube, v: { arch: a, version: m.version, url: m.url, checksum: null } });
          fileRows.set(x.name, byFile);
        }
      });
    });
    if (mismatches.length) throw new Error(`airgap's reading of Kubespray's conditions disagrees with Ansible:\n  ${mismatches.join("\n  ")}`);

    const allKubes = [...kubes].sort(compareVersions).reverse();
    const kubeList = (ks: string[]) => {
      const set = [...new Set(ks)].sort(compareVersions).reverse();
      return set.length === allKubes.length ? {} : { kubernetes: set };
    };
    const fileVariants = (rows: { arch: Arch; kube: string; v: Omit<FileVariant, "kubernetes"> }[]): FileVariant[] => {
      const groups = new Map<string, { v: Omit<FileVariant, "kubernetes">; kubes: string[] }>();
      for (const r of rows) {
        const key = JSON.stringify(r.v);
        const g = groups.get(key) ?? { v: r.v, kubes: [] };
        g.kubes.push(r.kube);
        groups.set(key, g);
      }
      return [...groups.values()]
        .map((g) => ({ ...kubeList(g.kubes), ...g.v }))
        .sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : compareVersions(b.kubernetes?.[0] ?? "", a.kubernetes?.[0] ?? "")));
    };
    const imageVariants = (rows: { arch: Arch; kube: string; v: { repo: string; tag: string } }[]): ImageVariant[] => {
      const perArch = new Set(kubes.map((k) => new Set(rows.filter((r) => r.kube === k).map((r) => JSON.stringify(r.v))).size > 1)).has(true);
      const groups = new Map<string, { v: { repo: string; tag: string }; arch?: Arch; kubes: string[] }>();
      for (const r of rows) {
        const key = JSON.stringify([perArch ? r.arch : "", r.v]);
        const g = groups.get(key) ?? { v: r.v, ...(perArch ? { arch: r.arch } : {}), kubes: [] };
        g.kubes.push(r.kube);
        groups.set(key, g);
      }
      return [...groups.values()]
        .map((g) => ({ ...kubeList(g.kubes), ...(g.arch ? { arch: g.arch } : {}), repo: normalizeRepo(g.v.repo), tag: g.v.tag }))
        .sort((a, b) => compareVersions(b.kubernetes?.[0] ?? "", a.kubernetes?.[0] ?? "") || (a.tag < b.tag ? -1 : 1));
    };

    // What follows a setting the site may change: other versions, the tag, a repository suffix; and what reads what.
    const fileFollow = (name: string, values: unknown[], variants: FileVariant[]): Pick<FilePart, "versionVars" | "versions" | "deps"> => {
      const out: Pick<FilePart, "versionVars" | "versions" | "deps"> = {};
      const i = alternatives.findIndex((a) => a.name === name);
      if (i >= 0) {
        const alt = alternatives[i];
        const res = r.versions[i];
        const versions: FileVariant[] = [];
        alt.items.forEach((it, k) => {
          const m = res.msg[k] as { url?: unknown; checksum?: unknown } | string;
          if (res.failed[k] || typeof m !== "object" || typeof m.url !== "string" || m.url === "None") return log(`  ${name} ${it.version} ${it.arch}: not rendered (left out)`);
          let checksum: string | null;
          try {
            checksum = normChecksum(m.checksum);
          } catch {
            return log(`  ${name} ${it.version} ${it.arch}: unreadable checksum (left out)`);
          }
          const v: FileVariant = { arch: it.arch, version: it.version, url: m.url, checksum };
          const same = variants.find((x) => x.arch === v.arch && x.version === v.version);
          if (!same) versions.push(v);
          else if (same.url !== v.url || same.checksum !== v.checksum) {
            throw new Error(`${name} ${v.version} (${v.arch}) rendered by ${alt.chain[0]} differs from the default rendering: ${v.url} ${v.checksum} / ${same.url} ${same.checksum}`);
          }
        });
        out.versionVars = alt.chain;
        if (versions.length) out.versions = versions.sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : compareVersions(b.version, a.version)));
      }
      out.deps = dependencies(raw, values);
      return out;
    };
    const imageFollow = (name: string, tag: unknown, values: unknown[], variants: ImageVariant[]): Pick<ImagePart, "tagVar" | "tagFrom" | "repoIf" | "deps"> => {
      const tagVar = soleVar(tag);
      const tagFrom = tagFromOf(raw, tagVar);
      if (tagFrom && !variants.every((v) => v.tag.startsWith(tagFrom.prefix) && v.tag.endsWith(tagFrom.suffix))) {
        throw new Error(`${name}: airgap reads ${tagVar} as "${tagFrom.prefix}{{ ${tagFrom.vars[0]} }}${tagFrom.suffix}", Ansible renders ${variants.map((v) => v.tag).join(", ")}`);
      }
      const repoIf = repoIfs.get(name);
      if (repoIf) {
        const want = evaluate(repoIf.when, lookup) ? repoIf.then : repoIf.else;
        if (!variants.every((v) => v.repo.endsWith(want))) throw new Error(`${name}: airgap reads the repository as ending with "${want}", Ansible renders ${variants[0].repo}`);
      }
      return { ...(tagVar ? { tagVar } : {}), ...(tagFrom ? { tagFrom } : {}), ...(repoIf ? { repoIf } : {}), deps: dependencies(raw, values) };
    };

    const downloads: Download[] = [];
    for (const [name, d] of Object.entries(rawDownloads)) {
      const cc = conds.get(name)!;
      const m = marked[name] ?? {};
      const entry: Download = { name, origin: "kubespray", enabled: cc.enabled, groups: ((d.groups ?? []) as string[]).slice() };
      const fr = fileRows.get(name)?.get("");
      if (fr && cc.file !== false) {
        const base = baseOf(m.url, FILE_BASES);
        const variants = fileVariants(fr);
        const part: FilePart = {
          when: cc.file, ...(soleVar(d.url) ? { urlVar: soleVar(d.url) } : {}), ...(base ? { base } : {}), variants,
          ...fileFollow(name, [d.url, d.checksum], variants),
        };
        entry.file = part;
      }
      const ir = imageRows.get(name);
      if (ir && cc.container !== false) {
        const base = baseOf(m.repo, IMAGE_BASES);
        const variants = imageVariants(ir);
        const part: ImagePart = {
          when: cc.container, ...(soleVar(d.repo) ? { repoVar: soleVar(d.repo) } : {}), ...(base ? { base } : {}), variants,
          ...imageFollow(name, d.tag, [d.repo, d.tag, d.checksum], variants),
        };
        entry.image = part;
        if (HOST_PINNED.has(name)) entry.runsOn = "hosts";
      }
      if (entry.file || entry.image) downloads.push(entry);
    }
    extraList.forEach((x, i) => {
      const entry: Download = { name: x.name, origin: x.origin, note: x.note, enabled: simplify(extraEnabled.get(x.name)!), groups: x.groups };
      const mk = markedExtras[i] ?? undefined;
      if (x.image) {
        const ir = imageRows.get(x.name);
        if (!ir) {
          if (x.required) throw new Error(`${x.name} (${x.image.repo}:${x.image.tag}) could not be rendered for any Kubernetes version`);
          return log(`  ${x.name}: not rendered for any version (left out)`);
        }
        const base = baseOf(mk?.repo, IMAGE_BASES);
        const variants = imageVariants(ir);
        entry.image = {
          when: true, repoVar: x.image.repoVar, ...(x.image.repoSuffix ? { repoSuffix: x.image.repoSuffix } : {}), ...(base ? { base } : {}), variants,
          ...imageFollow(x.name, x.image.tag, [x.image.repo, x.image.tag], variants),
        };
        if (HOST_PINNED.has(x.name)) entry.runsOn = "hosts";
      } else {
        const fr = fileRows.get(x.name)?.get("");
        if (!fr) return log(`  ${x.name}: not rendered for any version (left out)`);
        const variants = fileVariants(fr);
        entry.file = { when: true, repoFlag: x.file!.repoFlag, variants, ...fileFollow(x.name, [x.file!.url, x.file!.version, `{{ ${x.file!.repoFlag.var} }}`], variants) };
      }
      downloads.push(entry);
    });
    downloads.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    const known = (v: string) => raw.core.has(v) || raw.others.has(v) || raw.sample.has(v);
    const variables = [
      ...AIRGAP_WRITES,
      ...Object.keys(imageRepos),
      ...downloads.flatMap((d) => [d.file?.urlVar ?? "", d.file?.repoFlag?.var ?? ""]),
      ...settingNames,
    ].filter((v) => v && known(v));
    return {
      format: CATALOGUE_FORMAT,
      kubespray: raw.release,
      ...(raw.commit ? { commit: raw.commit } : {}),
      ansible: ansibleVersion(),
      kubernetes: { default: s.kube_version, supported: allKubes },
      controller: { requirements: raw.requirements },
      arches: [...arches],
      bases: s.bases,
      settings,
      imageRepos,
      variables: [...new Set(variables)].sort(),
      registryAuth: registryAuth(raw.dir),
      downloads,
    };
  } finally {
    if (!process.env.AIRGAP_KEEP_RENDER) rmSync(work, { recursive: true, force: true });
  }
}

// ---- The live list: what Kubespray would download for a compiled inventory ----

export interface LiveHost {
  host: string;
  arch: string;
  groups: string[];
  downloads: Record<string, Record<string, unknown>>;
  /** `kubeadm config images list` as Kubespray would get it (from kubeadm_image_repo and kube_version). */
  kubeadm: string[];
}

/**
 * Renders Kubespray's `downloads` for every Kubernetes host of a compiled
 * inventory, with the inventory's variables (the compiled offline vars
 * included), without connecting to any host.
 */
export function renderLive(kubespray: string, inventory: string): LiveHost[] {
  const work = mkdtempSync(path.join(os.tmpdir(), "airgap-kubespray-live-"));
  try {
    const play = [
      {
        name: "Render Kubespray's downloads per host",
        hosts: "k8s_cluster:etcd",
        gather_facts: false,
        vars: {
          ansible_system: "Linux",
          host_architecture: "{{ airgap_arch | default('amd64') }}",
          image_arch: "{{ airgap_arch | default('amd64') }}",
          ansible_architecture: `{{ ${JSON.stringify(MACHINE).replace(/"/g, "'")}[airgap_arch | default('amd64')] }}`,
        },
        roles: [{ role: "kubespray_defaults", when: false }],
        tasks: [
          {
            name: "Render",
            "ansible.builtin.set_fact": {
              airgap_rendered: {
                host: "{{ inventory_hostname }}",
                arch: "{{ image_arch }}",
                groups: "{{ group_names }}",
                downloads: "{{ downloads }}",
                kubeadm: ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"].map((c) => `{{ ${kubeadmRepoVar(kubespray)} }}/${c}:v{{ kube_version }}`),
              },
            },
          },
        ],
      },
      {
        name: "Write",
        hosts: "localhost",
        gather_facts: false,
        tasks: [
          {
            "ansible.builtin.copy": {
              content: "{{ (groups['k8s_cluster'] + groups['etcd']) | unique | map('extract', hostvars, 'airgap_rendered') | list | to_json }}",
              dest: `${work}/live.json`,
              mode: "0644",
            },
          },
        ],
      },
    ];
    runPlaybook(kubespray, work, play, {}, inventory);
    return readJson(work, "live.json") as LiveHost[];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The compiler's reader of a site's Kubespray checkout (`kubespray.checkout`), through this module. */
export const checkoutReader: CheckoutReader = {
  read(dir) {
    const raw = readDefaults(dir);
    return { release: raw.release, commit: raw.commit, supported: supportedKubernetes(raw).amd64 };
  },
  render: (dir, kubernetes) => renderCatalogue(dir, { kubernetes: [kubernetes] }),
};
