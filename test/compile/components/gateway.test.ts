/**
 * The gateway's compile side: the services' own flows, the declared ones,
 * per-host routes, the network playbook and its order, the DMZ.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { synth } from "../../../compile/synth.js";

const HOSTS = `
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.30.0.1", interfaces: [{ network: "nodes", address: "10.31.0.1" }, { network: "dmz", address: "10.32.0.1" }], os: "debian-12", roles: ["gateway"] },
    { name: "cp1", address: "10.31.0.21", os: "debian-12", roles: ["control-plane", "etcd"], python: false },
    { name: "w1", address: "10.31.0.31", os: "debian-12", roles: ["worker"], python: false },`;

function writeSite(dir: string, body: { networks?: string; hosts?: string; services?: string; flows?: string }): string {
  const file = path.join(dir, "site.ts");
  writeFileSync(
    file,
    `import { defineSite } from "airgap";
export default defineSite({
  name: "gwtest", domain: "gwtest.internal",
  networks: ${body.networks ?? `[{ name: "admin", cidr: "10.30.0.0/24" }, { name: "nodes", cidr: "10.31.0.0/24", defaultRoute: false }, { name: "dmz", cidr: "10.32.0.0/24", masquerade: true }]`},
  hosts: [${body.hosts ?? HOSTS}],
  services: ${body.services ?? `{ ntp: { on: "admin" }, dns: { on: "admin" }, repos: { on: "admin" }, pypi: { on: "admin", allow: ["admin"] } }`},
  flows: ${body.flows ?? `[{ from: "admin", to: "nodes", protocol: "tcp", ports: [22, "30000-32767"], why: "SSH and \\"node ports\\"" }, { from: "nodes", to: "admin", protocol: "icmp" }]`},
});
`,
  );
  return file;
}

interface Flow {
  from: string;
  to: string;
  protocol: string;
  ports: string[];
  comment: string;
}

describe("gateway: compile side", function () {
  this.timeout(120_000);
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-gateway-"))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("opens the services' flows from the networks allowed to use them, plus the declared ones", async () => {
    const r = await synth(writeSite(tmp, {}));
    assert.deepEqual(r.errors, []);
    const vars = parse(r.files.get("inventory/group_vars/airgap_gateways/airgap.yml")!) as { airgap_gateway_flows: Flow[]; airgap_gateway_masquerade: string[] };
    const rules = vars.airgap_gateway_flows.map((f) => `${f.from} > ${f.to} ${f.protocol} ${f.ports.join(",")}`);
    assert.deepEqual(rules, [
      // ntp, dns, repos from "nodes" (the dmz has no host; pypi allows "admin" only, its own network: the nodes are not its clients).
      "10.31.0.0/24 > 10.30.0.10 tcp 53,443",
      "10.31.0.0/24 > 10.30.0.10 udp 53,123",
      "10.30.0.0/24 > 10.31.0.0/24 tcp 22,30000-32767",
      "10.31.0.0/24 > 10.30.0.0/24 icmp ",
    ]);
    assert.ok(!vars.airgap_gateway_flows.some((f) => f.comment.includes('"')), "no double quote in an nftables comment");
    assert.deepEqual(vars.airgap_gateway_masquerade, ["10.32.0.0/24"]);
  });

  it("the gateway's own input: SSH from where the declared flows let SSH through, its own services, ping; else SSH from its networks", async () => {
    type Input = { from: string; protocol: string; ports: string[]; comment: string }[];
    const input = async (body: Parameters<typeof writeSite>[1]) => {
      const r = await synth(writeSite(tmp, body));
      assert.deepEqual(r.errors, []);
      return (parse(r.files.get("inventory/group_vars/airgap_gateways/airgap.yml")!) as { airgap_gateway_input: Input }).airgap_gateway_input.map(
        (f) => `${f.from} ${f.protocol} ${f.ports.join(",")}`,
      );
    };
    // The declared flow carries SSH from "admin" (the controller's network); ping from every network.
    assert.deepEqual(await input({}), ["10.30.0.0/24 tcp 22", "10.30.0.0/24 icmp ", "10.31.0.0/24 icmp ", "10.32.0.0/24 icmp "]);
    // No declared flow carries SSH: from each network the gateway is on (Ansible must reach it);
    // a service placed on the gateway (NTP) opens its port to its allowed networks; a flow to gw itself too.
    const flows = `[{ from: "nodes", to: "gw", protocol: "tcp", ports: [9100], why: "metrics" }]`;
    const hosts = HOSTS.replace('roles: ["gateway"]', 'roles: ["gateway", "admin"]');
    assert.deepEqual(await input({ flows, hosts, services: `{ ntp: { on: "gw" } }` }), [
      "10.30.0.0/24 tcp 22",
      "10.31.0.0/24 tcp 22,9100",
      "10.32.0.0/24 tcp 22",
      "10.30.0.0/24 udp 123",
      "10.31.0.0/24 udp 123",
      "10.32.0.0/24 udp 123",
      "10.30.0.0/24 icmp ",
      "10.31.0.0/24 icmp ",
      "10.32.0.0/24 icmp ",
    ]);
  });

  it("gives each host routes to the networks it is not on, through its own network's router, and none to the gateway", async () => {
    const r = await synth(writeSite(tmp, {}));
    const inv = parse(r.files.get("inventory/hosts.yml")!) as { all: { hosts: Record<string, Record<string, unknown>> } };
    assert.deepEqual(inv.all.hosts.admin.airgap_routes, [{ to: "10.31.0.0/24", via: "10.30.0.1" }, { to: "10.32.0.0/24", via: "10.30.0.1" }]);
    assert.deepEqual(inv.all.hosts.cp1.airgap_routes, [{ to: "10.30.0.0/24", via: "10.31.0.1" }, { to: "10.32.0.0/24", via: "10.31.0.1" }]);
    assert.equal(inv.all.hosts.cp1.airgap_routes_default, "");
    assert.equal(inv.all.hosts.gw.airgap_routes, undefined);
  });

  it("runs network.yml between admin.yml and nodes.yml: routes, the gateway's clock and package sources, then its ruleset", async () => {
    const r = await synth(writeSite(tmp, {}));
    const site = parse(r.files.get("site.yml")!) as Record<string, string>[];
    assert.deepEqual(site.map((p) => p["ansible.builtin.import_playbook"]), ["playbooks/admin.yml", "playbooks/network.yml", "playbooks/nodes.yml"]);
    const plays = parse(r.files.get("playbooks/network.yml")!) as { hosts: string; roles: { role: string }[] }[];
    assert.deepEqual(plays.map((p) => `${p.roles[0].role}@${p.hosts}`), [
      "routes@all",
      "resolver@airgap_gateways",
      "ca_trust@airgap_gateways",
      // Time first: its clock is set from the site's time servers before its package sources (TLS, Release dates).
      "clock@airgap_gateways:!airgap_ntp_servers",
      "repo_client@airgap_gateways:!airgap_repo_servers",
      "gateway@airgap_gateways",
    ]);
    assert.ok(r.files.has("roles/gateway/tasks/main.yml") && r.files.has("roles/routes/tasks/main.yml"));
    // Those three ran on the gateway already: nodes.yml's plays of the same roles leave it out (each role once per host).
    const nodes = parse(r.files.get("playbooks/nodes.yml")!) as { hosts: string; roles: { role: string }[] }[];
    const on = (role: string) => nodes.filter((p) => p.roles[0].role === role).map((p) => p.hosts);
    assert.deepEqual(on("resolver"), ["all:!airgap_gateways"]);
    assert.deepEqual(on("ca_trust"), ["all:!airgap_gateways"]);
    assert.deepEqual(on("repo_client"), ["all:!airgap_repo_servers:!airgap_gateways"]);
  });

  it("a default route only where the site declares one", async () => {
    const networks = `[{ name: "admin", cidr: "10.30.0.0/24" }, { name: "nodes", cidr: "10.31.0.0/24", defaultRoute: true }, { name: "dmz", cidr: "10.32.0.0/24" }]`;
    const r = await synth(writeSite(tmp, { networks }));
    assert.deepEqual(r.errors, []);
    const inv = parse(r.files.get("inventory/hosts.yml")!) as { all: { hosts: Record<string, Record<string, unknown>> } };
    assert.equal(inv.all.hosts.w1.airgap_routes_default, "10.31.0.1");
    assert.equal(inv.all.hosts.admin.airgap_routes_default, "");
  });

  it("a one-network site has no network playbook and no gateway role", async () => {
    const r = await synth(
      writeSite(tmp, {
        networks: `[{ name: "site", cidr: "10.30.0.0/24" }]`,
        hosts: `{ name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] }, { name: "cp1", address: "10.30.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },`,
        services: `{ ntp: { on: "admin" } }`,
        flows: "[]",
      }),
    );
    assert.deepEqual(r.errors, []);
    assert.ok(!r.files.has("playbooks/network.yml"));
    assert.ok(![...r.files.keys()].some((f) => f.startsWith("roles/gateway/") || f.startsWith("roles/routes/")));
  });

  it("refuses flows without a gateway host (AG116) and a router that is not the gateway's address (AG117)", async () => {
    const r = await synth(
      writeSite(tmp, {
        networks: `[{ name: "admin", cidr: "10.30.0.0/24", gateway: "10.30.0.254" }, { name: "nodes", cidr: "10.31.0.0/24" }, { name: "dmz", cidr: "10.32.0.0/24" }]`,
      }),
    );
    assert.deepEqual(r.errors.map((e) => `${e.code}:${e.at?.line}`), ["AG117:4"]);
    const noGw = await synth(writeSite(tmp, { hosts: HOSTS.replace(/\n.*"gateway".*\n/, "\n"), networks: `[{ name: "admin", cidr: "10.30.0.0/24", gateway: "10.30.0.1" }, { name: "nodes", cidr: "10.31.0.0/24", gateway: "10.31.0.1" }, { name: "dmz", cidr: "10.32.0.0/24" }]` }));
    assert.deepEqual(noGw.errors.map((e) => e.code), ["AG116"]);
  });
});
