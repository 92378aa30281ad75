/**
 * The site diagram: networks (boxes), hosts in them (with their roles, the
 * services they serve and those services' ports), the gateway between the
 * networks, and the flows between networks (the services' own, from the port
 * claims, and the site's declared `flows`). Written as Graphviz DOT
 * (`diagram.dot`, deterministic, part of the compiled project); `renderSvg`
 * lays it out with Graphviz's `dot` into `diagram.svg` when Graphviz is
 * installed (Debian: graphviz). Nothing here places a box by hand.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Linked } from "../components/component.js";
import { serviceFlows, type GatewayModel } from "../components/gateway.js";
import type { HostModel } from "../model/site.js";
import { compareText } from "../model/context.js";

/**
 * Hosts per column inside a network's box (the layout runs left to right): a
 * host box is about twice as wide as it is tall, so about √(2.2·n) of them
 * stacked keeps the network's box near square; at least 4.
 */
function columnHeight(n: number): number {
  return Math.max(4, Math.ceil(Math.sqrt(2.2 * n)));
}

const ROLE_COLOURS: Record<string, string> = {
  admin: "#dbeafe",
  gateway: "#e5e7eb",
  "control-plane": "#fde68a",
  etcd: "#fde68a",
  worker: "#d1fae5",
};

/** Text safe inside a DOT HTML-like label. */
function html(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A DOT identifier or label, quoted; a line break becomes DOT's centred `\n`. */
function id(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Names in natural order, the same on every machine: node2 before node10. */
function natural(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i], y = pb[i];
    const c = /^\d/.test(x) && /^\d/.test(y) ? Number(x) - Number(y) || compareText(x, y) : compareText(x, y);
    if (c) return c;
  }
  return pa.length - pb.length || compareText(a, b);
}

/** Ports as people read them: `53/tcp+udp`, `443/tcp`. */
function portText(list: { port: number; protocol: string }[]): string {
  const by = new Map<number, Set<string>>();
  for (const p of list) by.set(p.port, (by.get(p.port) ?? new Set()).add(p.protocol));
  return [...by]
    .sort(([a], [b]) => a - b)
    .map(([port, protos]) => `${port}/${[...protos].sort().join("+")}`)
    .join(", ");
}

function hostColour(h: HostModel): string {
  if (h.roles.length === 0) return "#ffffff";
  return ROLE_COLOURS[h.roles[0]] ?? "#ffffff";
}

/** Order inside a network: servers and the gateway first, then the control plane, then the rest; by name within. */
function rank(h: HostModel): number {
  if (h.roles.includes("admin") || h.roles.includes("gateway")) return 0;
  if (h.roles.includes("control-plane") || h.roles.includes("etcd")) return 1;
  if (h.roles.length === 0) return 3;
  return 2;
}

/**
 * The DOT text for a linked site. `gateway` is the gateway component's model
 * (its declared flows), when the site has one.
 */
export function emitDiagram(site: Linked, gateway?: GatewayModel): string {
  const core = site.core;
  // Services each host serves to the site (loopback backends are internal).
  const services = new Map<string, Map<string, { port: number; protocol: string }[]>>();
  for (const c of site.ports) {
    if (c.allow === "loopback") continue;
    const m = services.get(c.host.name) ?? new Map<string, { port: number; protocol: string }[]>();
    m.set(c.service, [...(m.get(c.service) ?? []), { port: c.port, protocol: c.protocol }]);
    services.set(c.host.name, m);
  }
  const gw = core.hosts.find((h) => h.roles.includes("gateway") && h.interfaces.length > 1);
  const lines: string[] = [
    `// The site "${core.name}": networks, hosts, services and the flows between networks.`,
    "// Made by airgap compile; lay it out with Graphviz: dot -Tsvg diagram.dot -o diagram.svg",
    `digraph ${id(core.name)} {`,
    "  graph [rankdir=LR, compound=true, newrank=true, nodesep=0.2, ranksep=0.5, fontname=\"Helvetica\", fontsize=12, labelloc=t,",
    `         label=<<b>${html(core.name)}</b> (${html(core.domain)})<br/><font point-size="10">hosts by network; arrows: traffic between networks, to the service it uses</font>>];`,
    '  node [shape=plain, fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#475569", fontcolor="#334155"];',
  ];
  const anchor = (network: string) => id(`net:${network}`);
  // Arrows leave a network from the top host of its last column, so the boxes they reach lie to its right.
  const ordered = new Map(core.networks.map((n) => [n.name, core.hosts.filter((h) => h.network === n.name && h !== gw).sort((a, b) => rank(a) - rank(b) || natural(a.name, b.name))]));
  const exit = (network: string) => {
    const hosts = ordered.get(network) ?? [];
    if (!hosts.length) return anchor(network);
    const column = columnHeight(hosts.length);
    return id(hosts[Math.floor((hosts.length - 1) / column) * column].name);
  };
  for (const n of core.networks) {
    const hosts = ordered.get(n.name)!;
    const router = n.gateway ? ` · router ${n.gateway}` : "";
    lines.push(`  subgraph ${id(`cluster_${n.name}`)} {`);
    lines.push(`    label=<<b>${html(n.name)}</b> ${html(n.cidr)}${html(router)}>; style="rounded,filled"; fillcolor="#f8fafc"; color="#94a3b8";`);
    // A network without hosts still gets a point for arrows to end at.
    if (hosts.length === 0) lines.push(`    ${anchor(n.name)} [shape=point, style=invis, width=0.01];`);
    for (const h of hosts) {
      const rows = [
        `<tr><td align="left"><b>${html(h.name)}</b></td></tr>`,
        `<tr><td align="left">${html(h.address)}</td></tr>`,
        `<tr><td align="left"><font color="#475569">${html(h.roles.length ? h.roles.join(", ") : "client")}</font></td></tr>`,
      ];
      for (const [service, ports] of [...(services.get(h.name) ?? new Map())].sort(([a], [b]) => compareText(a, b))) {
        rows.push(`<tr><td align="left"><font color="#1d4ed8">${html(service)} ${html(portText(ports))}</font></td></tr>`);
      }
      lines.push(`    ${id(h.name)} [label=<<table border="1" cellborder="0" cellspacing="0" cellpadding="2" style="rounded" bgcolor="${hostColour(h)}">${rows.join("")}</table>>];`);
    }
    // Columns: each host sits left of the one a column's height after it.
    const column = columnHeight(hosts.length);
    for (let i = 0; i + column < hosts.length; i++) lines.push(`    ${id(hosts[i].name)} -> ${id(hosts[i + column].name)} [style=invis];`);
    for (let c = 0; c * column < hosts.length; c++) {
      const members = hosts.slice(c * column, (c + 1) * column);
      if (members.length > 1) lines.push(`    { rank=same; ${members.map((h) => id(h.name)).join("; ")}; }`);
    }
    lines.push("  }");
  }
  if (gw) {
    const rows = [
      `<tr><td align="left"><b>${html(gw.name)}</b></td></tr>`,
      `<tr><td align="left">${gw.interfaces.map((i) => html(i.address)).join("<br/>")}</td></tr>`,
      `<tr><td align="left"><font color="#475569">gateway: forwards only the arrows' traffic</font></td></tr>`,
    ];
    lines.push(`  ${id(gw.name)} [label=<<table border="1" cellborder="0" cellspacing="0" cellpadding="2" style="rounded" bgcolor="${hostColour(gw)}">${rows.join("")}</table>>];`);
    // The gateway stands between the networks traffic comes from (left) and the others (right).
    const sources = new Set([...serviceFlows(site).map((f) => f.from), ...(gateway?.declared ?? []).map((f) => core.networks.find((n) => n.cidr === f.from)?.name)]);
    const left = gw.interfaces.some((i) => sources.has(i.network)) ? (n: string) => sources.has(n) : (n: string) => n === gw.interfaces[0].network;
    for (const i of gw.interfaces) {
      const first = ordered.get(i.network)?.[0];
      const edge = left(i.network)
        ? `${exit(i.network)} -> ${id(gw.name)} [dir=none, style=dashed, ltail=${id(`cluster_${i.network}`)}, label=${id(i.address)}];`
        : `${id(gw.name)} -> ${first ? id(first.name) : anchor(i.network)} [dir=none, style=dashed, lhead=${id(`cluster_${i.network}`)}, label=${id(i.address)}];`;
      lines.push(`  ${edge}`);
    }
  }
  // The services' flows between networks: one arrow per client network and server, naming what it carries.
  const flows = new Map<string, { from: string; server: string; items: Map<string, { port: number; protocol: string }[]> }>();
  for (const f of serviceFlows(site)) {
    const key = `${f.from}\u0000${f.server}`;
    const e = flows.get(key) ?? { from: f.from, server: f.server, items: new Map() };
    const port = Number(f.flow.ports[0]);
    e.items.set(f.service, [...(e.items.get(f.service) ?? []), { port, protocol: f.flow.protocol }]);
    flows.set(key, e);
  }
  for (const e of [...flows.values()].sort((a, b) => compareText(a.from, b.from) || compareText(a.server, b.server))) {
    const label = [...e.items].sort(([a], [b]) => compareText(a, b)).map(([s, p]) => `${s} ${portText(p)}`).join("\n");
    lines.push(`  ${exit(e.from)} -> ${id(e.server)} [ltail=${id(`cluster_${e.from}`)}, label=${id(label)}];`);
  }
  // The site's own declared flows (gateway.flows), network to network or host.
  const byCidr = new Map(core.networks.map((n) => [n.cidr, n.name]));
  const byAddress = new Map(core.hosts.flatMap((h) => h.interfaces.map((i) => [i.address, h.name] as const)));
  for (const f of gateway?.declared ?? []) {
    const fromNet = byCidr.get(f.from);
    const toNet = byCidr.get(f.to);
    const toHost = byAddress.get(f.to);
    if (!fromNet || (!toNet && !toHost)) continue;
    const toFirst = toNet ? core.hosts.find((h) => h.network === toNet && h !== gw) : undefined;
    const head = toHost ? id(toHost) : toFirst ? id(toFirst.name) : anchor(toNet!);
    const attrs = [`ltail=${id(`cluster_${fromNet}`)}`, ...(toNet ? [`lhead=${id(`cluster_${toNet}`)}`] : []), 'style=bold', 'color="#b45309"', 'fontcolor="#b45309"'];
    const ports = f.protocol === "icmp" ? "icmp" : `${f.ports.join(",")}/${f.protocol}`;
    lines.push(`  ${exit(fromNet)} -> ${head} [${attrs.join(", ")}, label=${id(`${ports}\n${f.comment}`)}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** What `renderSvg` made: the SVG, or why there is none (Graphviz missing, or its error). */
export type Rendered = { svg: string; reason?: undefined } | { svg?: undefined; reason: string };

/**
 * Lays out DOT text with Graphviz's `dot` (the binary named by $AIRGAP_DOT,
 * else `dot` on PATH) into SVG. Never rejects: a missing Graphviz, or one that
 * fails, is a reason to report, not an error of the compile. Gives up after
 * 60 s; `signal` stops it sooner (the reason then says it was aborted).
 */
export function renderSvg(dot: string, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<Rendered> {
  const bin = env.AIRGAP_DOT || "dot";
  return new Promise((resolve) => {
    const child = spawn(bin, ["-Tsvg"], { stdio: ["pipe", "pipe", "pipe"], ...(signal ? { signal } : {}) });
    // Our own timer, not spawn's `timeout`: that one is cleared only when the
    // process exits, so a dot that never started (ENOENT) kept the compile
    // waiting for the whole 60 s.
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const done = (r: Rendered) => {
      clearTimeout(timer);
      resolve(r);
    };
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.setEncoding("utf8").on("data", (t: string) => (err += t));
    child.stdin.on("error", () => undefined); // a dot that exits early: its exit says why
    child.on("error", (e: NodeJS.ErrnoException) =>
      done({ reason: e.code === "ENOENT" ? `Graphviz is not installed (no ${bin} on PATH; Debian: apt-get install graphviz)` : `${bin} failed: ${e.message}` }),
    );
    child.on("close", (code, signal) => {
      if (code === 0) done({ svg: Buffer.concat(out).toString("utf8") });
      else done({ reason: `${bin} failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${err.trim().split("\n")[0] ?? ""}` });
    });
    child.stdin.end(dot);
  });
}

/**
 * The diagram.svg of the project already in `dir`, when its diagram.dot is
 * `dot` byte for byte (the same layout would come out again: Graphviz is
 * deterministic); undefined otherwise.
 */
export function previousSvg(dir: string, dot: string): string | undefined {
  try {
    if (readFileSync(path.join(dir, "diagram.dot"), "utf8") !== dot) return undefined;
    return readFileSync(path.join(dir, "diagram.svg"), "utf8");
  } catch {
    return undefined;
  }
}

/** The SVG of `dot` for the project in `dir`: the one already there when diagram.dot is unchanged (previousSvg), else Graphviz's (renderSvg). */
export function diagramSvg(dir: string, dot: string, signal?: AbortSignal): Promise<Rendered> {
  const kept = previousSvg(dir, dot);
  return kept !== undefined ? Promise.resolve({ svg: kept }) : renderSvg(dot, process.env, signal);
}
