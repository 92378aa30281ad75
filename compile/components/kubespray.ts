/**
 * The Kubernetes deployment: Kubespray's cluster shape, the exact list of
 * files and images it needs (from the release's catalogue), and its offline
 * settings. This component writes every Kubespray variable of the offline vars
 * file but those other components own: `files_repo`, `github_url`,
 * `dl_k8s_io_url`, `storage_googleapis_url`, `get_helm_url`, `debian_repo`,
 * `ubuntu_repo`, `yum_repo` (repos.ts), `registry_host` (registry.ts),
 * `ntp_enabled` (ntp.ts), `upstream_dns_servers`, `resolvconf_mode` (dns.ts).
 * It checks the whole file: nothing Kubespray fetches may come from outside.
 */
import path from "node:path";
import type { Arch, KubesprayAddon, KubesprayConfig, Services, Site } from "../../dsl/index.js";
import { flag, type Context } from "../model/context.js";
import { checkNoLiteralSecrets, isKubernetes, type CoreModel } from "../model/site.js";
import { formatCidr, overlaps, parseCidr, type Cidr } from "../model/ip.js";
import { computeList, TYPED_SETTINGS, type KubesprayArtifacts } from "../kubespray/artifacts.js";
import { truthy } from "../kubespray/condition.js";
import { loadCatalogue, readCatalogueFile, shippedReleases, type Catalogue } from "../kubespray/catalogue.js";
import { CA_PATHS_VAR, caPaths, findLeaks, offlineVars, outsideVariables, resolveRefs, type Leak } from "../kubespray/offline.js";
import { sourceCommit, sourcePath } from "../kubespray/source.js";
import { secretExpression, type Component, type StateExport } from "./component.js";

export interface KubesprayModel {
  version: string;
  kubernetes: string;
  containerRuntime: "containerd" | "crio";
  networkPlugin: string;
  etcdDeployment: "host" | "kubeadm";
  addons: KubesprayAddon[];
  everything: boolean;
  checkout?: string;
  /** The checkout as an absolute path (`deploy.yml` imports its `cluster.yml`). */
  checkoutDir?: string;
  extraVars: Record<string, unknown>;
  /** The release's catalogue. */
  catalogue: Catalogue;
  /** Kubespray's inventory groups → architectures of their hosts. */
  groups: Record<string, Arch[]>;
  /** Kubespray settings the site decides (what enables each download). */
  settings: Record<string, unknown>;
  /** What the cluster needs (everything the release knows with `everything`). */
  artifacts: KubesprayArtifacts;
  /** Kubernetes hosts' OS families (which package repository variables Kubespray reads). */
  families: ("Debian" | "RedHat")[];
  /**
   * The Kubespray variables this component writes, the site's extraVars last:
   * computed by `validate`, from the other services' variables.
   */
  vars: Record<string, unknown>;
  /** The site file's `kubespray` block (errors found later point into it). */
  config: KubesprayConfig;
}

const VERSION = /^\d+\.\d+\.\d+$/;
const RUNTIMES = ["containerd", "crio"];
const PLUGINS = ["calico", "cilium", "flannel", "kube-ovn", "kube-router"];
const ETCD = ["host", "kubeadm"];

/** Each add-on's Kubespray setting. */
export const ADDONS: Record<KubesprayAddon, string> = {
  helm: "helm_enabled",
  "metrics-server": "metrics_server_enabled",
  "local-path-provisioner": "local_path_provisioner_enabled",
  "local-volume-provisioner": "local_volume_provisioner_enabled",
  "cert-manager": "cert_manager_enabled",
  metallb: "metallb_enabled",
  argocd: "argocd_enabled",
  "gateway-api": "gateway_api_enabled",
  "prometheus-operator-crds": "prometheus_operator_crds_enabled",
  registry: "registry_enabled",
  "kube-vip": "kube_vip_enabled",
  multus: "kube_network_plugin_multus",
  "csi-snapshot-controller": "csi_snapshot_controller_enabled",
  "cinder-csi": "cinder_csi_enabled",
  "aws-ebs-csi": "aws_ebs_csi_enabled",
  "ingress-alb": "ingress_alb_enabled",
  hubble: "cilium_enable_hubble",
  "calico-typha": "typha_enabled",
  "calico-apiserver": "calico_apiserver_enabled",
  "node-feature-discovery": "node_feature_discovery_enabled",
  netchecker: "deploy_netchecker",
  gvisor: "gvisor_enabled",
  "kata-containers": "kata_containers_enabled",
  crun: "crun_enabled",
  youki: "youki_enabled",
  "ingress-nginx": "ingress_nginx_enabled",
  dashboard: "dashboard_enabled",
};

/** Kubespray's group for each host role. */
const GROUP_OF = { "control-plane": "kube_control_plane", worker: "kube_node", etcd: "etcd" } as const;

/**
 * The cluster's shape, checked whenever the site has Kubernetes hosts or a
 * Kubespray service. Counted over every host the site declares, valid or not:
 * a host with a wrong address is reported once, not again as a missing
 * control plane.
 */
function checkCluster(ctx: Context, site: Site, services: Services): void {
  const declared = (site.hosts ?? []).map((h) => ({ name: h.name, raw: h, roles: Array.isArray(h.roles) ? h.roles : [] }));
  const k8s = declared.filter(isKubernetes);
  if (k8s.length === 0 && !services.kubespray) return;
  // A role the DSL does not know is reported (AG038); it may be the one that is "missing" here.
  if (declared.some((h) => h.roles.some((r) => !KNOWN_ROLES.includes(r)))) return;
  const owner = services.kubespray ?? services;
  const key = services.kubespray ? "version" : undefined;
  if (!declared.some((h) => h.roles.includes("control-plane"))) {
    ctx.error("AG050", "the cluster has no control-plane host", owner, key, 'give at least one host roles: ["control-plane", "etcd"]');
  }
  const etcd = declared.filter((h) => h.roles.includes("etcd"));
  if (etcd.length === 0) {
    ctx.error("AG051", "the cluster has no etcd member", owner, key, "etcd needs 1, 3 or 5 members");
  } else if (etcd.length % 2 === 0) {
    ctx.error("AG051", `the cluster has ${etcd.length} etcd members; etcd needs an odd number to keep quorum`, owner, key,
      `etcd members: ${etcd.map((h) => h.name).join(", ")}`);
  }
  if (k8s.length > 0 && !declared.some((h) => h.roles.includes("worker"))) {
    // Without a Kubespray block, at the roles of the first Kubernetes host.
    const at = services.kubespray ? { owner: services.kubespray as object, key: "version" } : { owner: k8s[0].raw as object, key: "roles" };
    ctx.error("AG142", `the cluster has no worker: no node can run workloads (Kubespray taints control-plane hosts that are not in kube_node)`, at.owner, at.key,
      `give at least one host the "worker" role (a small cluster: roles: ["control-plane", "etcd", "worker"])`);
  }
}

const KNOWN_ROLES: string[] = ["admin", "control-plane", "worker", "etcd", "gateway"];

/** Kubespray's defaults for the cluster's own ranges and DNS domain (its inventory sample, k8s_cluster.yml; unchanged in 2.28 to 2.31). */
export const CLUSTER_DEFAULTS = { kube_service_addresses: "10.233.0.0/18", kube_pods_subnet: "10.233.64.0/18", cluster_name: "cluster.local" };

/**
 * The cluster's service and pod ranges against the site's networks and each
 * other, and its DNS domain against the site's (AG145): a node routes a range
 * that overlaps a site network into the cluster, and a site zone inside the
 * cluster's domain (or around it) is answered by the wrong server. Errors
 * point at the extraVars entry that sets the value, else at the site's network
 * or domain. True when something was reported.
 */
function checkClusterRanges(ctx: Context, core: CoreModel, site: Site, s: KubesprayConfig, extraVars: Record<string, unknown>): boolean {
  let bad = false;
  const ranges: { name: string; range: Cidr; set: boolean }[] = [];
  for (const name of ["kube_service_addresses", "kube_pods_subnet"] as const) {
    const set = name in extraVars;
    const value = set ? extraVars[name] : CLUSTER_DEFAULTS[name];
    const range = parseCidr(value);
    if (!range) {
      bad = true;
      ctx.error("AG145", `extraVars.${name} "${String(value)}" is not an IPv4 network in CIDR form`, extraVars, name, 'for example "10.233.0.0/18"');
      continue;
    }
    for (const n of core.networks.filter((x) => overlaps(x.range, range))) {
      bad = true;
      const raw = (site.networks ?? []).find((x) => x.name === n.name);
      ctx.error("AG145", `the cluster's ${name} ${formatCidr(range)}${set ? "" : " (Kubespray's default)"} overlaps the site network "${n.name}" (${n.cidr}): nodes would route it into the cluster`,
        set ? extraVars : raw, set ? name : "cidr", set ? "choose a range no site network uses" : `set extraVars.${name} to a range no site network uses`);
    }
    const other = ranges.find((r) => overlaps(r.range, range));
    if (other && (set || other.set)) {
      bad = true;
      ctx.error("AG145", `the cluster's ${name} ${formatCidr(range)} overlaps its ${other.name}`, extraVars, set ? name : other.name, "the service and pod ranges must be disjoint");
    }
    ranges.push({ name, range, set });
  }
  const domainVar = "dns_domain" in extraVars ? "dns_domain" : "cluster_name" in extraVars ? "cluster_name" : undefined;
  const cluster = String(domainVar ? extraVars[domainVar] : CLUSTER_DEFAULTS.cluster_name).replace(/\.$/, "").toLowerCase();
  const domain = String(core.domain);
  if (domain === cluster || domain.endsWith(`.${cluster}`) || cluster.endsWith(`.${domain}`)) {
    bad = true;
    ctx.error("AG145", `the site's domain ${domain} and the cluster's DNS domain ${cluster}${domainVar ? "" : " (Kubespray's default)"} overlap: one of the site DNS and CoreDNS would answer for the other's names`,
      domainVar ? extraVars : site, domainVar ?? "domain", domainVar ? "choose a cluster domain apart from the site's" : "choose a site domain apart from the cluster's (or set extraVars.cluster_name)");
  }
  return bad;
}

/** Architectures of the hosts of each Kubespray group. */
export function groupArches(core: CoreModel): Record<string, Arch[]> {
  const out: Record<string, Arch[]> = { kube_control_plane: [], kube_node: [], etcd: [] };
  for (const h of core.hosts) {
    for (const role of h.roles) {
      if (role === "admin" || role === "gateway") continue;
      const g = GROUP_OF[role];
      if (!out[g].includes(h.arch)) out[g].push(h.arch);
    }
  }
  for (const g of Object.keys(out)) out[g].sort();
  return out;
}

/** Lists a few values, then "…". */
function some(list: string[], n = 8): string {
  return list.length <= n ? list.join(", ") : `${list.slice(0, n).join(", ")}, … (${list.length} in all)`;
}

const rendered = new Map<string, Catalogue>();

/**
 * The catalogue of the site's Kubespray checkout, rendered for the site's
 * Kubernetes version (Ansible runs once per checkout, commit and version in a
 * process). Reports a missing checkout, another release, or a failed rendering.
 */
function checkoutCatalogue(ctx: Context, s: KubesprayConfig): Catalogue | undefined {
  const dir = path.resolve(path.dirname(ctx.siteFile), s.checkout!);
  const reader = ctx.checkouts;
  if (!reader) {
    ctx.error("AG094", "this caller of the compiler cannot read Kubespray checkouts", s, "checkout", "run airgap compile, or name a catalogue file instead (catalogue)");
    return undefined;
  }
  let raw: ReturnType<typeof reader.read>;
  try {
    raw = reader.read(dir);
  } catch (err) {
    ctx.error("AG094", `the Kubespray checkout cannot be read: ${(err as Error).message}`, s, "checkout");
    return undefined;
  }
  if (raw.release !== s.version) {
    ctx.error("AG094", `the Kubespray checkout ${s.checkout} is release ${raw.release}, not ${s.version}`, s, "version", `write version: "${raw.release}"`);
    return undefined;
  }
  const key = `${dir}\0${raw.commit ?? ""}\0${s.kubernetes}`;
  const hit = rendered.get(key);
  if (hit) return hit;
  try {
    const c = reader.render(dir, s.kubernetes);
    rendered.set(key, c);
    return c;
  } catch (err) {
    const msg = (err as Error).message;
    if (/is not supported by Kubespray/.test(msg)) {
      ctx.error("AG095", `Kubespray ${s.version} (${s.checkout}) does not support Kubernetes ${s.kubernetes}`, s, "kubernetes",
        `Kubespray ${s.version} supports ${some(raw.supported, 30)}`);
    } else {
      ctx.error("AG094", `rendering the lists of the Kubespray checkout ${s.checkout} failed: ${msg}`, s, "checkout");
    }
    return undefined;
  }
}

/** The catalogue file the site names, if it reads and is for the site's release. */
function fileCatalogue(ctx: Context, s: KubesprayConfig): Catalogue | undefined {
  const file = path.resolve(path.dirname(ctx.siteFile), s.catalogue!);
  let c: Catalogue;
  try {
    c = readCatalogueFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    ctx.error("AG094", `the Kubespray catalogue ${s.catalogue} cannot be read: ${e.code === "ENOENT" ? "no such file" : e.message}`, s, "catalogue",
      "write one with `npm run kubespray:catalogue -- KUBESPRAY_DIR OUT_DIR` (docs/kubespray.md)");
    return undefined;
  }
  if (c.kubespray !== s.version) {
    ctx.error("AG094", `the Kubespray catalogue ${s.catalogue} is for release ${c.kubespray}, not ${s.version}`, s, "version", `write version: "${c.kubespray}"`);
    return undefined;
  }
  return c;
}

/** Whether airgap carries Cilium's chart and can point the release's cilium-cli at it (2.30 and later). */
function servesCiliumChart(c: Catalogue): boolean {
  return c.downloads.some((d) => d.file?.repoFlag && d.name === "cilium_chart");
}

/** Releases, those that support the site's Kubernetes version first: "2.30.0 (supports Kubernetes 1.32.8), 2.31.0 (Kubernetes 1.33.0 to 1.35.4)". */
function releasesFor(releases: string[], kubernetes: string): string {
  const supported = (r: string) => loadCatalogue(r)!.kubernetes.supported;
  const fits = (r: string) => supported(r).includes(kubernetes);
  return [...releases.filter(fits), ...releases.filter((r) => !fits(r))]
    .map((r) => (fits(r) ? `${r} (supports Kubernetes ${kubernetes})` : `${r} (Kubernetes ${supported(r).at(-1)} to ${supported(r)[0]})`))
    .join(", ");
}

/** The shipped releases whose templates give the runtime the pull account. */
function releasesWithRegistryAuth(runtime: "containerd" | "crio"): string[] {
  return shippedReleases().filter((r) => loadCatalogue(r)?.registryAuth?.[runtime]);
}

/** What the Ansible controller that runs Kubespray needs, and where it gets it inside the site. */
function controllerLines(requirements: string[], index: string | undefined): string[] {
  if (requirements.length === 0) return [];
  const list = requirements.map((r) => `\`${r}\``).join(", ");
  return [
    `The Ansible controller that runs Kubespray needs its Python packages (Kubespray's \`requirements.txt\`): ${list}.`,
    index
      ? `\`airgap bundle\` carries them for the index host's Python; the road above installs them from the site's index (${index}) alone, into a venv.`
      : "The site has no Python package index: install them on the controller before it enters the site, or add a `pypi` service that carries them.",
  ];
}

function leakMessage(l: Leak): string {
  return l.kind === "variable" ? `${l.what} sends Kubespray outside the site: ${l.from}` : `Kubespray would fetch ${l.what} from ${l.from}`;
}

/** Kubespray's certificate folders (its kube_cert_dir and etcd_cert_dir defaults). */
export const KUBE_CERT_DIR = "/etc/kubernetes/ssl";
export const ETCD_CERT_DIR = "/etc/ssl/etcd/ssl";

/**
 * The cluster's certificate authorities, which no bundle rebuilds: an etcd
 * snapshot restored onto rebuilt control-plane hosts needs the same CA and
 * service-account keys (Kubernetes' "Backing up an etcd cluster").
 */
function kubesprayState(core: CoreModel, etcd: "host" | "kubeadm"): StateExport[] {
  const restore = (dir: string) => `before Kubespray's cluster.yml rebuilds the host, copy DIR${dir} back to ${dir} (root, keys 0600), so that it reuses these authorities`;
  return [
    {
      name: "kubernetes-pki", hosts: core.hosts.filter((h) => h.roles.includes("control-plane")), paths: [KUBE_CERT_DIR], restore: restore(KUBE_CERT_DIR),
      what: `the cluster's CA, front-proxy CA and service-account keys (${KUBE_CERT_DIR}${etcd === "kubeadm" ? ", with etcd's CA under etcd/" : ""})`,
    },
    ...(etcd === "host"
      ? [{ name: "etcd-pki", hosts: core.hosts.filter((h) => h.roles.includes("etcd")), paths: [ETCD_CERT_DIR], restore: restore(ETCD_CERT_DIR), what: `etcd's CA and the members' certificates (${ETCD_CERT_DIR})` }]
      : []),
  ];
}

export const kubespray: Component<KubesprayModel> = {
  key: "kubespray",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const services: Services = site.services ?? {};
    checkCluster(ctx, site, services);
    const s: KubesprayConfig | undefined = services.kubespray;
    if (!s) return undefined;
    let ok = true;
    const fail = (...a: Parameters<Context["error"]>) => {
      ok = false;
      ctx.error(...a);
    };
    if (!VERSION.test(s.version ?? "")) fail("AG092", `"${s.version}" is not a Kubespray release number`, s, "version", 'for example "2.30.0"');
    if (!VERSION.test(s.kubernetes ?? "")) fail("AG092", `"${s.kubernetes}" is not a Kubernetes version`, s, "kubernetes", 'for example "1.32.8" (no leading v)');
    const containerRuntime = s.containerRuntime ?? "containerd";
    if (!RUNTIMES.includes(containerRuntime)) fail("AG093", `unknown container runtime "${containerRuntime}"`, s, "containerRuntime", `one of: ${RUNTIMES.join(", ")}`);
    const networkPlugin = s.networkPlugin ?? "calico";
    if (!PLUGINS.includes(networkPlugin)) fail("AG093", `unknown network plugin "${networkPlugin}"`, s, "networkPlugin", `one of: ${PLUGINS.join(", ")}`);
    const etcdDeployment = s.etcdDeployment ?? "host";
    if (!ETCD.includes(etcdDeployment)) fail("AG093", `unknown etcd deployment "${etcdDeployment}"`, s, "etcdDeployment", `one of: ${ETCD.join(", ")}`);
    checkNoLiteralSecrets(ctx, s.extraVars);
    const everything = flag(ctx, s, "everything", false);
    if (!ok) return undefined;

    // The release and the Kubernetes version must be ones airgap has the lists of
    // (from the site's own Kubespray checkout when it names one).
    let catalogue: Catalogue | undefined;
    if (s.checkout !== undefined && s.catalogue !== undefined) {
      ctx.error("AG094", "a Kubespray checkout and a catalogue file are two sources for the same lists", s, "catalogue", "keep one: checkout (rendered live) or catalogue");
      return undefined;
    }
    if (s.catalogue !== undefined) {
      const file = fileCatalogue(ctx, s);
      if (!file) return undefined;
      catalogue = file;
    } else if (s.checkout !== undefined) {
      const live = checkoutCatalogue(ctx, s);
      if (!live) return undefined;
      catalogue = live;
    } else {
      catalogue = loadCatalogue(s.version);
    }
    if (!catalogue) {
      ctx.error("AG094", `airgap has no artifact list for Kubespray ${s.version}`, s, "version",
        `airgap knows Kubespray ${shippedReleases().join(", ")}; for another release, regenerate its catalogue from a checkout (docs/kubespray.md)`);
      return undefined;
    }
    if (!catalogue.kubernetes.supported.includes(s.kubernetes)) {
      ctx.error("AG095", `Kubespray ${s.version} does not support Kubernetes ${s.kubernetes}`, s, "kubernetes",
        `Kubespray ${s.version} supports ${some(catalogue.kubernetes.supported, 30)}`);
      return undefined;
    }
    const addons = s.addons ?? [];
    const settings: Record<string, unknown> = {
      kube_version: s.kubernetes,
      container_manager: containerRuntime,
      kube_network_plugin: networkPlugin,
      etcd_deployment_type: etcdDeployment,
    };
    addons.forEach((a, i) => {
      const v = ADDONS[a];
      if (!v) ctx.error("AG096", `unknown add-on "${a}"`, addons, i, `one of: ${Object.keys(ADDONS).join(", ")}`);
      else if (!(v in catalogue.settings) && !catalogue.variables.includes(v)) {
        ctx.error("AG096", `Kubespray ${s.version} has no add-on "${a}" (no setting ${v})`, addons, i);
      } else settings[v] = true;
    });
    const extraVars = s.extraVars ?? {};
    let refused = false;
    const addonOf = new Map(addons.map((a) => [ADDONS[a], a]));
    for (const [k, v] of Object.entries(extraVars)) {
      if (k.startsWith("airgap_")) {
        refused = true;
        ctx.error("AG133", `extraVars.${k} would override a variable of airgap's roles (Kubespray's vars file is read after airgap's)`, extraVars, k,
          "variables named airgap_* are the compiler's: set the site field they come from instead");
      } else if (addonOf.has(k) && !truthy(v)) {
        refused = true;
        ctx.error("AG133", `extraVars.${k} turns off the add-on "${addonOf.get(k)}" that addons lists`, extraVars, k,
          `keep one: remove "${addonOf.get(k)}" from addons, or ${k} from extraVars`);
      } else if (k in TYPED_SETTINGS) {
        refused = true;
        ctx.error("AG099", `extraVars.${k} would override the site's own ${TYPED_SETTINGS[k]}, which the list and the offline vars are made from`, extraVars, k,
          `set kubespray.${TYPED_SETTINGS[k]} instead, and remove ${k} from extraVars`);
      } else settings[k] = v;
    }

    // What the release cannot install offline.
    const cilium = networkPlugin === "cilium" ? { owner: s as unknown, key: "networkPlugin" }
      : truthy(settings.cilium_deploy_additionally) ? { owner: extraVars as unknown, key: "cilium_deploy_additionally" } : undefined;
    if (cilium && !servesCiliumChart(catalogue)) {
      refused = true;
      const can = shippedReleases().filter((r) => servesCiliumChart(loadCatalogue(r)!));
      ctx.error("AG120", `Kubespray ${s.version} cannot install Cilium offline: its \`cilium install\` takes no chart repository, so cilium-cli fetches the chart from the upstream chart site (helm.cilium.io), and the images it deploys are pinned by upstream digests`,
        cilium.owner, cilium.key,
        can.length ? `Kubespray releases that can (cilium_install_extra_flags points cilium-cli at the site's copy of the chart): ${releasesFor(can, s.kubernetes)}; or choose another network plugin (${PLUGINS.filter((x) => x !== "cilium").join(", ")})`
          : `choose another network plugin (${PLUGINS.filter((x) => x !== "cilium").join(", ")})`);
    }

    if (checkClusterRanges(ctx, core, site, s, extraVars)) refused = true;

    // The list.
    const groups = groupArches(core);
    const siteVars = Object.keys(extraVars).filter((k) => !(k in TYPED_SETTINGS));
    const { artifacts, problems } = computeList({ catalogue, kubernetes: s.kubernetes, settings, siteVars, groups, everything });
    for (const p of problems) {
      if (p.variable && p.variable in extraVars) ctx.error("AG099", p.message, extraVars, p.variable, p.hint);
      else ctx.error("AG097", p.message, s, "kubernetes", p.hint);
    }

    if (problems.length || refused) return undefined;
    const k8s = core.hosts.filter(isKubernetes);
    const model: KubesprayModel = {
      version: s.version,
      kubernetes: s.kubernetes,
      containerRuntime: containerRuntime as KubesprayModel["containerRuntime"],
      networkPlugin,
      etcdDeployment: etcdDeployment as KubesprayModel["etcdDeployment"],
      addons,
      everything,
      checkout: s.checkout,
      checkoutDir: s.checkout === undefined ? undefined : path.resolve(path.dirname(ctx.siteFile), s.checkout),
      extraVars: s.extraVars ?? {},
      catalogue,
      groups,
      settings,
      artifacts,
      families: [...new Set(k8s.map((h) => h.os.family))].sort(),
      vars: {},
      config: s,
    };
    return {
      model,
      exports: {
        // The registry pushes them from the bundle under the names Kubespray asks for.
        images: artifacts.images.map((i) => ({ source: i.source, target: i.target })),
        // Kubespray's node packages, installed before it runs (roles/kubespray_node lists them; the bundle carries them).
        plays: [{ playbook: "nodes", name: "Kubespray's node packages", hosts: "airgap_kubespray_nodes", role: "kubespray_node", after: ["repo_client"] }],
        // The Ansible controller that runs Kubespray installs them from the site's index.
        python: catalogue.controller?.requirements ?? [],
        state: kubesprayState(core, model.etcdDeployment),
      },
    };
  },
  /** The offline vars, from the other services' variables, then the proof that with them nothing comes from outside. */
  validate(ctx, m, site) {
    // The pull account must reach the container runtime, through what the release's templates render.
    if (site.registryPull && !m.catalogue.registryAuth?.[m.containerRuntime]) {
      const can = releasesWithRegistryAuth(m.containerRuntime);
      const other = m.containerRuntime === "containerd" ? "crio" : "containerd";
      const why = m.containerRuntime === "containerd"
        ? `its containerd templates drop the pull account: hosts.toml has no header field and the containerd 2 config no auth section, so nodes pull anonymously and the site registry answers 401 to the first image pull`
        : `its CRI-O templates render no crio_registry_auth, so nodes pull anonymously and the site registry answers 401 to the first image pull`;
      ctx.error("AG121", `Kubespray ${m.version} cannot give ${m.containerRuntime} the registry's pull account (${site.registryPull.name}): ${why}`, m.config, "version",
        [
          can.length ? `Kubespray releases whose templates carry it: ${releasesFor(can, m.kubernetes)}` : "",
          m.catalogue.registryAuth?.[other] ? `or containerRuntime: "${other}" with Kubespray ${m.version}` : "",
        ].filter(Boolean).join("; "));
    }
    const others = site.kubespray;
    const offline = offlineVars({
        catalogue: m.catalogue,
        site: site.core.name,
        filesRepo: resolveRefs(others.files_repo, others),
        registryHost: resolveRefs(others.registry_host, others),
        families: m.families,
        pull: site.registryPull && { name: site.registryPull.name, password: secretExpression(site.registryPull.password).replace(/^\{\{\s*/, "").replace(/\s*\}\}$/, "") },
        containerRuntime: m.containerRuntime,
        cilium: m.networkPlugin === "cilium" || m.everything || truthy(m.settings.cilium_deploy_additionally),
        artifacts: m.artifacts,
      });
    // What airgap writes (the other services' variables and the offline ones) is not the site's to override,
    // in extraVars or a host's vars (host variables win over the offline vars file).
    // Kubespray's NTP settings belong to the site's ntp service when it has one (it turns Kubespray's off).
    const family = (k: string) => ("ntp_enabled" in others && /^ntp_/.test(k) ? "ntp_enabled" : k);
    const owner = (k: string) => [...site.exports].find(([, e]) => e.kubespray && family(k) in e.kubespray)?.[0];
    const owned = (k: string) => family(k) in others ? `the ${owner(k)} service's own setting` : k in offline ? "an offline setting airgap computes from the site" : undefined;
    const domain = site.core.domain;
    const inside = (host: string) => host === domain || host.endsWith(`.${domain}`) || site.core.hosts.some((h) => h.address === host);
    // An override is one mistake, one error: a leak (AG098) when it sends Kubespray outside the site, else AG133.
    // The whole-file leak check below then runs without the overrides, so they are not reported again per download.
    const overrides = Object.keys(m.extraVars).filter((k) => owned(k));
    const outside = outsideVariables(Object.fromEntries(overrides.map((k) => [k, m.extraVars[k]])), { ...others, ...offline, ...m.settings }, inside);
    for (const k of overrides) {
      const leak = outside.find((l) => l.variable === k);
      if (leak) ctx.error("AG098", leakMessage(leak), m.config.extraVars, k, `${k}: ${leak.fix}`);
      else {
        ctx.error("AG133", `extraVars.${k} would override ${owned(k)} (${family(k)}: ${JSON.stringify(others[family(k)] ?? offline[k]).slice(0, 80)}): the runbook, airgap check and the bundle would describe another site than the one Kubespray builds`,
          m.config.extraVars, k, `remove ${k} from extraVars${family(k) in others ? `; change the ${owner(k)} service in the site file instead` : ""}`);
      }
    }
    for (const h of site.core.hosts) {
      for (const k of Object.keys(h.vars)) {
        if (owned(k)) {
          ctx.error("AG134", `vars.${k} of ${h.name} would override ${owned(k)}, for this host only`, site.core.sources.get(h.name)?.vars, k,
            `remove ${k} from the host's vars`);
        }
      }
    }
    const settings = Object.fromEntries(Object.entries(m.settings).filter(([k]) => !overrides.includes(k)));
    const extra = Object.fromEntries(Object.entries(m.extraVars).filter(([k]) => !overrides.includes(k)));
    m.vars = { ...offline, ...settings };
    const all = { ...others, ...m.vars };
    const listed = findLeaks(m.artifacts, all, m.catalogue);
    const seen = new Set(listed.map((l) => l.variable));
    const leaks = [...listed, ...outsideVariables(extra, all, inside).filter((l) => !seen.has(l.variable))];
    // Errors point at the variable the site wrote, else at the release.
    for (const l of leaks) {
      const at = l.kind === "variable" || l.variable in extra ? { owner: m.config.extraVars, key: l.variable } : { owner: m.config, key: "version" };
      ctx.error("AG098", leakMessage(l), at.owner, at.key, `${l.variable}: ${l.fix}`);
    }
  },
  emit(m, site, out) {
    Object.assign(out.kubespray, m.vars);
    out.addGroup("airgap_kubespray_nodes", site.core.hosts.filter(isKubernetes).map((h) => h.name));
    out.addVars("all", {
      airgap_kubespray_version: m.version,
      // The mirrors' CA path per OS family, read by their `ca` in a cluster that mixes them.
      ...(m.vars.containerd_registries_mirrors && m.families.length > 1 ? { [CA_PATHS_VAR]: caPaths(site.core.name) } : {}),
    });
    const files = m.artifacts.files.length;
    const images = m.artifacts.images.length;
    out.runbook.push({
      title: "Kubernetes (Kubespray)",
      lines: [
        `Kubespray ${m.version} installs Kubernetes ${m.kubernetes} (${m.networkPlugin}, ${m.containerRuntime}, etcd on ${m.etcdDeployment === "host" ? "the hosts" : "kubeadm static pods"}${m.addons.length ? `, add-ons: ${m.addons.join(", ")}` : ""}).`,
        `It fetches ${files} files from files_repo and ${images} images from the site registry, nothing else: \`airgap check\` proves it against the bundle's manifest.`,
        ...(m.vars.containerd_registries_mirrors || m.vars.crio_registry_auth
          ? ["Nodes pull with the registry's pull account: its password must be readable (environment variable or vault) when Kubespray's `cluster.yml` runs."]
          : []),
        ...controllerLines(m.catalogue.controller?.requirements ?? [], site.endpoints["pip-index"]),
        ...(!m.checkoutDir && sourceCommit(m.catalogue)
          ? [`\`airgap bundle\` carries the release's source, \`git archive\` of its commit ${sourceCommit(m.catalogue)} from a Kubespray checkout on the bastion, at ${sourcePath(m.version)} (under files_repo).`]
          : []),
      ],
    });
  },
};
