/** NTP: chrony servers on admin hosts, every other host their client. */
import type { NtpService, Site } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import { isDomain, type CoreModel, type HostModel } from "../model/site.js";
import { parseIPv4 } from "../model/ip.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import type { Component, PortClaim } from "./component.js";

export interface NtpModel {
  servers: HostModel[];
  upstream: string[];
  allow: string[];
  localStratum: number;
}

export const ntp: Component<NtpModel> = {
  key: "ntp",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: NtpService | undefined = site.services?.ntp;
    if (!s) return undefined;
    const servers = placeOn(ctx, core, "ntp", s);
    const allow = allowedNetworks(ctx, core, s);
    const upstream = s.upstream ?? [];
    // Every other host takes its time from the servers; without upstream, two or more servers poll each other.
    const orphan = upstream.length === 0 && servers.length > 1;
    const ports = servers.map((h) => claimPort(ctx, h, 123, "udp", "ntp", allow, s, "on", {
      clients: core.hosts.filter((c) => !servers.includes(c) || (orphan && c !== h)),
      clientsWhy: `every host that is not an NTP server takes its time from ${servers.length > 1 ? "them" : "it"} (chrony)${orphan ? ", and the servers poll each other" : ""}`,
    })).filter((p): p is PortClaim => !!p);
    upstream.forEach((u, i) => {
      if (parseIPv4(u) === undefined && !isDomain(u)) {
        ctx.error("AG100", `"${u}" is neither an IPv4 address nor a host name`, upstream, i);
        return;
      }
      const bare = u.replace(/\.$/, "").toLowerCase();
      const self = bare === "localhost" || bare.startsWith("127.") || bare === "0.0.0.0" ? { name: "the server itself (loopback)" }
        : servers.find((h) => [h.name, h.fqdn, ...h.interfaces.map((x) => x.address)].includes(bare));
      if (self) {
        ctx.error("AG137", `the NTP upstream "${u}" is ${"address" in self ? `${self.name}, one of the site's own NTP servers` : self.name}: it would take its time from itself`, upstream, i,
          servers.length > 1 ? "leave upstream out: without it the servers agree among themselves (orphan mode)" : "name a time source outside the NTP servers (a GPS appliance, a corporate NTP server), or leave upstream out to serve the local clock");
      } else if (upstream.indexOf(u) !== i) {
        ctx.error("AG137", `the NTP upstream "${u}" is listed twice`, upstream, i);
      }
    });
    const localStratum = s.localStratum ?? 8;
    if (!Number.isInteger(localStratum) || localStratum < 1 || localStratum > 15) {
      ctx.error("AG101", `local stratum ${localStratum} is out of range`, s, "localStratum", "a whole number from 1 to 15");
    }
    if (servers.length === 0) return undefined;
    return {
      model: { servers, upstream, allow: cidrs(allow), localStratum },
      exports: {
        names: [{ name: "ntp", host: servers[0] }],
        ports,
        // Time first: every host's clock is set from the site's time (role
        // clock, no package needed) before anything trusts it (TLS, APT's
        // Release dates, TSIG). The time server on the repository host runs
        // first (it installs from the bundle); the other admin hosts set their
        // clocks from it, then get the CA and the package sources, then their
        // own chrony.
        plays: [
          // With upstream sources, the time server on the repository host sets its clock from
          // them before the CA issues anything (certificates are dated by it).
          ...(upstream.length ? [{ playbook: "admin" as const, name: "Clock of the time server on the repository host", hosts: "airgap_ntp_servers:&airgap_repo_servers", role: "clock", key: "reference_clock" }] : []),
          { playbook: "admin", name: "Time server on the repository host", hosts: "airgap_ntp_servers:&airgap_repo_servers", role: "chrony", key: "time_reference", after: ["repo_server"] },
          { playbook: "admin", name: "Admin hosts: clock", hosts: "airgap_admin:!airgap_repo_servers", role: "clock", after: ["time_reference"] },
          { playbook: "admin", name: "Time servers", hosts: "airgap_ntp_servers:!airgap_repo_servers", role: "chrony", after: ["repo_client"] },
          { playbook: "nodes", name: "Clock", hosts: "all:!airgap_ntp_servers", role: "clock" },
          { playbook: "nodes", name: "Time clients", hosts: "all:!airgap_ntp_servers", role: "chrony", after: ["resolver", "repo_client"] },
        ],
        // One owner for time: airgap configures chrony, Kubespray leaves it alone.
        kubespray: { ntp_enabled: false },
      },
    };
  },
  emit(m, site, out) {
    const names = m.servers.map((h) => h.name);
    out.addGroup("airgap_ntp_servers", names);
    // The clock role sets a host's clock once from these before anything trusts it: every
    // host from the site's servers; a server from upstream, else from the other servers
    // (the role leaves its own addresses out), none of which need answer yet.
    out.addVars("all", { airgap_chrony_servers: m.servers.map((h) => h.address), airgap_clock_servers: m.servers.map((h) => h.address) });
    // Without upstream the servers serve their own clock (`local stratum N`);
    // two or more of them agree among themselves (orphan mode: each polls the
    // others, the role leaves a server's own address out). With upstream they
    // follow it: no local reference, no orphan group.
    const local = m.upstream.length === 0;
    const orphan = local && m.servers.length > 1;
    out.addVars("airgap_ntp_servers", {
      airgap_chrony_servers: m.upstream,
      airgap_chrony_allow: m.allow,
      airgap_chrony_local_stratum: local ? m.localStratum : 0,
      airgap_chrony_orphan: orphan,
      airgap_chrony_peers: orphan ? m.servers.map((h) => h.address) : [],
      airgap_clock_servers: local ? m.servers.map((h) => h.address) : m.upstream,
      airgap_clock_required: !local,
    });
    out.runbook.push({
      title: "Time (NTP)",
      lines: [
        `chrony on ${names.join(", ")} serves ${m.upstream.length ? `time from ${m.upstream.join(", ")}` : `its own clock at stratum ${m.localStratum}${m.servers.length > 1 ? " (orphan mode: the servers agree among themselves)" : ""}`} to ${m.allow.join(", ")}.`,
        "Every other host is its client only. Check from any host: `chronyc sources`.",
        "Time first: before a host trusts a certificate or a package index, its clock is set once from the site's time servers (role clock, no package needed)" +
          (!local ? `; the time servers' from ${m.upstream.join(", ")}`
            : site.core.hosts.filter((h) => h.roles.includes("admin")).length > 1 ? "; the other admin hosts' from the time server on the repository host, which is set up first" : "") +
          ". A host whose clock is off by more than 5 s and cannot be set (a container) stops the run there, " +
          "the message naming the offset and the server: set its clock and run again.",
      ],
    });
  },
};
