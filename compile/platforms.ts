/**
 * The last check, on the rendered project: every role a play places on a
 * host (and every role it includes) supports the host's OS, as the role's own
 * `meta/main.yml` says (compile/roles.ts). Refused at the host's `os` (AG039).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Host } from "../dsl/index.js";
import type { Emission, Linked } from "./components/component.js";
import type { Context } from "./model/context.js";
import type { HostModel } from "./model/site.js";
import { readRole, ROLES_DIR, withDependencies, type RolePlatform } from "./roles.js";

/** Kubespray's groups, and ours that are not a component's (inventory.ts writes them). */
const CORE_GROUPS: Record<string, (h: HostModel) => boolean> = {
  kube_control_plane: (h) => h.roles.includes("control-plane"),
  kube_node: (h) => h.roles.includes("worker"),
  etcd: (h) => h.roles.includes("etcd"),
  airgap_admin: (h) => h.roles.includes("admin"),
};

/** The hosts an inventory pattern names: `all`, `group`, `a:!b`, `a:&b`. */
export function hostsOf(pattern: string, site: Linked, out: Emission): HostModel[] {
  const group = (g: string) =>
    g === "all" ? site.core.hosts
      : CORE_GROUPS[g] ? site.core.hosts.filter(CORE_GROUPS[g])
        : ((members) => site.core.hosts.filter((h) => members.has(h.name)))(new Set(out.groups.get(g) ?? []));
  const [first, ...rest] = pattern.split(":");
  let set = group(first);
  for (const term of rest) {
    if (term.startsWith("!")) {
      const minus = new Set(group(term.slice(1)));
      set = set.filter((h) => !minus.has(h));
    } else if (term.startsWith("&")) {
      const and = new Set(group(term.slice(1)));
      set = set.filter((h) => and.has(h));
    } else set = [...new Set([...set, ...group(term)])];
  }
  return set;
}

/** The platform a host's OS is, in the roles' terms. */
function platformOf(h: HostModel): RolePlatform {
  return h.os.family === "RedHat" ? "rhel-family" : (h.os.distribution as "debian" | "ubuntu");
}

const NAMES: Record<RolePlatform, string> = { debian: "Debian", ubuntu: "Ubuntu", "rhel-family": "RHEL and its rebuilds" };

/** Which hosts each role runs on, its dependencies included (from the plays and the rendered groups). */
export function placements(site: Linked, out: Emission, rolesDirs?: string[]): { role: string; hosts: HostModel[] }[] {
  const dirOf = (role: string) => rolesDirs?.find((d) => existsSync(path.join(d, role))) ?? ROLES_DIR;
  const byRole = new Map<string, Set<HostModel>>();
  for (const play of site.plays) {
    const hosts = hostsOf(play.hosts, site, out);
    for (const role of withDependencies([play.role], dirOf)) {
      const set = byRole.get(role) ?? new Set<HostModel>();
      hosts.forEach((h) => set.add(h));
      byRole.set(role, set);
    }
  }
  return [...byRole].map(([role, hosts]) => ({ role, hosts: site.core.hosts.filter((h) => hosts.has(h)) }));
}

/** Reports each host whose OS a role placed on it does not support, once per host and role. */
export function checkPlatforms(ctx: Context, site: Linked, placed: { role: string; hosts: HostModel[] }[], sources: Map<string, Host>, rolesDirs?: string[]): void {
  const dirOf = (role: string) => rolesDirs?.find((d) => existsSync(path.join(d, role))) ?? ROLES_DIR;
  // Each role read once and its hosts as a set: linear in hosts × roles (it was quadratic in hosts).
  const roles = placed.map((p) => ({ info: readRole(p.role, dirOf(p.role)), hosts: new Set(p.hosts) }));
  for (const h of site.core.hosts) {
    const refusing = roles.filter((r) => r.hosts.has(h) && !r.info.platforms.includes(platformOf(h))).map((r) => r.info);
    if (refusing.length === 0) continue;
    const names = refusing.map((r) => r.name);
    const supported = [...new Set(refusing.flatMap((r) => r.platforms))].filter((p) => refusing.every((r) => r.platforms.includes(p)));
    ctx.error("AG039", `host "${h.name}" runs ${h.os.release}, which ${names.length === 1 ? `the ${names[0]} role placed on it does` : `the roles placed on it (${names.join(", ")}) do`} not support`,
      sources.get(h.name), "os",
      supported.length
        ? `${names.length === 1 ? "it supports" : "they all support"} ${supported.map((p) => NAMES[p]).join(", ")}: give ${h.name} one of those, or place its services on another host`
        : `place its services on another host`);
  }
}
