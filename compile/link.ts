/**
 * The link phase: every cross-service fact of the site, derived from what the
 * components exported (components/component.ts, `Exports`). No component
 * reads another's model; what one needs of the others comes from here.
 */
import type { Component, Exports, Linked, Play, PlayDecl, PortClaim } from "./components/component.js";
import type { Context } from "./model/context.js";
import type { CoreModel } from "./model/site.js";

/** A component with what it resolved to. */
export interface ResolvedComponent {
  component: Component<unknown>;
  model: unknown;
  exports: Exports;
}

/** The playbooks, in the order `site.yml` runs them. */
export const PLAYBOOKS = ["admin", "network", "nodes"] as const;

/**
 * Reports every port claimed twice on a host (AG042), at the later claim. A
 * loopback backend clashes with any claim of its port on the host (a server
 * that listens on every address takes the loopback too). Part of the resolve
 * phase: it needs nothing but the claims.
 */
export function checkPorts(ctx: Context, claims: PortClaim[]): void {
  const taken: PortClaim[] = [];
  for (const c of claims) {
    const first = taken.find((t) => t.host.name === c.host.name && t.port === c.port && t.protocol === c.protocol);
    if (first) {
      ctx.error("AG042", `the ${c.service} service and the ${first.service} service both use ${c.host.name}:${c.port}/${c.protocol}`, c.owner, c.key,
        `give the ${c.service} service another port`);
    } else taken.push(c);
  }
}

/** The components that are part of the site: those whose `onlyWith` export some other component gives. */
export function present(resolved: ResolvedComponent[]): ResolvedComponent[] {
  return resolved.filter(({ component: c }) => !c.onlyWith || resolved.some((r) => r.component !== c && r.exports[c.onlyWith!] !== undefined && [r.exports[c.onlyWith!]].flat().length > 0));
}

/**
 * Orders the declared plays of each playbook by their `after` dependencies;
 * among plays free to run, the one declared first (component order, then the
 * component's own order) runs first. `first` needs become plays of their own,
 * narrowed to the needing play's hosts. Throws on a cycle (a component bug).
 */
export function orderPlays(decls: (PlayDecl & { service: string })[]): Play[] {
  const used = new Set(decls.map((d) => d.role));
  const out: Play[] = [];
  for (const playbook of PLAYBOOKS) {
    const seq: { play: PlayDecl & { service: string }; needs: number[] }[] = [];
    for (const d of decls.filter((x) => x.playbook === playbook)) {
      const firsts: number[] = [];
      for (const need of d.first ?? []) {
        if (!used.has(need.role)) continue;
        const source = decls.find((x) => x.role === need.role && x.playbook !== playbook) ?? decls.find((x) => x.role === need.role)!;
        firsts.push(seq.push({ play: { ...source, playbook, name: need.name, hosts: narrow(source.hosts, d.hosts), first: undefined }, needs: [] }) - 1);
      }
      seq.push({ play: d, needs: firsts });
    }
    for (const [i, s] of seq.entries()) {
      seq.forEach((o, j) => {
        if (j !== i && (s.play.after ?? []).includes(o.play.role)) s.needs.push(j);
      });
    }
    const done = new Set<number>();
    while (done.size < seq.length) {
      const next = seq.findIndex((s, i) => !done.has(i) && s.needs.every((j) => done.has(j)));
      if (next < 0) throw new Error(`the plays of ${playbook}.yml depend on each other in a cycle: ${seq.filter((_, i) => !done.has(i)).map((s) => s.play.role).join(", ")}`);
      done.add(next);
      const { name, hosts, role, service } = seq[next].play;
      out.push({ playbook, name, hosts, role, service });
    }
  }
  return out;
}

/** A host pattern narrowed to a group: `all:!x` → `group:!x`, `other` → `other:&group`. */
function narrow(pattern: string, group: string): string {
  return /^all\b/.test(pattern) ? pattern.replace(/^all\b/, group) : `${pattern}:&${group}`;
}

/** Derives the linked site from the resolved components (component order). */
export function link(core: CoreModel, resolved: ResolvedComponent[]): Linked {
  const parts = present(resolved);
  const all = parts.map((r) => r.exports);
  const hostNames = new Set(core.hosts.map((h) => h.name));
  const names = new Map<string, string>();
  for (const n of all.flatMap((e) => e.names ?? [])) if (!hostNames.has(n.name)) names.set(n.name, n.host.address);
  const tls = all.flatMap((e) => e.tls ?? []);
  return {
    core,
    exports: new Map(parts.map((r) => [r.component.key, r.exports])),
    names,
    ports: all.flatMap((e) => e.ports ?? []),
    caHost: tls[0]?.host,
    tlsNames: new Map(tls.map((t) => [t.name, [`${t.name}.${core.domain}`, t.host.fqdn]])),
    plays: orderPlays(parts.flatMap((r) => (r.exports.plays ?? []).map((p) => ({ ...p, service: r.component.key })))),
    kubespray: Object.assign({}, ...all.map((e) => e.kubespray ?? {})),
    endpoints: Object.assign({}, ...all.map((e) => e.endpoints ?? {})),
    images: all.some((e) => e.images) ? all.flatMap((e) => e.images ?? []) : undefined,
    packages: all.flatMap((e) => e.packages ?? []),
    secrets: all.flatMap((e) => e.secrets ?? []),
    registryPull: all.find((e) => e.registryPull)?.registryPull,
    python: [...new Set(all.flatMap((e) => e.python ?? []))],
  };
}
