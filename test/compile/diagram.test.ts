/**
 * The site diagram: the DOT the compiler writes, laid out by the real Graphviz
 * (`dot`, Debian's graphviz), checked on the layout Graphviz itself reports
 * (`dot -Tjson`): every host inside its network's box, no two hosts on top
 * of each other, a readable shape for a 50-host site; and a compile without
 * Graphviz still succeeds, saying so.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { synth } from "../../compile/synth.js";
import { BAD_SITES, CLI, EXAMPLES } from "../helpers.js";

interface Layout {
  bb: string;
  objects: { name: string; bb?: string; pos?: string; width?: string; height?: string; nodes?: number[]; _gvid: number; label?: string }[];
  edges?: { tail: number; head: number; label?: string }[];
}

/** Graphviz's own layout of a DOT text (points; y grows upwards). */
function layout(dot: string): Layout {
  const r = spawnSync("dot", ["-Tjson"], { input: dot, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Layout;
}

type Box = { x0: number; y0: number; x1: number; y1: number };
const box = (bb: string): Box => {
  const [x0, y0, x1, y1] = bb.split(",").map(Number);
  return { x0, y0, x1, y1 };
};
const nodeBox = (o: { pos?: string; width?: string; height?: string }): Box => {
  const [x, y] = o.pos!.split(",").map(Number);
  const w = (Number(o.width) * 72) / 2;
  const h = (Number(o.height) * 72) / 2;
  return { x0: x - w, y0: y - h, x1: x + w, y1: y + h };
};
const inside = (a: Box, b: Box) => a.x0 >= b.x0 - 0.5 && a.y0 >= b.y0 - 0.5 && a.x1 <= b.x1 + 0.5 && a.y1 <= b.y1 + 0.5;
const overlap = (a: Box, b: Box) => a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5;

/** Hosts (by name) of each network cluster in a layout, checked to sit inside their box and apart. */
function checkHosts(l: Layout, hostsByNetwork: Map<string, string[]>): void {
  const byName = new Map(l.objects.map((o) => [o.name, o]));
  const all: [string, Box][] = [];
  for (const [network, hosts] of hostsByNetwork) {
    const cluster = byName.get(`cluster_${network}`);
    assert.ok(cluster?.bb, `a box for network ${network}`);
    for (const h of hosts) {
      const n = byName.get(h);
      assert.ok(n?.pos, `host ${h} is drawn`);
      const b = nodeBox(n);
      assert.ok(inside(b, box(cluster.bb)), `${h} is inside the box of ${network}`);
      all.push([h, b]);
    }
  }
  for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) assert.ok(!overlap(all[i][1], all[j][1]), `${all[i][0]} and ${all[j][0]} do not overlap`);
}

function bigSite(dir: string, n: number): string {
  const file = path.join(dir, "big.ts");
  writeFileSync(
    file,
    `import { defineSite, type Host } from "airgap";
const nodes: Host[] = Array.from({ length: ${n - 6} }, (_, i) => ({ name: \`node\${i + 1}\`, address: \`10.70.1.\${20 + i}\`, os: "debian-12", roles: ["worker"] }));
export default defineSite({
  name: "big", domain: "big.internal",
  networks: [
    { name: "admin", cidr: "10.70.0.0/24" },
    { name: "nodes", cidr: "10.70.1.0/24" },
  ],
  hosts: [
    { name: "gw", address: "10.70.0.1", interfaces: [{ network: "nodes", address: "10.70.1.1" }], os: "debian-12", roles: ["gateway"] },
    { name: "infra", address: "10.70.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gitlab", address: "10.70.0.20", os: "debian-12", roles: [] },
    { name: "cp1", address: "10.70.1.11", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp2", address: "10.70.1.12", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp3", address: "10.70.1.13", os: "debian-12", roles: ["control-plane", "etcd"] },
    ...nodes,
  ],
  flows: [{ from: "nodes", to: "gitlab", protocol: "tcp", ports: [443, 22], why: "CI runners clone and push" }],
  services: {
    ntp: { on: "infra" },
    dns: { on: "infra", records: [{ name: "gitlab", type: "A", value: "10.70.0.20" }] },
    repos: { on: "infra" },
  },
});
`,
  );
  return file;
}

describe("compile: the site diagram (Graphviz)", function () {
  this.timeout(120_000);
  let tmp: string;
  before(function () {
    if (spawnSync("dot", ["-V"]).error) assert.fail("Graphviz is not installed (test/packages.txt; run test/setup.sh)");
    tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-diagram-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("plant.ts: both networks with their hosts, the services with ports, the arrows from the node network to the services it uses", async () => {
    const r = await synth(path.join(EXAMPLES, "plant.ts"));
    assert.deepEqual(r.errors, []);
    const dot = r.files.get("diagram.dot")!;
    assert.ok(dot, "diagram.dot is part of the project");
    assert.match(r.files.get("README.md")!, /\[diagram\.svg\]\(diagram\.svg\)/, "the runbook links it");
    const l = layout(dot);
    const hosts = r.site!.core.hosts;
    checkHosts(l, new Map(["admin", "nodes"].map((n) => [n, hosts.filter((h) => h.network === n).map((h) => h.name)])));
    const infra1 = l.objects.find((o) => o.name === "infra1")!;
    assert.match(dot, /"infra1" \[label=<.*registry 5443\/tcp.*>\]/);
    assert.match(dot, /"infra1" \[label=<.*dns 53\/tcp\+udp.*>\]/);
    // Arrows from the node network (its box) to the servers, naming what they carry.
    const into = (l.edges ?? []).filter((e) => e.head === infra1._gvid);
    assert.ok(into.length >= 1);
    assert.match(dot, /ltail="cluster_nodes", label="[^"]*registry 5443\/tcp/);
    writeFileSync(path.join(tmp, "plant.dot"), dot);
  });

  it("a 50-host site with a gateway, a plain client and a declared flow: every host in its box, none overlapping, a shape that fits a screen", async () => {
    const file = bigSite(tmp, 50);
    const r = await synth(file);
    assert.deepEqual(r.errors, []);
    const dot = r.files.get("diagram.dot")!;
    const l = layout(dot);
    const hosts = r.site!.core.hosts.filter((h) => h.name !== "gw");
    checkHosts(l, new Map(["admin", "nodes"].map((n) => [n, hosts.filter((h) => h.network === n).map((h) => h.name)])));
    const b = box(l.bb);
    const ratio = (b.x1 - b.x0) / (b.y1 - b.y0);
    assert.ok(ratio > 0.4 && ratio < 3, `width/height ${ratio.toFixed(2)}: the hosts wrap into rows instead of one long line`);
    // The gateway between the node network (where traffic comes from) and the admin network.
    assert.match(dot, /"node\d+" -> "gw" \[dir=none, style=dashed, ltail="cluster_nodes", label="10\.70\.1\.1"\]/);
    assert.match(dot, /"gw" -> "infra" \[dir=none, style=dashed, lhead="cluster_admin", label="10\.70\.0\.1"\]/);
    const gw = l.objects.find((o) => o.name === "gw")!;
    const nodes = box(l.objects.find((o) => o.name === "cluster_nodes")!.bb!);
    const admin = box(l.objects.find((o) => o.name === "cluster_admin")!.bb!);
    const x = nodeBox(gw);
    assert.ok(x.x0 >= nodes.x1 && x.x1 <= admin.x0, "the gateway is drawn between the two networks");
    assert.match(dot, /"gitlab" \[label=<.*client.*>\]/);
    assert.match(dot, /"node\d+" -> "gitlab" \[ltail="cluster_nodes", style=bold, color="#b45309", fontcolor="#b45309", label="443,22\/tcp\\nCI runners clone and push"\];/);
    writeFileSync(path.join(tmp, "big.dot"), dot);
  });

  it("airgap compile writes diagram.svg with Graphviz, and without it still compiles, saying so", () => {
    const site = path.join(tmp, "site.ts");
    writeFileSync(site, readFileSync(path.join(EXAMPLES, "site.ts")));
    const run = (env: NodeJS.ProcessEnv, out: string) => spawnSync(process.execPath, [CLI, "compile", site, "-o", out], { cwd: tmp, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0", ...env } });
    const ok = run({}, "with");
    assert.equal(ok.status, 0, ok.stderr);
    const svg = readFileSync(path.join(tmp, "with/diagram.svg"), "utf8");
    assert.match(svg, /<svg /);
    for (const h of ["admin", "cp1", "worker1", "worker2"]) assert.match(svg, new RegExp(`<title>${h}</title>`));
    // Compiled again with the same diagram.dot, the layout already there is kept: no Graphviz run.
    const again = run({ AIRGAP_DOT: path.join(tmp, "no-such-dot") }, "with");
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /no diagram\.svg/);
    assert.equal(readFileSync(path.join(tmp, "with/diagram.svg"), "utf8"), svg);
    const t0 = Date.now();
    const without = run({ AIRGAP_DOT: path.join(tmp, "no-such-dot") }, "without");
    assert.equal(without.status, 0, without.stderr);
    // Promptly: the 60 s limit on Graphviz's layout does not keep a compile waiting when there is no Graphviz.
    assert.ok(Date.now() - t0 < 20000, `without Graphviz the compile took ${Date.now() - t0} ms`);
    assert.match(without.stderr, /note: no diagram\.svg: Graphviz is not installed/);
    assert.ok(existsSync(path.join(tmp, "without/diagram.dot")));
    assert.ok(!existsSync(path.join(tmp, "without/diagram.svg")));
  });
  it("Graphviz lays the diagram out while the rest is compiled, and is stopped when the site then fails", () => {
    // A stand-in for dot: notes its start and its input, waits, answers an SVG; killed, it notes nothing more.
    const fake = path.join(tmp, "slow-dot");
    const log = path.join(tmp, "dot.log");
    writeFileSync(fake, `#!/bin/sh\necho "start $$" >> ${JSON.stringify(log)}\ncat > /dev/null\nsleep "\${SLOW_DOT_SECONDS:-1}"\necho "done $$" >> ${JSON.stringify(log)}\necho '<svg>fake</svg>'\n`);
    chmodSync(fake, 0o755);
    const run = (site: string, out: string, seconds: string) =>
      spawnSync(process.execPath, [CLI, "compile", site, "-o", out], { cwd: tmp, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0", AIRGAP_DOT: fake, SLOW_DOT_SECONDS: seconds } });
    const site = path.join(tmp, "site.ts");
    writeFileSync(site, readFileSync(path.join(EXAMPLES, "site.ts")));
    const ok = run(site, "out", "1");
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readFileSync(path.join(tmp, "out/diagram.svg"), "utf8"), "<svg>fake</svg>\n");
    assert.match(readFileSync(log, "utf8"), /^start \d+\ndone \d+\n$/);
    // AG039 is found after the project is rendered (the roles' platforms): the layout already started is stopped, not waited for.
    rmSync(log);
    const started = Date.now();
    const bad = run(path.join(BAD_SITES, "role-platform.ts"), "bad", "30");
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /AG039/);
    assert.ok(Date.now() - started < 20000, `exit after ${Date.now() - started} ms: the 30 s layout was waited for`);
    assert.match(readFileSync(log, "utf8"), /^start \d+\n$/);
    assert.ok(!existsSync(path.join(tmp, "bad")));
  });
});
