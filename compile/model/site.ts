/**
 * Stage 2, validate and resolve the site's core: its name, networks, hosts,
 * CA and secret references. Services are resolved by their components.
 */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import path from "node:path";
import type { Arch, Host, HostRole, Network, OsRelease, Scalar, Secret, Site } from "../../dsl/index.js";
import { Context, flag } from "./context.js";
import { contains, formatCidr, overlaps, parseCidr, parseIPv4, reverseZones, type Cidr } from "./ip.js";

export interface OsInfo {
  release: OsRelease;
  /** Ansible's `ansible_os_family`. */
  family: "Debian" | "RedHat";
  distribution: "debian" | "ubuntu" | "rhel" | "rocky" | "almalinux";
  version: string;
  /** APT suite, for Debian-family releases. */
  codename?: string;
}

export const OS_RELEASES: Record<OsRelease, OsInfo> = {
  "debian-12": { release: "debian-12", family: "Debian", distribution: "debian", version: "12", codename: "bookworm" },
  "ubuntu-22.04": { release: "ubuntu-22.04", family: "Debian", distribution: "ubuntu", version: "22.04", codename: "jammy" },
  "ubuntu-24.04": { release: "ubuntu-24.04", family: "Debian", distribution: "ubuntu", version: "24.04", codename: "noble" },
  "rhel-9": { release: "rhel-9", family: "RedHat", distribution: "rhel", version: "9" },
  "rocky-9": { release: "rocky-9", family: "RedHat", distribution: "rocky", version: "9" },
  "almalinux-9": { release: "almalinux-9", family: "RedHat", distribution: "almalinux", version: "9" },
};

export const ARCHES: Arch[] = ["amd64", "arm64"];
const HOST_ROLES: HostRole[] = ["admin", "control-plane", "worker", "etcd", "gateway"];
const KUBERNETES_ROLES: HostRole[] = ["control-plane", "worker", "etcd"];

/** Whether a host is a Kubernetes node (Kubespray installs it). */
export function isKubernetes(h: { roles: HostRole[] }): boolean {
  return h.roles.some((r) => KUBERNETES_ROLES.includes(r));
}

export interface NetworkModel {
  name: string;
  cidr: string;
  range: Cidr;
  gateway?: string;
  defaultRoute: boolean;
  masquerade: boolean;
  reverseZones: string[];
}

/** One address of a host, and the network it is in. */
export interface InterfaceModel {
  network: string;
  address: string;
}

export interface HostModel {
  name: string;
  fqdn: string;
  address: string;
  network: string;
  /** Every address of the host, the primary first. */
  interfaces: InterfaceModel[];
  os: OsInfo;
  arch: Arch;
  roles: HostRole[];
  sshUser: string;
  sshPort: number;
  python?: boolean;
  /** The host builds Go: its go is pointed at the site's module proxy (`go`, default false). */
  go: boolean;
  vars: Record<string, Scalar>;
}

/** A secret reference, resolved to what the compiled project reads at run time. */
export type SecretModel = { kind: "env"; name: string } | { kind: "vault"; file: string; key: string };

export interface CaModel {
  commonName: string;
  validityDays: number;
  /** Absolute path of a provided CA certificate. */
  certificate?: string;
  key?: SecretModel;
}

export interface CoreModel {
  siteFile: string;
  name: string;
  domain: string;
  networks: NetworkModel[];
  hosts: HostModel[];
  /** Every host name the site declares, valid or not (so errors are not repeated). */
  declaredHosts: Map<string, HostRole[]>;
  /** Each valid host as the site file wrote it (later errors point at it). */
  sources: Map<string, Host>;
  /**
   * Networks the site declares whose CIDR is invalid (reported once, AG020),
   * with the range they would cover when it can be told (`10.20.0.5/24`).
   * Whatever names them or has an address in them is left alone (no cascade).
   */
  brokenNetworks: Map<string, Cidr | undefined>;
  ca: CaModel;
}

/** Names a host may not take in the shared inventory, and what already has them. */
const RESERVED_HOST_NAMES: Record<string, string> = {
  all: "Ansible's group of every host",
  ungrouped: "Ansible's group of hosts in no other group",
  etcd: "Kubespray's group of etcd members",
  localhost: "Ansible's name for the controller, which the roles delegate to (the bundle's checks run there)",
};

export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variable names that hold secrets; a literal string there is refused. */
const SECRET_KEY = /(pass(word|wd)?|secret|token|private_?key|api_?key|credential)/i;

export function isDomain(s: unknown): s is string {
  return typeof s === "string" && DOMAIN.test(s);
}

/** Whether `file` starts with Ansible Vault's header (`$ANSIBLE_VAULT;1.1;AES256` or 1.2 with a vault id). */
export function isVaultEncrypted(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const head = Buffer.alloc(15);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString("latin1") === "$ANSIBLE_VAULT;";
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Resolves a secret reference, reporting a malformed one at `owner[key]`. */
export function resolveSecret(ctx: Context, owner: unknown, key: string | number): SecretModel | undefined {
  const s = (owner as Record<string | number, Secret | undefined>)[key];
  if (s === undefined) return undefined;
  if (typeof s === "string") {
    ctx.error("AG070", "a secret is written in clear in the site file", owner, key,
      'refer to it instead: fromEnv("NAME") or fromVault("secrets.yml", "key")');
    return undefined;
  }
  if ("env" in s) {
    if (!ENV_NAME.test(s.env)) {
      ctx.error("AG071", `"${s.env}" is not a valid environment variable name`, owner, key, "use letters, digits and _, not starting with a digit");
      return undefined;
    }
    return { kind: "env", name: s.env };
  }
  if ("vault" in s) {
    const file = path.resolve(path.dirname(ctx.siteFile), s.vault);
    if (!existsSync(file)) {
      ctx.error("AG072", `vault file "${s.vault}" does not exist`, owner, key, "create it with `ansible-vault create` beside the site file");
      return undefined;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s.key)) {
      ctx.error("AG071", `"${s.key}" is not a valid Ansible variable name`, owner, key);
      return undefined;
    }
    if (!isVaultEncrypted(file)) {
      ctx.error("AG190", `vault file "${s.vault}" is not encrypted with Ansible Vault: its secrets would sit in clear beside the site file`, owner, key,
        `encrypt it: ansible-vault encrypt ${s.vault}`);
      return undefined;
    }
    return { kind: "vault", file, key: s.key };
  }
  ctx.error("AG070", "a secret must be a reference made with fromEnv() or fromVault()", owner, key);
  return undefined;
}

/** Refuses literal values under secret-looking names in free-form variables. */
export function checkNoLiteralSecrets(ctx: Context, vars: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(vars ?? {})) {
    const literal = typeof v === "string" && v !== "" && !v.includes("{{");
    if (SECRET_KEY.test(k) && literal) {
      ctx.error("AG070", `"${k}" holds a secret written in clear`, vars, k,
        "secrets go in an Ansible Vault file or an environment variable, referred to from the site");
    }
  }
}

/** The range `a.b.c.d/n` would cover with its host bits cleared; undefined when it is not of that form. */
function lenientCidr(text: unknown): Cidr | undefined {
  const m = typeof text === "string" ? text.trim().match(/^([\d.]+)\/(\d{1,2})$/) : null;
  const base = m ? parseIPv4(m[1]) : undefined;
  if (!m || base === undefined || Number(m[2]) > 32) return undefined;
  const prefix = Number(m[2]);
  const mask = prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
  return { base: (base & mask) >>> 0, prefix };
}

function resolveNetworks(ctx: Context, site: Site, broken: Map<string, Cidr | undefined>): NetworkModel[] {
  const out: NetworkModel[] = [];
  const names = new Set<string>();
  for (const n of site.networks ?? []) {
    if (!DNS_LABEL.test(n.name ?? "")) {
      ctx.error("AG024", `network name "${n.name}" is not a DNS label`, n, "name", "use lower-case letters, digits and -");
    } else if (names.has(n.name)) {
      ctx.error("AG022", `network "${n.name}" is declared twice`, n, "name");
    }
    names.add(n.name);
    const range = parseCidr(n.cidr);
    if (!range) {
      ctx.error("AG020", `"${n.cidr}" is not an IPv4 network in CIDR form`, n, "cidr",
        'write the network address and prefix, with the host bits zero: "10.20.0.0/24"');
      if (typeof n.name === "string") broken.set(n.name, lenientCidr(n.cidr));
      continue;
    }
    const clash = out.find((o) => overlaps(o.range, range));
    if (clash) {
      ctx.error("AG021", `network ${n.cidr} overlaps network "${clash.name}" (${clash.cidr})`, n, "cidr");
    }
    if (n.gateway !== undefined) {
      const gw = parseIPv4(n.gateway);
      if (gw === undefined || !contains(range, gw)) {
        ctx.error("AG023", `gateway "${n.gateway}" is not an address inside ${n.cidr}`, n, "gateway");
      }
    }
    out.push({
      name: n.name, cidr: formatCidr(range), range, gateway: n.gateway,
      defaultRoute: flag(ctx, n, "defaultRoute", false), masquerade: flag(ctx, n, "masquerade", false), reverseZones: reverseZones(range),
    });
  }
  if ((site.networks ?? []).length === 0) {
    ctx.error("AG025", "the site declares no network", site, "networks", 'add one: networks: [{ name: "site", cidr: "10.20.0.0/24" }]');
  }
  return out;
}

/** Whether `address` may lie in a network whose CIDR is invalid (then its host is not judged on it; nor without networks, AG025). */
function inBrokenNetwork(address: number, broken: Map<string, Cidr | undefined>): boolean {
  return [...broken.values()].some((r) => r === undefined || contains(r, address));
}

/** Host variables airgap writes into the inventory from the host's typed fields: a site's `vars` may not say otherwise. */
const OWN_HOST_VARS: Record<string, { field: string; value: (h: HostModel) => Scalar[] }> = {
  ansible_host: { field: "address", value: (h) => [h.address] },
  ansible_ssh_host: { field: "address", value: (h) => [h.address] },
  ansible_user: { field: "sshUser", value: (h) => [h.sshUser] },
  ansible_ssh_user: { field: "sshUser", value: (h) => [h.sshUser] },
  ansible_port: { field: "sshPort", value: (h) => [h.sshPort] },
  ansible_ssh_port: { field: "sshPort", value: (h) => [h.sshPort] },
  // Kubespray binds and advertises on these: one of the host's own addresses.
  ip: { field: "address (or one of interfaces)", value: (h) => h.interfaces.map((i) => i.address) },
  access_ip: { field: "address (or one of interfaces)", value: (h) => h.interfaces.map((i) => i.address) },
};

/** Refuses host variables that contradict what airgap writes for the host (AG134). */
function checkHostVars(ctx: Context, h: Host, m: HostModel): void {
  for (const [k, v] of Object.entries(h.vars ?? {})) {
    const own = OWN_HOST_VARS[k];
    if (k.startsWith("airgap_")) {
      ctx.error("AG134", `vars.${k} would override a variable airgap writes`, h.vars, k, "variables named airgap_* are the compiler's; set the site field they come from instead");
    } else if (own && !own.value(m).some((x) => String(x) === String(v))) {
      ctx.error("AG134", `vars.${k} is ${JSON.stringify(v)}, but airgap writes ${k}: ${JSON.stringify(own.value(m)[0])} from the host's ${own.field}`, h.vars, k,
        `set the host's ${own.field.split(" ")[0]} instead, and remove ${k} from vars (Ansible, Kubespray, the DNS and the runbook must agree on it)`);
    }
  }
}

function resolveHost(ctx: Context, site: Site, h: Host, networks: NetworkModel[], broken: Map<string, Cidr | undefined>): HostModel | undefined {
  let ok = true;
  if (typeof h.name !== "string" || !DNS_LABEL.test(h.name)) {
    ctx.error("AG034", `host name "${h.name}" is not a valid DNS label`, h, "name",
      "use 1 to 63 lower-case letters, digits and -, not starting or ending with -");
    ok = false;
  }
  const address = parseIPv4(h.address);
  let network: NetworkModel | undefined;
  if (address === undefined) {
    ctx.error("AG032", `"${h.address}" is not an IPv4 address`, h, "address");
    ok = false;
  } else {
    network = networks.find((n) => contains(n.range, address));
    if (!network && (inBrokenNetwork(address, broken) || (site.networks ?? []).length === 0)) {
      // Its network's CIDR is reported; judging the address against it would repeat that.
      ok = false;
    } else if (!network) {
      const declared = networks.map((n) => n.cidr).join(", ") || "none";
      ctx.error("AG033", `address ${h.address} is outside every network of the site`, h, "address", `declared networks: ${declared}`);
      ok = false;
    } else if (network.range.prefix < 31 && (address === network.range.base || address === network.range.base + 2 ** (32 - network.range.prefix) - 1)) {
      ctx.error("AG035", `address ${h.address} is the network or broadcast address of ${network.cidr}`, h, "address");
      ok = false;
    }
  }
  const os = OS_RELEASES[h.os];
  if (!os) {
    ctx.error("AG036", `unknown OS release "${h.os}"`, h, "os", `one of: ${Object.keys(OS_RELEASES).join(", ")}`);
    ok = false;
  }
  const arch = h.arch ?? "amd64";
  if (!ARCHES.includes(arch)) {
    ctx.error("AG037", `unknown architecture "${arch}"`, h, "arch", `one of: ${ARCHES.join(", ")}`);
    ok = false;
  }
  // No role: a plain client (a GitLab server, a workstation) that gets the site's
  // time, names, package sources and CA trust, and nothing else.
  const roles = h.roles ?? [];
  roles.forEach((r, i) => {
    if (!HOST_ROLES.includes(r)) ctx.error("AG038", `unknown host role "${r}"`, roles, i, `one of: ${HOST_ROLES.join(", ")}`);
    else if (roles.indexOf(r) !== i) ctx.error("AG038", `role "${r}" is listed twice`, roles, i);
  });
  const sshPort = h.sshPort ?? 22;
  if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) {
    ctx.error("AG044", `SSH port ${sshPort} is not a TCP port`, h, "sshPort");
  }
  checkNoLiteralSecrets(ctx, h.vars);
  const python = h.python === undefined ? undefined : flag(ctx, h, "python", true);
  const go = flag(ctx, h, "go", false);
  const interfaces = resolveInterfaces(ctx, h, network, networks, broken);
  if (!ok || !network || !os || !interfaces) return undefined;
  const m: HostModel = {
    name: h.name,
    fqdn: `${h.name}.${site.domain}`,
    address: h.address,
    network: network.name,
    interfaces: [{ network: network.name, address: h.address }, ...interfaces],
    os,
    arch,
    // An unknown role is reported above; the host keeps its known ones (no cascade).
    roles: [...new Set(roles.filter((r) => HOST_ROLES.includes(r)))],
    sshUser: h.sshUser ?? "root",
    sshPort,
    python,
    go,
    vars: h.vars ?? {},
  };
  checkHostVars(ctx, h, m);
  return m;
}

/** A host's extra addresses: each in the network it names, one per network. */
function resolveInterfaces(ctx: Context, h: Host, primary: NetworkModel | undefined, networks: NetworkModel[], broken: Map<string, Cidr | undefined>): InterfaceModel[] | undefined {
  const out: InterfaceModel[] = [];
  let ok = true;
  for (const i of h.interfaces ?? []) {
    const n = networks.find((x) => x.name === i.network);
    const address = parseIPv4(i.address);
    if (!n && broken.has(i.network)) {
      ok = false; // the network's CIDR is reported
    } else if (!n) {
      ctx.error("AG110", `"${i.network}" is not a network of the site`, i, "network", `networks: ${networks.map((x) => x.name).join(", ")}`);
      ok = false;
    } else if (n === primary || out.some((o) => o.network === n.name)) {
      ctx.error("AG112", `host "${h.name}" has two addresses on network "${n.name}"`, i, "network", "give a host one address per network");
      ok = false;
    } else if (address === undefined) {
      ctx.error("AG032", `"${i.address}" is not an IPv4 address`, i, "address");
      ok = false;
    } else if (!contains(n.range, address)) {
      ctx.error("AG111", `address ${i.address} is outside network "${n.name}" (${n.cidr})`, i, "address");
      ok = false;
    } else out.push({ network: n.name, address: i.address });
  }
  return ok ? out : undefined;
}

export function resolveCore(ctx: Context, site: Site): CoreModel {
  if (typeof site.name !== "string" || !DNS_LABEL.test(site.name)) {
    ctx.error("AG010", `site name "${site.name}" is not a DNS label`, site, "name", "it names the output folder and the CA: lower-case letters, digits and -");
  }
  if (!isDomain(site.domain)) {
    ctx.error("AG011", `"${site.domain}" is not a valid DNS domain`, site, "domain", 'for example "plant1.example.internal"');
  }
  const brokenNetworks = new Map<string, Cidr | undefined>();
  const networks = resolveNetworks(ctx, site, brokenNetworks);
  const hosts: HostModel[] = [];
  const byName = new Map<string, Host>();
  const byAddress = new Map<string, Host>();
  for (const h of site.hosts ?? []) {
    const first = byName.get(h.name);
    if (first) {
      ctx.error("AG030", `host name "${h.name}" is used twice`, h, "name", `first declared at line ${ctx.where(first, "name").line}`);
    } else byName.set(h.name, h);
    let other: Host | undefined;
    for (const [owner, key] of [[h, "address"], ...(h.interfaces ?? []).map((i) => [i, "address"])] as [{ address: string }, "address"][]) {
      const o = byAddress.get(owner.address);
      if (o) {
        ctx.error("AG031", `address ${owner.address} is used by "${o.name}" and "${h.name}"`, owner, key, `"${o.name}" is at line ${ctx.where(o, "address").line}`);
        other ??= o;
      } else byAddress.set(owner.address, h);
    }
    const m = resolveHost(ctx, site, h, networks, brokenNetworks);
    if (m && !first && !other) hosts.push(m);
  }
  const ca = site.ca ?? {};
  const caModel: CaModel = {
    commonName: ca.commonName ?? `${site.name} airgap CA`,
    validityDays: ca.validityDays ?? 3650,
  };
  if (!Number.isInteger(caModel.validityDays) || caModel.validityDays < 1) {
    ctx.error("AG090", "the CA's validityDays must be a positive whole number", ca, "validityDays");
  }
  if (ca.certificate !== undefined) {
    const file = path.resolve(path.dirname(ctx.siteFile), ca.certificate);
    if (!existsSync(file)) ctx.error("AG091", `CA certificate "${ca.certificate}" does not exist`, ca, "certificate");
    caModel.certificate = file;
    caModel.key = resolveSecret(ctx, ca, "key");
    if (ca.key === undefined) ctx.error("AG091", "a provided CA certificate needs its key, by reference", ca, "certificate");
  } else if (ca.key !== undefined) {
    ctx.error("AG140", "the CA's key is given without its certificate, and would be ignored (a new CA would be made)", ca, "key",
      'give both (certificate: "ca.crt" beside the site file, key: fromVault(...)), or neither to let the admin playbook create the CA');
  }
  const gateways = (site.hosts ?? []).filter((h) => (h.roles ?? []).includes("gateway"));
  for (const g of gateways.slice(1)) {
    ctx.error("AG113", `"${g.name}" is a second gateway host ("${gateways[0].name}" is the first)`, g, "roles", "a site has one gateway host, with an address on every network it routes");
  }
  for (const g of gateways) {
    const k8s = (g.roles ?? []).filter((r) => KUBERNETES_ROLES.includes(r));
    if (k8s.length > 0) {
      ctx.error("AG148", `the gateway host ${g.name} is also a Kubernetes node (${k8s.join(", ")})`, g, "roles",
        "its forward chain drops what the site's flows do not name, pod and service traffic included, and Kubernetes' own rules would share its firewall: keep the gateway out of the cluster");
    }
  }
  const declaredHosts = new Map((site.hosts ?? []).map((h) => [h.name, h.roles ?? []]));
  const resolvedNames = new Set(hosts.map((m) => m.name));
  const sources = new Map((site.hosts ?? []).filter((h) => resolvedNames.has(h.name)).map((h) => [h.name, h]));
  for (const h of hosts.filter((x) => Object.hasOwn(RESERVED_HOST_NAMES, x.name))) {
    ctx.error("AG144", `the host name "${h.name}" is taken in the inventory: it is ${RESERVED_HOST_NAMES[h.name]}`, sources.get(h.name), "name",
      "Ansible's host patterns would not mean this host: rename it");
  }
  return { siteFile: ctx.siteFile, name: site.name, domain: site.domain, networks, hosts, declaredHosts, sources, ca: caModel, brokenNetworks };
}
