/**
 * Play order for time first and a second admin host's sources first (issue
 * 17 parts 2 and 3), on the compiled examples: on every host the clock play
 * comes before the package sources, and an admin host that is not the
 * repository server gets its clock (from the time server on the repository
 * host, which runs before it), the site CA and its package sources (by
 * address) before any play of a role that installs packages.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { parse } from "yaml";
import { synth } from "../../compile/synth.js";
import { readRole } from "../../compile/roles.js";
import { EXAMPLES } from "../helpers.js";

type Play = { name: string; hosts: string; roles: { role: string }[] };
type Inventory = { all: { hosts: Record<string, unknown>; children: Record<string, { hosts?: Record<string, null>; children?: Record<string, null> }> } };

/** The hosts an inventory pattern (`all`, `g`, `a:&b`, `a:!b`) names, from the compiled inventory. */
function hostsOf(pattern: string, inv: Inventory): string[] {
  const group = (g: string): string[] => (g === "all" ? Object.keys(inv.all.hosts) : Object.keys(inv.all.children[g]?.hosts ?? {}));
  const [first, ...rest] = pattern.split(":");
  let set = group(first);
  for (const t of rest) {
    if (t.startsWith("!")) set = set.filter((h) => !group(t.slice(1)).includes(h));
    else if (t.startsWith("&")) set = set.filter((h) => group(t.slice(1)).includes(h));
    else set = [...new Set([...set, ...group(t)])];
  }
  return set;
}

async function compiled(example: string) {
  const r = await synth(path.join(EXAMPLES, example));
  assert.deepEqual(r.errors, []);
  const inv = parse(r.files.get("inventory/hosts.yml")!) as Inventory;
  const plays = ["admin", "network", "nodes"].flatMap((p) => ((r.files.has(`playbooks/${p}.yml`) ? parse(r.files.get(`playbooks/${p}.yml`)!) : []) as Play[]).map((x) => ({ ...x, playbook: p })));
  /** The roles of the plays that run on `host`, in site.yml's order. */
  const on = (host: string) => plays.filter((p) => hostsOf(p.hosts, inv).includes(host)).map((p) => `${p.playbook}:${p.roles[0].role}`);
  return { r, inv, plays, on };
}

/**
 * Whether a role installs OS packages (its vars/<Family>.yml lists some).
 * Not ca_trust: it installs ca-certificates only on a host without the trust
 * store tool, which then needs the package before airgap runs (its tasks say
 * so); not repo_client: it installs from the sources it has just written.
 */
const installs = (role: string) => !["ca_trust", "repo_client"].includes(role) && readRole(role).packages.Debian.length > 0;

describe("compile: time first, and a second admin host's CA and sources first", function () {
  this.timeout(120_000);

  it("plant.ts: infra2 (an admin host, not the repository server) gets clock, CA trust and sources before any package", async () => {
    const { r, on, plays, inv } = await compiled("plant.ts");
    const seq = on("infra2");
    const firstInstall = seq.findIndex((x) => installs(x.split(":")[1]));
    assert.ok(firstInstall > 0, seq.join(", "));
    assert.deepEqual(seq.slice(0, 3), ["admin:ca_trust", "admin:clock", "admin:repo_client"], seq.join(", "));
    assert.ok(firstInstall >= 3, `the first play installing packages on infra2 comes after its sources: ${seq.join(", ")}`);
    // Its clock is set from a time server that is already running: the one on the repository host.
    const admin = plays.filter((p) => p.playbook === "admin");
    const clockAt = admin.findIndex((p) => p.roles[0].role === "clock" && hostsOf(p.hosts, inv).includes("infra2"));
    const reference = admin.findIndex((p) => p.roles[0].role === "chrony" && hostsOf(p.hosts, inv).includes("infra1"));
    assert.ok(reference >= 0 && reference < clockAt, admin.map((p) => p.name).join(", "));
    // Names come later (its own named is among what it installs): the repository by address, which the certificate names.
    const adminVars = parse(r.files.get("inventory/group_vars/airgap_admin/airgap.yml")!) as Record<string, unknown>;
    assert.equal(adminVars.airgap_repo_client_url, "https://10.60.0.10");
    const repoVars = parse(r.files.get("inventory/group_vars/airgap_repo_servers/airgap.yml")!) as Record<string, unknown>;
    assert.deepEqual(repoVars.airgap_repo_server_addresses, ["10.60.0.10"]);
    // With an upstream source, the repository host's time server sets its clock from it before the CA signs anything.
    const names = admin.map((p) => p.name);
    assert.ok(names.indexOf("Clock of the time server on the repository host") >= 0, names.join(", "));
    assert.ok(names.indexOf("Clock of the time server on the repository host") < names.indexOf("Certificate authority"), names.join(", "));
    // With an upstream source, the time servers set their clocks from it, and it must answer.
    const ntpVars = parse(r.files.get("inventory/group_vars/airgap_ntp_servers/airgap.yml")!) as Record<string, unknown>;
    assert.deepEqual([ntpVars.airgap_clock_servers, ntpVars.airgap_clock_required], [["10.60.0.5"], true]);
    // Every other host: clock before the package sources, chrony after them.
    for (const host of ["ci1", "cp1", "worker2"]) {
      const s = on(host);
      assert.ok(s.indexOf("nodes:clock") >= 0 && s.indexOf("nodes:clock") < s.indexOf("nodes:repo_client"), `${host}: ${s.join(", ")}`);
      assert.ok(s.indexOf("nodes:repo_client") < s.indexOf("nodes:chrony"), `${host}: ${s.join(", ")}`);
      assert.ok(s.slice(0, s.indexOf("nodes:repo_client")).every((x) => x === "nodes:clock" || !installs(x.split(":")[1])), `${host}: ${s.join(", ")}`);
    }
  });

  it("lab.ts: one admin host: no sources-first plays; the gateway's clock before its sources; the nodes' before theirs", async () => {
    const { r, on, plays } = await compiled("lab.ts");
    assert.ok(!plays.some((p) => p.name.startsWith("Admin hosts:")), plays.map((p) => p.name).join(", "));
    assert.ok(!r.files.has("inventory/group_vars/airgap_admin/airgap.yml"));
    const gw = on("gw");
    assert.ok(gw.indexOf("network:clock") >= 0 && gw.indexOf("network:clock") < gw.indexOf("network:repo_client"), gw.join(", "));
    const node = on("node1");
    assert.ok(node.indexOf("nodes:clock") < node.indexOf("nodes:repo_client"), node.join(", "));
    // The admin host's own time server needs none: it is the site's clock (no upstream) and asks nobody.
    assert.ok(!on("admin").some((x) => x.endsWith(":clock")), on("admin").join(", "));
    const ntpVars = parse(r.files.get("inventory/group_vars/airgap_ntp_servers/airgap.yml")!) as Record<string, unknown>;
    assert.equal(ntpVars.airgap_clock_required, false);
  });
});
