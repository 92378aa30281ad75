/**
 * The link phase: every cross-service fact of the site, derived from what the
 * components exported (components/component.ts, `Exports`). No component
 * reads another's model; what one needs of the others comes from here.
 */
import type { Component, Exports, Linked, Play, PlayDecl, PortClaim, LinkedState } from "./components/component.js";
import { compareText, type Context } from "./model/context.js";
import type { CoreModel, HostModel, NetworkModel } from "./model/site.js";

/** A component with what it resolved to. */
export interface ResolvedComponent {
  component: Component<unknown>;
  model: unknown;
  exports: Exports;
}

/** The playbooks, in the order `site.yml` runs them. */
export const PLAYBOOKS = ["admin", "network", "nodes"] as const;

/** The claim a clash is blamed on: one whose port the site wrote, else one the site can move, else the later. */
function blamed(first: PortClaim, later: PortClaim): PortClaim {
  const written = (c: PortClaim) => c.setting !== undefined && c.key === "port";
  if (written(later)) return later;
  if (written(first)) return first;
  if (later.setting === undefined && first.setting !== undefined) return first;
  return later;
}

/** What to tell the operator about a port claim that must move. */
function moveHint(c: PortClaim, other: string): string {
  return c.setting !== undefined
    ? `give the ${c.service} service another port (${c.setting})`
    : `the ${c.service} service's port is fixed: move ${other} to another port, or one of the two services to another admin host`;
}

/**
 * Ports a Kubernetes node's own daemons listen on (Kubespray's defaults), by
 * host role: a site service there would fail to start, or take the port from
 * Kubernetes. The NodePort range (kube-proxy) is on every node.
 */
const KUBERNETES_PORTS: { roles: string[]; from: number; to: number; what: string }[] = [
  { roles: ["control-plane"], from: 6443, to: 6443, what: "kube-apiserver" },
  { roles: ["control-plane"], from: 10257, to: 10257, what: "kube-controller-manager" },
  { roles: ["control-plane"], from: 10259, to: 10259, what: "kube-scheduler" },
  { roles: ["etcd"], from: 2379, to: 2380, what: "etcd" },
  { roles: ["control-plane", "worker", "etcd"], from: 10250, to: 10250, what: "the kubelet" },
  { roles: ["control-plane", "worker"], from: 10256, to: 10256, what: "kube-proxy's health check" },
  { roles: ["control-plane", "worker"], from: 30000, to: 32767, what: "Kubernetes' NodePort range" },
];

/**
 * Reports every port claimed twice on a host (AG042), at the claim the site
 * can move (the one whose port it wrote, else one with a port setting), and
 * every claim of a port the host's sshd or Kubernetes daemons hold (AG135). A
 * loopback backend clashes with any claim of its port on the host (a server
 * that listens on every address takes the loopback too). Part of the resolve
 * phase: it needs nothing but the claims.
 */
export function checkPorts(ctx: Context, claims: PortClaim[]): void {
  const taken: PortClaim[] = [];
  for (const c of claims) {
    if (c.sshd) continue; // the host's own sshd, which is already there: nothing new listens
    if (c.protocol === "tcp" && c.port === c.host.sshPort) {
      ctx.error("AG135", `the ${c.service} service would listen on ${c.host.name}:${c.port}/tcp, the host's SSH port (Ansible connects there)`, c.owner, c.key,
        c.setting !== undefined ? `give the ${c.service} service another port (${c.setting})` : `place the ${c.service} service on another admin host, or move the host's sshd (sshPort)`);
      continue;
    }
    const k8s = c.protocol === "tcp" && KUBERNETES_PORTS.find((p) => c.port >= p.from && c.port <= p.to && c.host.roles.some((r) => p.roles.includes(r)));
    if (k8s) {
      ctx.error("AG135", `the ${c.service} service would listen on ${c.host.name}:${c.port}/tcp, which ${k8s.what} holds on that Kubernetes host`, c.owner, c.key,
        c.setting !== undefined ? `give the ${c.service} service another port (${c.setting})` : `place the ${c.service} service on an admin host that is not a Kubernetes node`);
      continue;
    }
    const first = taken.find((t) => t.host.name === c.host.name && t.port === c.port && t.protocol === c.protocol);
    if (first) {
      const at = blamed(first, c);
      const other = at === c ? first : c;
      ctx.error("AG042", `the ${at.service} service and the ${other.service} service both use ${c.host.name}:${c.port}/${c.protocol}`, at.owner, at.key,
        moveHint(at, `the ${other.service} service`));
    } else taken.push(c);
  }
}

/** The network a client reaches `server` from: the server's own network when the client has an address there, else its primary one. */
export function clientNetwork(client: HostModel, server: HostModel): string {
  return client.interfaces.some((i) => i.network === server.network) ? server.network : client.network;
}

/**
 * Every service whose `allow` leaves out hosts the compiled project makes its
 * clients (AG143, at the `allow` line, once per service): they would be
 * configured to use a server that refuses them, and the gateway would open
 * no flow for them. Skipped for a service whose `allow` names a network the
 * site does not have (already reported).
 */
export function checkClients(ctx: Context, core: CoreModel, claims: PortClaim[]): void {
  const byOwner = new Map<object, PortClaim[]>();
  for (const c of claims) {
    if (c.allow === "loopback" || !c.clients?.length) continue;
    byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), c]);
  }
  for (const [owner, list] of byOwner) {
    const names = (owner as { allow?: unknown }).allow;
    if (!Array.isArray(names) || !names.every((n) => core.networks.some((x) => x.name === n))) continue;
    const left = new Map<string, Set<string>>();
    for (const c of list) {
      const allowed = new Set((c.allow as NetworkModel[]).map((n) => n.name));
      for (const client of c.clients ?? []) {
        if (client === c.host) {
          // A server using its own service connects from its own address.
          if (!allowed.has(c.host.network)) left.set(c.host.network, (left.get(c.host.network) ?? new Set()).add(client.name));
          continue;
        }
        const net = clientNetwork(client, c.host);
        if (!allowed.has(net)) left.set(net, (left.get(net) ?? new Set()).add(client.name));
      }
    }
    if (left.size === 0) continue;
    const c = list[0];
    const who = [...left].sort(([a], [b]) => compareText(a, b)).map(([net, hosts]) => `${[...hosts].sort(compareText).join(", ")} on "${net}"`).join("; ");
    ctx.error("AG143", `the ${c.service} service's allow leaves out hosts configured as its clients: ${who}`, owner, "allow",
      `${c.clientsWhy ? `${c.clientsWhy}; ` : ""}add ${[...left.keys()].sort(compareText).map((n) => `"${n}"`).join(", ")} to allow`);
  }
}

/** The components that are part of the site: those whose `onlyWith` export some other component gives. */
export function present(resolved: ResolvedComponent[]): ResolvedComponent[] {
  return resolved.filter(({ component: c }) => !c.onlyWith || resolved.some((r) => r.component !== c && r.exports[c.onlyWith!] !== undefined && [r.exports[c.onlyWith!]].flat().length > 0));
}

/**
 * Orders the declared plays of each playbook by their `after` dependencies
 * (an entry names a role, or a play's `key`);
 * among plays free to run, the one declared first (component order, then the
 * component's own order) runs first. `first` needs become plays of their own,
 * narrowed to the needing play's hosts; the role's own play in a later
 * playbook then leaves those hosts out (`:!group`): each role runs once on a
 * host per site.yml (the gateway's resolver, CA trust and package sources
 * ran twice). Throws on a cycle (a component bug).
 */
export function orderPlays(decls: (PlayDecl & { service: string })[]): Play[] {
  const used = new Set(decls.map((d) => d.role));
  const out: Play[] = [];
  /** Role → the groups an earlier playbook already ran it on (as a `first` play). */
  const ranOn = new Map<string, string[]>();
  for (const playbook of PLAYBOOKS) {
    const earlier = new Map(ranOn);
    const seq: { play: PlayDecl & { service: string; narrowed?: boolean }; needs: number[] }[] = [];
    for (const d of decls.filter((x) => x.playbook === playbook)) {
      const firsts: number[] = [];
      for (const need of d.first ?? []) {
        if (!used.has(need.role)) continue;
        // The role's play on every host (nodes.yml), narrowed: not a play of it already narrowed to some hosts elsewhere.
        const source = decls.find((x) => x.role === need.role && x.playbook === "nodes")
          ?? decls.find((x) => x.role === need.role && x.playbook !== playbook) ?? decls.find((x) => x.role === need.role)!;
        firsts.push(seq.push({ play: { ...source, playbook, name: need.name, hosts: narrow(source.hosts, d.hosts), first: undefined, key: undefined, narrowed: true }, needs: [] }) - 1);
        if (source.playbook !== playbook) ranOn.set(need.role, [...(ranOn.get(need.role) ?? []), d.hosts]);
      }
      seq.push({ play: d, needs: firsts });
    }
    for (const [i, s] of seq.entries()) {
      seq.forEach((o, j) => {
        if (j !== i && (s.play.after ?? []).some((a) => a === o.play.role || a === o.play.key)) s.needs.push(j);
      });
    }
    const done = new Set<number>();
    while (done.size < seq.length) {
      const next = seq.findIndex((s, i) => !done.has(i) && s.needs.every((j) => done.has(j)));
      if (next < 0) throw new Error(`the plays of ${playbook}.yml depend on each other in a cycle: ${seq.filter((_, i) => !done.has(i)).map((s) => s.play.role).join(", ")}`);
      done.add(next);
      const { name, hosts, role, service, narrowed } = seq[next].play;
      const skip = narrowed ? [] : earlier.get(role) ?? [];
      out.push({ playbook, name, hosts: [hosts, ...skip.map((g) => `!${g}`)].join(":"), role, service });
    }
  }
  return out;
}

/** A host pattern narrowed to a group: `all:!x` → `group:!x`, `other` → `other:&group`. */
function narrow(pattern: string, group: string): string {
  return /^all\b/.test(pattern) ? pattern.replace(/^all\b/, group) : `${pattern}:&${group}`;
}

/** `c` with the networks `clients` reach its host from added to its `allow` (the host's own clients aside). */
function withClients(core: CoreModel, c: PortClaim, clients: HostModel[]): PortClaim {
  const allow = [...(c.allow as NetworkModel[])];
  for (const client of clients) {
    if (client === c.host) continue;
    const net = core.networks.find((n) => n.name === clientNetwork(client, c.host));
    if (net && !allow.includes(net)) allow.push(net);
  }
  return { ...c, allow };
}

/** Derives the linked site from the resolved components (component order). */
export function link(core: CoreModel, resolved: ResolvedComponent[]): Linked {
  const parts = present(resolved);
  const all = parts.map((r) => r.exports);
  const hostNames = new Set(core.hosts.map((h) => h.name));
  const names = new Map<string, string>();
  for (const n of all.flatMap((e) => e.names ?? [])) if (!hostNames.has(n.name)) names.set(n.name, n.host.address);
  const tls = all.flatMap((e) => e.tls ?? []);
  const caHost = tls[0]?.host;
  const state: LinkedState[] = [];
  for (const r of parts) {
    for (const { hosts, ...rest } of r.exports.state ?? []) {
      for (const host of hosts === "ca" ? (caHost ? [caHost] : []) : hosts) state.push({ ...rest, host, service: r.component.key });
    }
  }
  const order = new Map(core.hosts.map((h, i) => [h.name, i]));
  state.sort((a, b) => order.get(a.host.name)! - order.get(b.host.name)!); // stable: component order within a host
  const stateHosts = [...new Map(state.map((s) => [s.host.name, s.host])).values()];
  const freshness = all.flatMap((e) => e.freshness ?? []).flatMap(({ perStateHost, ...f }) =>
    perStateHost ? stateHosts.map((h) => ({ ...f, what: f.what.replaceAll("{host}", h.name), file: f.file.replaceAll("{host}", h.name) })) : [f]);
  return {
    core,
    exports: new Map(parts.map((r) => [r.component.key, r.exports])),
    names,
    ports: all.flatMap((e) => e.ports ?? []).map((c) => (c.fromStateHosts && c.allow !== "loopback" ? withClients(core, c, stateHosts) : c)),
    caHost,
    tlsNames: new Map(tls.map((t) => [t.name, [`${t.name}.${core.domain}`, t.host.fqdn]])),
    plays: orderPlays(parts.flatMap((r) => (r.exports.plays ?? []).map((p) => ({ ...p, service: r.component.key })))),
    kubespray: Object.assign({}, ...all.map((e) => e.kubespray ?? {})),
    endpoints: Object.assign({}, ...all.map((e) => e.endpoints ?? {})),
    // One entry per image (two services may carry the same one).
    images: all.some((e) => e.images) ? [...new Map(all.flatMap((e) => e.images ?? []).map((i) => [`${i.source} ${i.target}`, i])).values()] : undefined,
    packages: all.flatMap((e) => e.packages ?? []),
    secrets: all.flatMap((e) => e.secrets ?? []),
    registryPull: all.find((e) => e.registryPull)?.registryPull,
    registryPush: all.find((e) => e.registryPush)?.registryPush,
    python: [...new Set(all.flatMap((e) => e.python ?? []))],
    state,
    freshness,
  };
}
