/** A host with no role is a plain client of the site: time, names, package sources, CA trust; nothing of Kubernetes. */
import assert from "node:assert/strict";
import path from "node:path";
import { parse } from "yaml";
import { synth } from "../../compile/synth.js";
import { EXAMPLES } from "../helpers.js";

describe("compile: a host with no role (plain client)", function () {
  this.timeout(60_000);

  it("plant.ts's ci1 gets the site's time, names, package sources and CA trust, and is in no Kubespray group", async () => {
    const r = await synth(path.join(EXAMPLES, "plant.ts"));
    assert.deepEqual(r.errors, []);
    const placed = new Map(r.site!.placements!.map((p) => [p.role, p.hosts.map((h) => h.name)]));
    for (const role of ["clock", "chrony", "resolver", "repo_client", "ca_trust"]) assert.ok(placed.get(role)?.includes("ci1"), `${role} runs on ci1`);
    for (const [role, hosts] of placed) {
      // backup_server: plant.ts keeps its backups on ci1 (a host outside the cluster).
      // zabbix_agent: the monitoring agent runs on every host of a site with monitoring (plant.ts has it).
      if (["clock", "chrony", "resolver", "repo_client", "ca_trust", "pip_client", "routes", "store", "nginx", "ca", "converge", "backup_server", "zabbix_agent"].includes(role)) continue;
      // ci1 builds Go (go: true): the go_client role, asked for.
      if (role === "go_client") continue;
      assert.ok(!hosts.includes("ci1"), `${role} does not run on ci1`);
    }
    assert.deepEqual(placed.get("go_client"), ["ci1"]);
    const inventory = parse(r.files.get("inventory/hosts.yml")!) as { all: { children: Record<string, { hosts?: Record<string, null> }> } };
    for (const group of ["kube_control_plane", "kube_node", "etcd"]) {
      const members = Object.keys(inventory.all.children[group]?.hosts ?? {});
      assert.ok(members.length > 0, `${group} has members`);
      assert.ok(!members.includes("ci1"), `ci1 is not in ${group}`);
    }
    // Its name is in the site's DNS.
    assert.match(r.files.get("inventory/group_vars/airgap_dns_servers/airgap.yml")!, /name: ci1\n\s+type: A\n\s+value: "10\.60\.0\.21"/);
  });
});
