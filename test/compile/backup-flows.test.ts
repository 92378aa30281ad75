/**
 * The backups' clients reach the backup host's sshd through the site
 * gateway: the etcd members and the hosts holding service state log in to
 * it over SFTP, so the gateway opens the backup host's SSH port to the
 * networks they are on — as a forwarded flow when the backup host is behind
 * the gateway, in the gateway's own input when the gateway is the backup
 * host. Found by the lab (test/e2e/backups.test.ts): the nodes' backups were
 * dropped by the gateway's input chain, which let SSH in from the
 * controller's network only.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { parse } from "yaml";
import type { Site } from "../../dsl/index.js";
import { Positions } from "../../compile/load/evaluate.js";
import { Context } from "../../compile/model/context.js";
import { emitProject, synthSite } from "../../compile/synth.js";
import { ROOT } from "../helpers.js";
import os from "node:os";

interface Rule {
  from: string;
  to?: string;
  protocol: string;
  ports: string[];
  comment: string;
}

/** A site of two networks joined by a gateway; an etcd member on the nodes' network, the backups `on` a host. */
function site(on: string, state: false | undefined): Site {
  return {
    name: "s",
    domain: "s.internal",
    networks: [
      { name: "site", cidr: "10.20.0.0/24" },
      { name: "nodes", cidr: "10.21.0.0/24" },
    ],
    hosts: [
      { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
      { name: "backup1", address: "10.20.0.11", os: "debian-12" },
      { name: "gw", address: "10.20.0.2", os: "debian-12", roles: ["gateway"], interfaces: [{ network: "nodes", address: "10.21.0.1" }] },
      { name: "cp1", address: "10.21.0.11", os: "debian-12", roles: ["control-plane", "etcd"] },
      { name: "w1", address: "10.21.0.12", os: "debian-12", roles: ["worker"] },
    ],
    services: {
      repos: { on: "admin" },
      backups: { on, password: { env: "P" }, ...(state === false ? { state: false } : {}) },
    },
  } as unknown as Site;
}

function gatewayVars(s: Site): { airgap_gateway_flows: Rule[]; airgap_gateway_input: Rule[] } {
  const ctx = new Context(path.join(ROOT, "test/fixtures/state/site.ts"), new Positions());
  const linked = synthSite(ctx, s);
  assert.deepEqual(ctx.errors, []);
  const out = emitProject(linked!, path.join(os.tmpdir(), "airgap-backup-flows"));
  return parse(out.get("inventory/group_vars/airgap_gateways/airgap.yml")!);
}

const ssh = (r: Rule) => r.protocol === "tcp" && r.ports.includes("22");

describe("compile: the backups' clients reach the backup host's SSH through the gateway", function () {
  this.timeout(60_000);

  it("a backup host behind the gateway: SSH forwarded from the etcd members' network to it", () => {
    const v = gatewayVars(site("backup1", undefined));
    const to = v.airgap_gateway_flows.filter((f) => f.to === "10.20.0.11" && ssh(f));
    assert.deepEqual(to.map((f) => [f.from, f.comment]), [["10.21.0.0/24", "backups for nodes"]]);
    // Nothing of the backups' into the gateway itself.
    assert.ok(!v.airgap_gateway_input.some((r) => /backups/.test(r.comment)));
  });

  it("the gateway as backup host: its input lets SSH in from the nodes' network (etcd and service state)", () => {
    const v = gatewayVars(site("gw", undefined));
    assert.deepEqual(v.airgap_gateway_input.filter(ssh).map((r) => r.from).sort(), ["10.20.0.0/24", "10.21.0.0/24"]);
    assert.ok(v.airgap_gateway_input.some((r) => ssh(r) && r.from === "10.21.0.0/24" && /backups for nodes/.test(r.comment)));
    assert.ok(!v.airgap_gateway_flows.some(ssh) || v.airgap_gateway_flows.filter(ssh).every((f) => f.to !== "10.20.0.2"), "no forwarded flow to the gateway itself");
  });

  it("service-state hosts alone are clients too: with etcd on the admin network only, the nodes' state still reaches it", () => {
    const s = site("backup1", undefined);
    // etcd on admin's network only; state of the site's own (state.extra) on w1, on "nodes".
    const hosts = (s.hosts as { name: string; roles?: string[] }[]).map((h) =>
      h.name === "cp1" ? { ...h, roles: ["control-plane"] } : h.name === "admin" ? { ...h, roles: ["admin", "etcd"] } : h);
    const backups = { ...s.services!.backups!, state: { extra: [{ on: "w1", paths: ["/srv/data"] }] } };
    const v = gatewayVars({ ...s, hosts, services: { ...s.services, backups } } as unknown as Site);
    assert.deepEqual(v.airgap_gateway_flows.filter((f) => f.to === "10.20.0.11" && ssh(f)).map((f) => f.from), ["10.21.0.0/24"]);
    // Without service-state backups, no host on "nodes" logs in there: no flow.
    const off = gatewayVars({ ...s, hosts, services: { ...s.services, backups: { ...s.services!.backups!, state: false } } } as unknown as Site);
    assert.deepEqual(off.airgap_gateway_flows.filter((f) => f.to === "10.20.0.11" && ssh(f)), []);
  });
});
