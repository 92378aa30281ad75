/**
 * A service lives in four places: its DSL type, its component, its role, its
 * golden output and an example. This test adds a throwaway one ("echo": a TLS
 * service on an admin host) through those places only, in a fixture, and
 * shows the rest of the site picks it up from its exports: a DNS name, a
 * gateway flow from the network behind the gateway, a TLS name (and the CA on
 * its host), and a play placed by its declared dependencies. No list of the
 * compiler is touched.
 */
import assert from "node:assert/strict";
import path from "node:path";
import type { Site } from "../../dsl/index.js";
import type { Component } from "../../compile/components/component.js";
import { components } from "../../compile/components/index.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "../../compile/components/placement.js";
import { ROLES_DIR } from "../../compile/emit/files.js";
import { Positions } from "../../compile/load/evaluate.js";
import { Context } from "../../compile/model/context.js";
import type { HostModel } from "../../compile/model/site.js";
import { emitProject, synthSite } from "../../compile/synth.js";
import { parse } from "yaml";
import { ROOT } from "../helpers.js";

/** The DSL type (in a real service: dsl/services.ts, a key of `Services`). */
interface EchoService {
  on: string;
  port?: number;
  allow?: string[];
}

/** The component: resolve alone, export, emit. */
const echo: Component<{ host: HostModel; port: number; allow: string[] }> = {
  key: "echo",
  resolve(ctx, core, site) {
    const s = (site.services as { echo?: EchoService } | undefined)?.echo;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "echo", s);
    if (!host) return undefined;
    const port = s.port ?? 7007;
    const allow = allowedNetworks(ctx, core, s);
    const claim = claimPort(ctx, host, port, "tcp", "echo", allow, s, "on");
    return {
      model: { host, port, allow: cidrs(allow) },
      exports: {
        names: [{ name: "echo", host }],
        ports: claim ? [claim] : [],
        tls: [{ name: "echo", host }],
        plays: [{ playbook: "admin", name: "Echo", hosts: "airgap_echo_servers", role: "echo", after: ["ca", "bind"] }],
      },
    };
  },
  emit(m, site, out) {
    out.addGroup("airgap_echo_servers", [m.host.name]);
    out.addVars("airgap_echo_servers", { airgap_echo_port: m.port, airgap_echo_names: site.tlsNames.get("echo") });
  },
};

/** The example: a site with a gateway, the nodes behind it, and no other TLS service. */
const SITE = {
  name: "echo",
  domain: "echo.internal",
  networks: [
    { name: "site", cidr: "10.30.0.0/24" },
    { name: "nodes", cidr: "10.31.0.0/24" },
  ],
  hosts: [
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.30.0.1", os: "debian-12", roles: ["gateway"], interfaces: [{ network: "nodes", address: "10.31.0.1" }] },
    { name: "cp1", address: "10.31.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    dns: { on: "admin" },
    echo: { on: "admin" },
  },
} as unknown as Site;

describe("a new service through its four places only", () => {
  const list = [...components, echo];
  const ctx = new Context(path.join(ROOT, "test/fixtures/echo/site.ts"), new Positions());
  const site = synthSite(ctx, SITE, list);

  it("resolves without errors", () => {
    assert.deepEqual(ctx.errors, []);
    assert.ok(site);
  });

  it("gets its DNS name from the site's DNS", () => {
    assert.equal(site!.names.get("echo"), "10.30.0.10");
    const files = emitProject(site!, "/tmp/airgap-echo", list, [path.join(ROOT, "test/fixtures/echo/roles"), ROLES_DIR]);
    const bind = parse(files.get("inventory/group_vars/airgap_dns_servers/airgap.yml")!) as { airgap_bind_zones: { records: { name: string; value: string }[] }[] };
    assert.ok(bind.airgap_bind_zones[0].records.some((r) => r.name === "echo" && r.value === "10.30.0.10"));
  });

  it("gets its gateway flow from the network behind the gateway", () => {
    const files = emitProject(site!, "/tmp/airgap-echo", list, [path.join(ROOT, "test/fixtures/echo/roles"), ROLES_DIR]);
    const gw = parse(files.get("inventory/group_vars/airgap_gateways/airgap.yml")!) as { airgap_gateway_flows: { from: string; to: string; ports: string[]; comment: string }[] };
    // One rule per source, destination and protocol: echo's port joins DNS's tcp rule.
    const flow = gw.airgap_gateway_flows.find((f) => f.comment.includes("echo for nodes"));
    assert.deepEqual(flow && { from: flow.from, to: flow.to }, { from: "10.31.0.0/24", to: "10.30.0.10" });
    assert.ok(flow!.ports.includes("7007"), flow!.ports.join(" "));
  });

  it("gets its TLS names, and the site gets a CA on its host", () => {
    assert.deepEqual(site!.tlsNames.get("echo"), ["echo.echo.internal", "admin.echo.internal"]);
    assert.equal(site!.caHost?.name, "admin");
    assert.ok(site!.plays.some((p) => p.role === "ca"));
  });

  it("gets its play position from its declared dependencies, and its role is copied", () => {
    const admin = site!.plays.filter((p) => p.playbook === "admin").map((p) => p.role);
    assert.ok(admin.indexOf("echo") > admin.indexOf("ca") && admin.indexOf("echo") > admin.indexOf("bind"), admin.join(" "));
    const files = emitProject(site!, "/tmp/airgap-echo", list, [path.join(ROOT, "test/fixtures/echo/roles"), ROLES_DIR]);
    assert.ok(files.has("roles/echo/tasks/main.yml"));
    const plays = parse(files.get("playbooks/admin.yml")!) as { roles: { role: string }[] }[];
    assert.deepEqual(plays.map((p) => p.roles[0].role), admin);
  });

  it("a port clash with another service is reported at the later claim", () => {
    const clash = structuredClone(SITE) as unknown as { services: Record<string, unknown> };
    clash.services.echo = { on: "admin", port: 53 };
    const c = new Context("site.ts", new Positions());
    synthSite(c, clash as unknown as Site, list);
    assert.deepEqual(c.errors.map((e) => `${e.code} ${e.message}`), ["AG042 the echo service and the dns service both use admin:53/tcp"]);
  });
});
