/**
 * The site's network: routes on every host to the other site networks, and
 * the gateway host that forwards between them only the flows the site allows
 * (its services' own, from the networks allowed to use them, and `flows`).
 */
import type { Flow, Host, Network, Site } from "../../dsl/index.js";
import { compareText, type Context } from "../model/context.js";
import type { CoreModel, HostModel, NetworkModel } from "../model/site.js";
import type { Component, Linked, PlayDecl } from "./component.js";

/** One rule of the gateway's forward chain. */
export interface FlowModel {
  /** Source network (CIDR). */
  from: string;
  /** Destination network (CIDR) or host address. */
  to: string;
  protocol: "tcp" | "udp" | "icmp";
  /** Destination ports and ranges (`"22"`, `"30000-32767"`); empty for icmp. */
  ports: string[];
  comment: string;
}

export interface Route {
  to: string;
  via: string;
}

export interface GatewayModel {
  /** The gateway host, when the site has one. */
  host?: HostModel;
  /** The site's declared flows (`flows`); the services' own come from the link phase. */
  declared: FlowModel[];
  /** Networks the declared flows need routed, and where each need was written. */
  declaredRoutes: Map<string, RouteNeed>;
  /** Every network's router (the gateway host's address on it, or the network's own `gateway`). */
  routers: Map<string, string>;
  /** The gateway host as the site file wrote it (errors point at it). */
  raw?: Host;
  /** Whether the site routes at all (a gateway host, or routes on some host). */
  routed: boolean;
  /** The networks as the site file wrote them (errors point at them). */
  networks: Network[];
  /** CIDRs traffic is source-NATed toward (DMZ networks). */
  masquerade: string[];
  /** Host name → its routes to the other site networks, and its default route ("" for none). */
  routes: Map<string, { routes: Route[]; default: string }>;
}

/** Why a network must be routed, and where the site says so (errors point there). */
interface RouteNeed {
  why: string;
  owner: unknown;
  key: string | number;
}

/** A service's flow, with the networks it joins. */
interface ServiceFlow {
  flow: FlowModel;
  /** Client network and the server's network (names). */
  from: string;
  to: string;
  need: RouteNeed;
  server: string;
  service: string;
}

/**
 * The services' own flows: for every port a service opens to the site, one
 * from each network allowed to use it that has hosts (the gateway aside) and
 * that the server is not on.
 */
export function serviceFlows(site: Linked): ServiceFlow[] {
  const populated = new Set(site.core.hosts.filter((h) => !h.roles.includes("gateway")).map((h) => h.network));
  const out: ServiceFlow[] = [];
  for (const c of site.ports) {
    if (c.allow === "loopback") continue;
    const local = new Set(c.host.interfaces.map((i) => i.network));
    for (const n of c.allow) {
      if (local.has(n.name) || !populated.has(n.name)) continue;
      out.push({
        flow: { from: n.cidr, to: c.host.address, protocol: c.protocol, ports: [String(c.port)], comment: `${c.service} for ${n.name}` },
        from: n.name,
        to: c.host.network,
        need: { why: `hosts on it use the ${c.service} service on ${c.host.name}`, owner: c.owner, key: "on" },
        server: c.host.name,
        service: c.service,
      });
    }
  }
  return out;
}

const PORT_RANGE = /^(\d{1,5})-(\d{1,5})$/;

/** A flow's ports as nftables writes them; undefined (and reported) when one is invalid. */
function flowPorts(ctx: Context, f: Flow): string[] | undefined {
  const ports = f.ports ?? [];
  if (f.protocol === "icmp") {
    if (ports.length > 0) ctx.error("AG115", "an icmp flow has no ports", f, "ports", "leave ports out");
    return ports.length > 0 ? undefined : [];
  }
  if (f.protocol !== "tcp" && f.protocol !== "udp") {
    ctx.error("AG115", `unknown protocol "${String(f.protocol)}"`, f, "protocol", "one of: tcp, udp, icmp");
    return undefined;
  }
  if (ports.length === 0) {
    ctx.error("AG115", `a ${f.protocol} flow needs its destination ports`, f, f.ports ? "ports" : "protocol", 'ports: [22] or ports: ["30000-32767"]');
    return undefined;
  }
  let ok = true;
  const out = ports.map((p, i) => {
    const m = typeof p === "string" ? PORT_RANGE.exec(p) : null;
    const [lo, hi] = typeof p === "number" ? [p, p] : m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi) {
      ctx.error("AG115", `${JSON.stringify(p)} is not a port or a range of ports`, ports, i, 'a whole number from 1 to 65535, or "LOW-HIGH"');
      ok = false;
    }
    return String(p);
  });
  return ok ? out : undefined;
}

/** nftables comments: printable, no double quote, at most 128 bytes. */
function comment(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, " ").replace(/"/g, "'").slice(0, 120);
}

export const gateway: Component<GatewayModel> = {
  key: "gateway",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const declared = site.flows ?? [];
    const gwRaw = (site.hosts ?? []).find((h) => (h.roles ?? []).includes("gateway"));
    const gw = gwRaw && core.hosts.find((h) => h.name === gwRaw.name);
    // An invalid gateway host is reported already: what depends on it would only repeat it.
    const broken = gwRaw !== undefined && !gw;
    const netByName = new Map(core.networks.map((n) => [n.name, n]));
    const declaredRoutes = new Map<string, RouteNeed>();
    const flows: FlowModel[] = [];

    // The site's declared flows.
    declared.forEach((f) => {
      const from = netByName.get(f.from);
      const broken = (name: string) => core.brokenNetworks.has(name); // its CIDR is reported
      if (!from && !broken(f.from)) {
        ctx.error("AG114", `flow from "${f.from}": not a network of the site`, f, "from", `networks: ${core.networks.map((n) => n.name).join(", ")}`);
      }
      const toNet = netByName.get(f.to);
      const toHost = core.hosts.find((h) => h.name === f.to);
      if (!toNet && !toHost && !core.declaredHosts.has(f.to) && !broken(f.to)) {
        ctx.error("AG114", `flow to "${f.to}": neither a network nor a host of the site`, f, "to");
      }
      const ports = flowPorts(ctx, f);
      if (!from || (!toNet && !toHost) || !ports) return;
      const to = toNet ? toNet.cidr : toHost!.address;
      // To the gateway host itself is its own input (SSH to it), not forwarded: allowed from its own networks.
      if (toNet === from || (toHost && toHost !== gw && toHost.interfaces.some((i) => i.network === from.name))) {
        ctx.error("AG146", `the flow from "${f.from}" to "${f.to}" stays inside network "${from.name}": the gateway never sees it`, f, "to",
          "hosts on one network reach each other directly; flows are for traffic between networks: remove it, or name the other network");
        return;
      }
      flows.push({ from: from.cidr, to, protocol: f.protocol, ports, comment: comment(f.why ?? `${f.from} to ${f.to}`) });
      if (!declaredRoutes.has(from.name)) declaredRoutes.set(from.name, { why: "a flow comes from it", owner: f, key: "from" });
      const toName = toNet ? toNet.name : toHost!.network;
      if (!declaredRoutes.has(toName)) declaredRoutes.set(toName, { why: "a flow goes to it", owner: f, key: "to" });
    });
    if (declared.length > 0 && !gwRaw) {
      ctx.error("AG116", "the site declares flows but has no gateway host to enforce them", site, "flows",
        'give the host that routes between the networks roles: ["gateway"] and an address on each of them (interfaces)');
    }

    // The router of each network: the gateway host's address on it, or the network's own `gateway`.
    const routers = new Map<string, string>();
    for (const n of core.networks) {
      const own = gw?.interfaces.find((i) => i.network === n.name)?.address;
      const rawNet = (site.networks ?? []).find((x) => x.name === n.name);
      if (own && n.gateway !== undefined && n.gateway !== own) {
        ctx.error("AG117", `network "${n.name}" names router ${n.gateway}, but the gateway host ${gw!.name} is ${own} on it`, rawNet, "gateway",
          "leave gateway out: the gateway host's address is the router");
      }
      const squatter = !own && n.gateway !== undefined ? core.hosts.find((h) => h !== gw && h.interfaces.some((i) => i.address === n.gateway)) : undefined;
      if (squatter) {
        ctx.error("AG147", `network "${n.name}" names router ${n.gateway}, which is the address of ${squatter.name}, a host that does not route`, rawNet, "gateway",
          `give the router its own address, or give ${squatter.name} roles: ["gateway"] (airgap then configures its forwarding)`);
      }
      const via = own ?? n.gateway;
      if (via) routers.set(n.name, via);
      else if (n.defaultRoute) {
        ctx.error("AG117", `network "${n.name}" asks for a default route but has no router`, rawNet, "defaultRoute",
          "give the gateway host an address on it, or the network a gateway address");
      }
    }

    // Routes: each host (the gateway aside) reaches the site networks it is
    // not on through its own network's router; a default route only when declared.
    const routes = new Map<string, { routes: Route[]; default: string }>();
    for (const h of core.hosts) {
      if (h === gw) continue;
      const via = routers.get(h.network);
      if (!via) continue;
      const on = new Set(h.interfaces.map((i) => i.network));
      const reachable = core.networks.filter((n) => !on.has(n.name) && (!gw || gw.interfaces.some((i) => i.network === n.name)));
      const net = netByName.get(h.network) as NetworkModel;
      routes.set(h.name, { routes: reachable.map((n) => ({ to: n.cidr, via })), default: net.defaultRoute ? via : "" });
    }
    const masquerade = gw ? core.networks.filter((n) => n.masquerade && gw.interfaces.some((i) => i.network === n.name)).map((n) => n.cidr) : [];
    if (broken) return undefined;
    // Without a gateway host and without routes the site has one flat network: nothing to do.
    const routed = gw || [...routes.values()].some((r) => r.routes.length > 0 || r.default);
    const plays: PlayDecl[] = [{ playbook: "network", name: "Routes to the site networks", hosts: "all", role: "routes" }];
    if (gw) {
      // The gateway installs nftables from the site's repository: its names,
      // trust and package sources are set up first, and all before the hosts behind it.
      plays.push({
        playbook: "network", name: "Gateway (forwarding, nftables)", hosts: "airgap_gateways", role: "gateway", after: ["routes"],
        first: [
          { role: "resolver", name: "Gateway: resolver" },
          { role: "ca_trust", name: "Gateway: trust in the site CA" },
          { role: "clock", name: "Gateway: clock" },
          { role: "repo_client", name: "Gateway: package sources" },
        ],
      });
    }
    return {
      model: { host: gw, raw: gwRaw, declared: flows, declaredRoutes, routers, masquerade, routes, routed: !!routed, networks: site.networks ?? [] },
      exports: routed ? { plays } : {},
    };
  },
  validate(ctx, m, site) {
    for (const n of site.core.networks.filter((x) => x.masquerade && !m.masquerade.includes(x.cidr))) {
      ctx.error("AG118", `network "${n.name}" is masqueraded, but no gateway host has an address on it`,
        m.networks.find((x) => x.name === n.name), "masquerade");
    }
    const gw = m.host;
    // A gateway host on one network routes nothing; said once: here, or by AG118 below when a network needs it.
    const single = gw !== undefined && new Set(gw.interfaces.map((i) => i.network)).size < 2;
    const alone = () => ctx.error("AG141", `the gateway host ${gw!.name} has an address on one network only ("${gw!.network}"): it has nothing to route`, m.raw, "roles",
      'give it an address on each network it routes (interfaces: [{ network: "…", address: "…" }]), or drop the gateway role');
    if (site.core.networks.length < 2) {
      if (single) alone();
      return;
    }
    // Every network that must be routed (the services' flows first, then the
    // declared ones): the gateway has an address on it, or, without a gateway
    // host, the network has a router.
    const mustRoute = new Map<string, RouteNeed>();
    for (const s of serviceFlows(site)) {
      if (!mustRoute.has(s.from)) mustRoute.set(s.from, s.need);
      if (!mustRoute.has(s.to)) mustRoute.set(s.to, { ...s.need, why: `${s.server} serves ${s.service} to "${s.from}"` });
    }
    for (const [name, need] of m.declaredRoutes) if (!mustRoute.has(name)) mustRoute.set(name, need);
    let missing = false;
    for (const [name, why] of [...mustRoute].sort(([a], [b]) => compareText(a, b))) {
      if (gw && !gw.interfaces.some((i) => i.network === name)) {
        missing = true;
        ctx.error("AG118", `the gateway host ${gw.name} has no address on network "${name}", which it must route (${why.why})`,
          m.raw, m.raw?.interfaces ? "interfaces" : "address", `add interfaces: [{ network: "${name}", address: "…" }]`);
      } else if (!gw && !m.routers.has(name)) {
        ctx.error("AG118", `nothing routes network "${name}" to the other site networks (${why.why})`, why.owner, why.key,
          `declare a gateway host with an address on "${name}", or give the network a gateway address`);
      }
    }
    if (single && !missing) alone();
  },
  emit(m, site, out) {
    if (!m.routed) return;
    out.addVars("all", { airgap_routes: [], airgap_routes_default: "" });
    for (const [host, r] of m.routes) {
      if (r.routes.length === 0 && !r.default) continue;
      out.addHostVars(host, { airgap_routes: r.routes, airgap_routes_default: r.default });
    }
    const lines = [
      "Every host gets routes to the other site networks through its network's router, written to " +
        "`/etc/airgap/routes` and applied at boot by `airgap-routes.service` (check: `ip -4 route`).",
    ];
    if (m.host) {
      const g = m.host;
      const flows = mergeFlows([...serviceFlows(site).map((s) => s.flow), ...m.declared]);
      out.addGroup("airgap_gateways", [g.name]);
      const input = gatewayInput(g, site, m.declared);
      out.addVars("airgap_gateways", { airgap_gateway_flows: flows, airgap_gateway_input: input, airgap_gateway_masquerade: m.masquerade });
      lines.push(
        `${g.name} forwards between ${g.interfaces.map((i) => i.network).join(", ")} only what ${flows.length} rule(s) allow ` +
          "(nftables table `inet airgap_gateway`, default drop); list them with `nft list table inet airgap_gateway`, " +
          "count what was dropped with `nft list counter inet airgap_gateway dropped`.",
        `${g.name} itself accepts only ${input.length} rule(s) (SSH from ${[...new Set(input.filter((r) => r.comment === "SSH to the gateway (Ansible)").map((r) => r.from))].join(", ")}, ` +
          "its own services, ping) and replies to what it asks; the rest is dropped and counted: `nft list counter inet airgap_gateway input_dropped`.",
      );
      if (m.masquerade.length) lines.push(`Traffic into ${m.masquerade.join(", ")} leaves with ${g.name}'s address there (masquerade).`);
    }
    out.runbook.push({ title: "Network (routes, gateway)", lines });
  },
};

/** One rule of the gateway host's own input chain (traffic to the gateway itself). */
export interface InputRuleModel {
  /** Source network (CIDR). */
  from: string;
  protocol: "tcp" | "udp" | "icmp";
  /** Destination ports and ranges; empty for icmp (echo requests). */
  ports: string[];
  comment: string;
}

/** Whether a port list (`"22"`, `"20-30"`) holds `port`. */
function holds(ports: string[], port: number): boolean {
  return ports.some((p) => {
    const [lo, hi = lo] = p.split("-").map(Number);
    return lo <= port && port <= hi;
  });
}

/**
 * What the gateway host itself accepts (its input chain drops the rest):
 * SSH on its `sshPort` from the networks the site's declared flows let SSH
 * through from (the controller's), or from each network it is on when no
 * declared flow carries SSH (Ansible must reach it); the services placed on
 * it, from their allowed networks; declared flows whose destination is the
 * gateway host; ICMP echo from every site network. Replies to what the
 * gateway asks (DNS, NTP, packages) pass as established traffic.
 */
export function gatewayInput(g: HostModel, site: Linked, declared: FlowModel[]): InputRuleModel[] {
  const own = new Set(g.interfaces.map((i) => i.address));
  const networks = site.core.networks;
  const rules: InputRuleModel[] = [];
  const sshFrom = declared.filter((f) => f.protocol === "tcp" && holds(f.ports, g.sshPort)).map((f) => f.from);
  const sshSources = sshFrom.length > 0 ? sshFrom : networks.filter((n) => g.interfaces.some((i) => i.network === n.name)).map((n) => n.cidr);
  for (const from of [...new Set(sshSources)]) rules.push({ from, protocol: "tcp", ports: [String(g.sshPort)], comment: "SSH to the gateway (Ansible)" });
  for (const c of site.ports) {
    if (c.host.name !== g.name || c.allow === "loopback") continue;
    for (const n of c.allow) rules.push({ from: n.cidr, protocol: c.protocol, ports: [String(c.port)], comment: comment(`${c.service} for ${n.name}`) });
  }
  for (const f of declared) if (own.has(f.to)) rules.push({ from: f.from, protocol: f.protocol, ports: f.ports, comment: f.comment });
  for (const n of networks) rules.push({ from: n.cidr, protocol: "icmp", ports: [], comment: comment(`ping from ${n.name}`) });
  return mergeFlows(rules.map((r) => ({ ...r, to: g.address }))).map(({ from, protocol, ports, comment: c }) => ({ from, protocol, ports, comment: c }));
}

/** One rule per source, destination and protocol, ports together, in a stable order. */
function mergeFlows(flows: FlowModel[]): FlowModel[] {
  const byKey = new Map<string, FlowModel>();
  for (const f of flows) {
    const key = `${f.from} ${f.to} ${f.protocol}`;
    const had = byKey.get(key);
    if (!had) byKey.set(key, { ...f, ports: [...f.ports] });
    else {
      for (const p of f.ports) if (!had.ports.includes(p)) had.ports.push(p);
      if (!had.comment.includes(f.comment)) had.comment = comment(`${had.comment}; ${f.comment}`);
    }
  }
  const first = (p: string) => Number(p.split("-")[0]);
  return [...byKey.values()].map((f) => ({ ...f, ports: f.ports.sort((a, b) => first(a) - first(b)) }));
}
