/**
 * Which OS packages each host of the site needs. The names live in one place:
 * each role's `airgap_<role>_packages` (vars/<Family>.yml), read by
 * compile/roles.ts, for the roles placed on the host; plus what components
 * export beyond their roles (the site's `repos.packages` on every host,
 * Kubespray's system packages on the cluster's nodes). The bundle carries the
 * dependency closure of each host's list, resolved as if on a minimal host of
 * its release (bundle/apt.ts).
 */
import type { HostModel } from "../compile/model/site.js";
import { readRole } from "../compile/roles.js";
import type { SynthSite } from "../compile/synth.js";
import { compareText } from "../compile/model/context.js";

export interface HostPackages {
  host: HostModel;
  /** Sorted, without duplicates; names for the host's package manager. */
  packages: string[];
}

/**
 * Every host's package list: what each role placed on it installs (the role's
 * `airgap_<role>_packages`, compile/roles.ts), plus what the components export
 * (`repos.packages`, Kubespray's system packages).
 */
export function packagesByHost(site: SynthSite): HostPackages[] {
  return site.core.hosts.map((host) => {
    const family = host.os.family;
    const names = new Set<string>();
    for (const need of site.packages) if (need.hosts.some((h) => h.name === host.name)) need[family === "Debian" ? "deb" : "rpm"].forEach((p) => names.add(p));
    for (const { role, hosts } of site.placements ?? []) {
      if (hosts.some((h) => h.name === host.name)) readRole(role).packages[family].forEach((p) => names.add(p));
    }
    return { host, packages: [...names].sort(compareText) };
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
  return [...byKey.entries()].sort(([a], [b]) => compareText(a, b)).map(([, t]) => t);
}
