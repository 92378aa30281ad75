/** DNS: BIND on admin hosts, authoritative for the site's zones; every host its client. */
import type { DnsRecord, DnsService, Site } from "../../dsl/index.js";
import { compareText, type Context } from "../model/context.js";
import { DNS_LABEL, isDomain, type CoreModel, type HostModel } from "../model/site.js";
import { parseIPv4, ptrName } from "../model/ip.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import type { Component, Linked, PortClaim } from "./component.js";

export interface RecordModel {
  name: string;
  type: string;
  value: string;
  ttl?: number;
}

/**
 * One zone as the bind role gets it. No serial: the role keeps a hash of the
 * zone's content in the zone file and bumps the serial it finds there only
 * when that hash changes, so serials only grow (roles/bind/tasks/serials.yml).
 */
export interface ZoneModel {
  name: string;
  records: RecordModel[];
}

export interface DnsModel {
  primary: HostModel;
  secondaries: HostModel[];
  forwarders: string[];
  allow: string[];
  ttl: number;
  extra: RecordModel[];
  /** Each extra record as the site file wrote it (same order as `extra`; errors point there). */
  sources: DnsRecord[];
}

const RECORD_TYPES = ["A", "AAAA", "CNAME", "TXT", "SRV", "MX"];
const IPV6 = /^[0-9a-fA-F:]+(:\d+\.\d+\.\d+\.\d+)?$/;

/** `name` relative to `domain` (`@` for the apex), or undefined when it lies outside. */
function relativeName(name: string, domain: string): string | undefined {
  if (name === "@") return "@";
  if (!name.endsWith(".")) return name.toLowerCase();
  const fqdn = name.slice(0, -1).toLowerCase();
  if (fqdn === domain) return "@";
  return fqdn.endsWith(`.${domain}`) ? fqdn.slice(0, -(domain.length + 1)) : undefined;
}

function isTarget(v: string): boolean {
  return v.endsWith(".") ? isDomain(v.slice(0, -1)) : isDomain(v);
}

function checkRecord(ctx: Context, r: DnsRecord, domain: string): RecordModel | undefined {
  if (!RECORD_TYPES.includes(r.type)) {
    ctx.error("AG062", `record type "${r.type}" is not supported`, r, "type", `one of: ${RECORD_TYPES.join(", ")}`);
    return undefined;
  }
  const name = relativeName(String(r.name ?? ""), domain);
  if (name === undefined) {
    ctx.error("AG060", `record "${r.name}" is outside the site's zone ${domain}`, r, "name",
      `write a name relative to ${domain}, or a full name ending in ".${domain}."`);
    return undefined;
  }
  if (name !== "@" && !name.split(".").every((l) => DNS_LABEL.test(l) || (r.type === "SRV" && /^_[a-z0-9-]+$/.test(l)))) {
    ctx.error("AG063", `record name "${r.name}" is not a valid DNS name`, r, "name");
    return undefined;
  }
  if (r.type === "CNAME" && name === "@") {
    ctx.error("AG061", "a CNAME record cannot stand at the zone apex", r, "name", "the apex holds SOA and NS records; use an A record there");
    return undefined;
  }
  const v = String(r.value ?? "");
  const valid =
    r.type === "A" ? parseIPv4(v) !== undefined :
    r.type === "AAAA" ? IPV6.test(v) && v.includes(":") :
    r.type === "CNAME" ? isTarget(v) :
    r.type === "MX" ? /^\d{1,5} \S+$/.test(v) && isTarget(v.split(" ")[1]) :
    r.type === "SRV" ? /^\d{1,5} \d{1,5} \d{1,5} \S+$/.test(v) && isTarget(v.split(" ")[3]) :
    v.length > 0 && !v.includes("\n");
  if (!valid) {
    const form: Record<string, string> = {
      A: '"10.20.0.5"', AAAA: '"fd00::5"', CNAME: '"registry" or "host.example.internal."',
      MX: '"10 mail"', SRV: '"0 5 389 ldap"', TXT: "one line of text",
    };
    ctx.error("AG062", `"${v}" is not valid data for a ${r.type} record`, r, "value", `expected ${form[r.type]}`);
    return undefined;
  }
  if (r.ttl !== undefined && (!Number.isInteger(r.ttl) || r.ttl < 0)) {
    ctx.error("AG062", `TTL ${r.ttl} is not a whole number of seconds`, r, "ttl");
  }
  return { name, type: r.type, value: v, ...(r.ttl !== undefined ? { ttl: r.ttl } : {}) };
}

export const dns: Component<DnsModel> = {
  key: "dns",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: DnsService | undefined = site.services?.dns;
    if (!s) return undefined;
    const servers = placeOn(ctx, core, "dns", s);
    const allow = allowedNetworks(ctx, core, s);
    // Every host's resolver asks every server (the servers too).
    const more = { clients: core.hosts, clientsWhy: "every host's resolver is pointed at the DNS servers" };
    const ports = servers
      .flatMap((h) => [claimPort(ctx, h, 53, "udp", "dns", allow, s, "on", more), claimPort(ctx, h, 53, "tcp", "dns", allow, s, "on", more)])
      .filter((p): p is PortClaim => !!p);
    const forwarders = s.forwarders ?? [];
    forwarders.forEach((f, i) => {
      if (parseIPv4(f) === undefined) return ctx.error("AG065", `forwarder "${f}" is not an IPv4 address`, forwarders, i);
      const self = f.startsWith("127.") || f === "0.0.0.0" ? { name: "the server itself (loopback)" } : servers.find((h) => h.interfaces.some((x) => x.address === f));
      if (self) {
        ctx.error("AG136", `the forwarder ${f} is ${"address" in self ? `${self.name}, one of the site's own DNS servers` : self.name}: names outside the site would loop back to it`, forwarders, i,
          "name a resolver outside the site's DNS servers that answers for other names, or leave forwarders out (names outside the site are then refused)");
      } else if (forwarders.indexOf(f) !== i) {
        ctx.error("AG136", `the forwarder ${f} is listed twice`, forwarders, i);
      }
    });
    // ns1, ns2, …: the servers' names in the zone; a host of that name elsewhere would get a second address.
    servers.forEach((h, i) => {
      const other = core.hosts.find((x) => x.name === `ns${i + 1}` && x !== h);
      if (other) {
        ctx.error("AG144", `the host name "${other.name}" is the zone's name for the DNS server ${h.name}`, core.sources.get(other.name), "name",
          `the zone names its servers ns1, ns2, … in the order of dns.on: rename the host, or place the DNS service so that ${other.name} is its server number ${i + 1}`);
      }
    });
    const ttl = s.ttl ?? 3600;
    if (!Number.isInteger(ttl) || ttl < 1) ctx.error("AG062", `TTL ${ttl} is not a positive whole number of seconds`, s, "ttl");
    const extra: RecordModel[] = [];
    const sources: DnsRecord[] = [];
    const hostNames = new Set(core.hosts.map((h) => h.name));
    const nsNames = new Set(servers.map((_, i) => `ns${i + 1}`));
    const seen = new Map<string, { type: string; rec: DnsRecord }[]>();
    for (const name of core.hosts.map((h) => h.name)) seen.set(name, [{ type: "A", rec: {} as DnsRecord }]);
    for (const r of s.records ?? []) {
      const m = checkRecord(ctx, r, core.domain);
      if (!m) continue;
      const prior = seen.get(m.name) ?? [];
      if ((m.type === "CNAME" && prior.length > 0) || prior.some((p) => p.type === "CNAME")) {
        ctx.error("AG064", `"${r.name}" has a CNAME record and other records`, r, "name", "a name with a CNAME can hold nothing else (host names already have an A record)");
        continue;
      }
      // The same address again is only a repeat (BIND keeps one); another address is a second answer.
      const own = core.hosts.find((h) => h.name === m.name)?.address ?? servers.find((_, i) => `ns${i + 1}` === m.name)?.address;
      if ((m.type === "A" || m.type === "AAAA") && (hostNames.has(m.name) || nsNames.has(m.name)) && !(m.type === "A" && m.value === own)) {
        ctx.error("AG139", `an ${m.type} record for "${m.name}" shadows ${hostNames.has(m.name) ? "the host" : "the name server"} ${m.name}: clients would get its address or this one at random`, r, "name",
          hostNames.has(m.name) ? `the zone has ${m.name}'s address from the host already: drop the record, or give it another name` : "ns1, ns2, … are the DNS servers' names: give the record another name");
        continue;
      }
      seen.set(m.name, [...prior, { type: m.type, rec: r }]);
      extra.push(m);
      sources.push(r);
    }
    if (servers.length === 0) return undefined;
    return {
      model: { primary: servers[0], secondaries: servers.slice(1), forwarders, allow: cidrs(allow), ttl, extra, sources },
      exports: {
        ports,
        plays: [
          { playbook: "admin", name: "Name servers", hosts: "airgap_dns_servers", role: "bind", after: ["repo_server", "repo_client", "chrony"] },
          { playbook: "nodes", name: "Resolvers", hosts: "all", role: "resolver" },
        ],
        // Cluster DNS forwards to the site's servers; Kubespray leaves the hosts' resolver to airgap.
        kubespray: { upstream_dns_servers: servers.map((h) => h.address), resolvconf_mode: "none" },
      },
    };
  },
  /** What needs the other services' names: records that shadow them, records that point at nothing, hosts named like a service. */
  validate(ctx, m, site) {
    const core = site.core;
    const servers = [m.primary, ...m.secondaries];
    const hostNames = new Set(core.hosts.map((h) => h.name));
    // A service's name on another host: the link phase keeps the host's own address for it, so the service's clients reach the wrong machine.
    for (const [key, e] of site.exports) {
      for (const n of e.names ?? []) {
        const host = core.hosts.find((h) => h.name === n.name);
        if (host && host !== n.host) {
          ctx.error("AG144", `the host name "${n.name}" is the DNS name of the ${key} service, which runs on ${n.host.name}: ${n.name}.${core.domain} cannot name both`,
            core.sources.get(n.name), "name", `rename the host, or place the ${key} service on it`);
        }
      }
    }
    const names = new Set<string>(["@", ...hostNames, ...servers.map((_, i) => `ns${i + 1}`), ...site.names.keys(), ...m.extra.map((r) => r.name)]);
    const cnames = new Map(m.extra.filter((r) => r.type === "CNAME").map((r) => [r.name, r]));
    const looped = new Set<string>();
    m.extra.forEach((r, i) => {
      const src = m.sources[i];
      if ((r.type === "A" || r.type === "AAAA" || r.type === "CNAME") && site.names.has(r.name)) {
        ctx.error("AG139", `the ${r.type} record "${r.name}" shadows the ${r.name} service's name (${r.name}.${core.domain} is ${site.names.get(r.name)})`, src, "name",
          "the site's services have their names already: give the record another name");
        return;
      }
      const target = r.type === "CNAME" ? r.value : r.type === "MX" ? r.value.split(" ")[1] : r.type === "SRV" ? r.value.split(" ")[3] : undefined;
      if (target === undefined) return;
      const inZone = relativeName(target.endsWith(".") ? target : `${target}.${core.domain}.`, core.domain);
      if (inZone === undefined) {
        if (m.forwarders.length === 0) {
          ctx.error("AG138", `the ${r.type} record "${r.name}" points at ${target}, outside the site's zone, and the site's DNS has no forwarders: clients would get REFUSED`, src, "value",
            "point it at a name of the site, or give dns.forwarders a resolver that answers for it");
        }
        return;
      }
      if (!names.has(inZone)) {
        ctx.error("AG138", `the ${r.type} record "${r.name}" points at "${target}", which the zone ${core.domain} does not have`, src, "value",
          `names of the zone: hosts, services (${[...site.names.keys()].join(", ") || "none"}), ns1…, and the records of dns.records`);
        return;
      }
      if (r.type === "CNAME" && !looped.has(r.name)) {
        const chain = [r.name];
        for (let next = cnames.get(inZone); next; next = cnames.get(relativeName(next.value.endsWith(".") ? next.value : `${next.value}.${core.domain}.`, core.domain) ?? "")) {
          if (chain.includes(next.name)) {
            for (const x of chain) looped.add(x);
            ctx.error("AG138", `the CNAME record "${r.name}" is part of a loop: ${[...chain, next.name].join(" → ")}`, src, "value", "point one of them at a name with an address");
            return;
          }
          chain.push(next.name);
        }
      }
    });
  },
  emit(m, site, out) {
    const core = site.core;
    const servers = [m.primary, ...m.secondaries];
    const nameservers = servers.map((h, i) => ({ name: `ns${i + 1}`, address: h.address }));
    const records: RecordModel[] = [
      ...nameservers.map((ns) => ({ name: "@", type: "NS", value: `${ns.name}.${core.domain}.` })),
      ...nameservers.map((ns) => ({ name: ns.name, type: "A", value: ns.address })),
      ...core.hosts.map((h) => ({ name: h.name, type: "A", value: h.address })),
      ...serviceRecords(site),
      ...m.extra,
    ];
    const zones: ZoneModel[] = [{ name: core.domain, records: sortRecords(records) }];
    // PTR records, bucketed by the reverse zone that holds them.
    const ptrs = new Map<string, RecordModel[]>();
    for (const h of core.hosts) {
      const full = ptrName(parseIPv4(h.address)!).full;
      const zone = core.networks.flatMap((n) => n.reverseZones).find((z) => full.endsWith(`.${z}`));
      if (!zone) continue;
      const list = ptrs.get(zone) ?? [];
      list.push({ name: full.slice(0, -(zone.length + 1)), type: "PTR", value: `${h.fqdn}.` });
      ptrs.set(zone, list);
    }
    for (const zone of new Set(core.networks.flatMap((n) => n.reverseZones))) {
      const ns = nameservers.map((x) => ({ name: "@", type: "NS", value: `${x.name}.${core.domain}.` }));
      zones.push({ name: zone, records: sortRecords([...ns, ...(ptrs.get(zone) ?? [])]) });
    }
    out.addGroup("airgap_dns_servers", servers.map((h) => h.name));
    out.addVars("all", { airgap_resolver_nameservers: servers.map((h) => h.address), airgap_resolver_search: [core.domain] });
    out.addVars("airgap_dns_servers", {
      airgap_bind_domain: core.domain,
      airgap_bind_primary: m.primary.address,
      // The role tells the primary from the secondaries by inventory name, and
      // reads the transfer key on the primary through it.
      airgap_bind_primary_host: m.primary.name,
      airgap_bind_secondaries: m.secondaries.map((h) => h.address),
      airgap_bind_allow_query: m.allow,
      airgap_bind_forwarders: m.forwarders,
      airgap_bind_ttl: m.ttl,
      airgap_bind_nameserver: `ns1.${core.domain}.`,
      airgap_bind_zones: zones,
    });
    out.runbook.push({
      title: "Names (DNS)",
      lines: [
        `BIND on ${servers.map((h) => h.name).join(", ")} (primary ${m.primary.name}) answers for ${zones.map((z) => z.name).join(", ")}.`,
        m.forwarders.length ? `Other names are forwarded to ${m.forwarders.join(", ")}.` : "Names outside the site are refused (no recursion).",
        `Check from any host: \`dig +short ${m.primary.fqdn}\`.`,
      ],
    });
  },
};

/** A records for the service names the components export (`registry`, `repo`, …). */
function serviceRecords(site: Linked): RecordModel[] {
  return [...site.names].map(([name, address]) => ({ name, type: "A", value: address }));
}

function sortRecords(list: RecordModel[]): RecordModel[] {
  const order = (r: RecordModel) => (r.name === "@" ? "" : r.name);
  return [...list].sort((a, b) => compareText(order(a), order(b)) || compareText(a.type, b.type) || compareText(a.value, b.value));
}
