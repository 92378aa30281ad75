/** Checks shared by the services: where a service runs, its ports, who may reach it. */
import { asList, type Context } from "../model/context.js";
import type { CoreModel, HostModel, NetworkModel } from "../model/site.js";
import type { PortClaim } from "./component.js";

/** The admin hosts named by `owner[key]` (a name or a list of names). */
export function placeOn(ctx: Context, core: CoreModel, service: string, owner: object, key = "on"): HostModel[] {
  const value = (owner as Record<string, unknown>)[key] as string | string[] | undefined;
  const names = asList(value);
  if (names.length === 0) {
    ctx.error("AG040", `the ${service} service is placed on no host`, owner, key, 'name an admin host: on: "admin"');
    return [];
  }
  const hosts: HostModel[] = [];
  names.forEach((name, i) => {
    const at = Array.isArray(value) ? [value, i] as const : [owner, key] as const;
    const host = core.hosts.find((h) => h.name === name);
    const declared = core.declaredHosts.get(name);
    if (!host && declared?.includes("admin")) {
      // The host itself is invalid and already reported.
    } else if (!host && declared) {
      ctx.error("AG041", `the ${service} service is placed on "${name}", which has no admin role`, at[0], at[1],
        `add "admin" to the roles of "${name}", or place the service on an admin host`);
    } else if (!host) {
      const known = core.hosts.filter((h) => h.roles.includes("admin")).map((h) => h.name);
      ctx.error("AG040", `the ${service} service is placed on "${name}", which is not a host of the site`, at[0], at[1],
        known.length ? `admin hosts: ${known.join(", ")}` : "declare a host with roles: [\"admin\"]");
    } else if (!host.roles.includes("admin") && (core.sources.get(name)?.roles ?? []).length > host.roles.length) {
      // A role of the host is unknown or repeated (AG038): it may be the admin role, misspelt.
    } else if (!host.roles.includes("admin")) {
      ctx.error("AG041", `the ${service} service is placed on "${name}", which has no admin role`, at[0], at[1],
        `add "admin" to the roles of "${name}", or place the service on an admin host`);
    } else if (hosts.includes(host)) {
      ctx.error("AG040", `"${name}" is listed twice`, at[0], at[1]);
    } else hosts.push(host);
  });
  return hosts;
}

/**
 * A port the service listens on, for its exports (the link phase reports a
 * second claim of the same port at its own place); undefined and reported
 * when the number is not a port.
 */
export function claimPort(
  ctx: Context, host: HostModel, port: number, protocol: "tcp" | "udp", service: string,
  allow: NetworkModel[] | "loopback", owner: object, key: string,
  more: Pick<PortClaim, "setting" | "clients" | "clientsWhy"> = {},
): PortClaim | undefined {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    ctx.error("AG044", `${JSON.stringify(port)} is not a valid port`, owner, key, "a whole number from 1 to 65535");
    return undefined;
  }
  return { host, port, protocol, service, allow, owner, key, ...more };
}

/** The networks named by `owner[key]`; every site network by default. */
export function allowedNetworks(ctx: Context, core: CoreModel, owner: object, key = "allow"): NetworkModel[] {
  const names = (owner as Record<string, string[] | undefined>)[key];
  if (names === undefined) return core.networks;
  const out: NetworkModel[] = [];
  names.forEach((name, i) => {
    const n = core.networks.find((x) => x.name === name);
    if (!n && core.brokenNetworks.has(name)) return; // its CIDR is reported
    if (!n) ctx.error("AG043", `"${name}" is not a network of the site`, names, i, `networks: ${core.networks.map((x) => x.name).join(", ")}`);
    else out.push(n);
  });
  return out;
}

/** The CIDRs of networks, as the roles' allow lists take them. */
export const cidrs = (networks: NetworkModel[]): string[] => networks.map((n) => n.cidr);
