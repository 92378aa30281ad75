/**
 * Which OS packages each host of the site needs: the one table of them.
 *
 * A row says which component needs the packages, on which of its hosts, and
 * their names on Debian-family (`deb`) and RHEL-family (`rpm`) releases. The
 * bundle carries the dependency closure of each host's list, resolved as if on
 * a minimal host of its release (bundle/apt.ts), plus the site's own
 * `repos.packages`, which go to every host.
 *
 * Roles install these from the site's repository; a role that needs another
 * package adds it here, nowhere else.
 */
import type { SiteModels } from "../compile/components/index.js";
import type { CoreModel, HostModel } from "../compile/model/site.js";
import type { SynthSite } from "../compile/synth.js";
import { compareStrings } from "./manifest.js";

/** Which hosts a row applies to. */
export type HostSelector =
  /** Every host of the site. */
  | "all"
  /** Hosts with the `admin` role. */
  | "admin"
  /** The hosts the component is placed on (`on`). */
  | "servers"
  /** Every host that is not one of the component's servers. */
  | "clients"
  /** Hosts with a Kubernetes role (control-plane, worker, etcd). */
  | "kubernetes";

export interface PackageRow {
  component: "site" | "repos" | "ntp" | "dns" | "registry" | "pypi" | "pip" | "gateway";
  on: HostSelector;
  deb: string[];
  rpm: string[];
  why: string;
}

export const PACKAGE_TABLE: PackageRow[] = [
  {
    component: "site", on: "all",
    deb: ["ca-certificates", "python3-apt"],
    rpm: ["ca-certificates"],
    why: "the site CA in every trust store; Ansible's apt module needs python3-apt",
  },
  {
    component: "site", on: "admin",
    deb: ["python3-cryptography"],
    rpm: ["python3-cryptography"],
    why: "community.crypto creates the site CA and the services' certificates on the admin host",
  },
  {
    component: "repos", on: "servers",
    deb: ["nginx", "apt-utils", "gnupg", "openssl"],
    rpm: ["nginx", "createrepo_c", "gnupg2", "openssl"],
    why: "nginx serves the repositories and files_repo; apt-ftparchive (apt-utils) or createrepo_c builds them; gnupg signs them with the site key; openssl verifies the bundle's signature",
  },
  {
    component: "ntp", on: "servers",
    deb: ["chrony"],
    rpm: ["chrony"],
    why: "chronyd serves time",
  },
  {
    component: "ntp", on: "clients",
    deb: ["chrony"],
    rpm: ["chrony"],
    why: "chronyd follows the site's time servers",
  },
  {
    component: "dns", on: "servers",
    deb: ["bind9", "bind9-utils"],
    rpm: ["bind", "bind-utils"],
    why: "named serves the zones; named-checkconf and named-checkzone validate them before they go live",
  },
  {
    component: "registry", on: "servers",
    deb: ["docker-registry", "apache2-utils", "nginx", "skopeo", "python3-yaml"],
    // RHEL 9 ships no distribution registry package: its binary is to be carried as a plain file (docs/registry.md).
    rpm: ["httpd-tools", "nginx", "skopeo", "python3-pyyaml"],
    why: "distribution stores images behind nginx (TLS, accounts, pull-only enforcement); htpasswd -B writes the bcrypt accounts; skopeo pushes the bundle's images; python3-yaml checks the registry's configuration",
  },
  {
    component: "pypi", on: "servers",
    deb: ["nginx", "python3-venv"],
    rpm: ["nginx", "python3"],
    why: "nginx serves the static index (and fronts devpi); devpi-server runs in a virtual environment",
  },
  {
    // The hosts whose pip uses the site index (host `python`, compile/components/pypi.ts).
    component: "pip", on: "servers",
    deb: ["python3-pip", "python3-venv"],
    rpm: ["python3-pip"],
    why: "pip installs from the site index, into virtual environments",
  },
  {
    component: "gateway", on: "servers",
    deb: ["nftables"],
    rpm: ["nftables"],
    why: "the gateway host's forwarding ruleset, loaded by nftables.service",
  },
];

export interface HostPackages {
  host: HostModel;
  /** Sorted, without duplicates; names for the host's package manager. */
  packages: string[];
}

/** The component's servers, or undefined when the site does not have it. */
function servers(component: PackageRow["component"], core: CoreModel, m: SiteModels): HostModel[] | undefined {
  switch (component) {
    case "site":
      return [];
    case "repos":
      return m.repos && [m.repos.host];
    case "ntp":
      return m.ntp?.servers;
    case "dns":
      return m.dns && [m.dns.primary, ...m.dns.secondaries];
    case "registry":
      return m.registry && [m.registry.host];
    case "pypi":
      return m.pypi && [m.pypi.host];
    case "pip":
      return m.pypi?.clients;
    case "gateway":
      return m.gateway?.host && [m.gateway.host];
  }
}

function applies(row: PackageRow, host: HostModel, core: CoreModel, m: SiteModels): boolean {
  const placed = servers(row.component, core, m);
  if (!placed) return false;
  const isServer = placed.some((h) => h.name === host.name);
  switch (row.on) {
    case "all":
      return true;
    case "admin":
      return host.roles.includes("admin");
    case "servers":
    case "kubernetes":
      return isServer;
    case "clients":
      return !isServer;
  }
}

/** Every host's package list: the table's rows that apply to it, plus what the components export (`repos.packages`, Kubespray's). */
export function packagesByHost(site: SynthSite): HostPackages[] {
  const { core, models } = site;
  return core.hosts.map((host) => {
    const family = host.os.family === "Debian" ? "deb" : "rpm";
    const names = new Set<string>();
    for (const need of site.packages) if (need.hosts.some((h) => h.name === host.name)) need[family].forEach((p) => names.add(p));
    for (const row of PACKAGE_TABLE) if (applies(row, host, core, models)) row[family].forEach((p) => names.add(p));
    return { host, packages: [...names].sort(compareStrings) };
  });
}

/** Hosts of one OS release and architecture, and the distinct package lists they need. */
export interface PackageTarget {
  release: HostModel["os"];
  arch: HostModel["arch"];
  hosts: string[];
  /** Distinct lists (hosts with the same services share one); each is resolved on its own. */
  sets: string[][];
}

export function packageTargets(list: HostPackages[]): PackageTarget[] {
  const byKey = new Map<string, PackageTarget>();
  for (const { host, packages } of list) {
    const key = `${host.os.release}/${host.arch}`;
    const t = byKey.get(key) ?? { release: host.os, arch: host.arch, hosts: [], sets: [] };
    t.hosts.push(host.name);
    if (packages.length > 0 && !t.sets.some((s) => s.join(" ") === packages.join(" "))) t.sets.push(packages);
    byKey.set(key, t);
  }
  return [...byKey.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([, t]) => t);
}
