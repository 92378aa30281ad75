/**
 * The bind and gateway roles' templates, rendered the way Ansible renders
 * them (Jinja2, trim_blocks) with the roles' own defaults and the variables
 * the compiler gives, checked by the daemons' own checkers: named-checkconf
 * (bind9-utils) and `nft -c` (nftables, needs root). The roles validate
 * with the same tools on the hosts; this finds a bad statement before the
 * lab does.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { ROOT } from "../helpers.js";

/** Renders `templates` of `role` (concatenated) with its defaults, its Debian vars, and `vars`. */
function render(role: string, templates: string[], vars: Record<string, unknown>): string {
  const dir = path.join(ROOT, "roles", role);
  const read = (f: string) => {
    try {
      return (parse(readFileSync(path.join(dir, f), "utf8")) ?? {}) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  const all = { ansible_managed: "test", ...read("defaults/main.yml"), ...read("vars/Debian.yml"), ...vars };
  const r = spawnSync(
    "python3",
    [
      "-c",
      `import jinja2, json, sys
env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
v = json.loads(sys.stdin.read())
print("\\n".join(env.from_string(open(f).read()).render(**v) for f in sys.argv[1:]))`,
      ...templates.map((t) => path.join(dir, "templates", t)),
    ],
    { input: JSON.stringify(all), encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

describe("service configurations rendered from the roles pass the daemons' own checks", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), "airgap-conf-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const bind = {
    airgap_bind_domain: "lab.airgap.internal",
    airgap_bind_allow_query: ["10.213.0.0/24", "10.215.0.0/24"],
    airgap_bind_os_options: [],
    airgap_bind_zones: [{ name: "lab.airgap.internal" }, { name: "0.213.10.in-addr.arpa" }],
    airgap_bind_primary: "10.213.0.10",
    // The default names {{ ansible_host }}: given as a host resolves it (this renderer is plain Jinja2).
    airgap_bind_listen_on: ["127.0.0.1", "10.213.0.10"],
  };
  const variants: [string, Record<string, unknown>][] = [
    ["a primary alone, authoritative only", { airgap_bind_is_primary: true, airgap_bind_secondaries: [], airgap_bind_forwarders: [] }],
    ["a primary with two secondaries and forwarders", { airgap_bind_is_primary: true, airgap_bind_secondaries: ["10.213.0.11", "10.213.0.12"], airgap_bind_forwarders: ["10.1.0.53"] }],
    ["a secondary", { airgap_bind_is_primary: false, airgap_bind_secondaries: ["10.213.0.11"], airgap_bind_forwarders: [] }],
    ["rate limiting off", { airgap_bind_is_primary: true, airgap_bind_secondaries: [], airgap_bind_forwarders: [], airgap_bind_rate_limit_responses: 0 }],
  ];
  for (const [name, v] of variants) {
    it(`bind: ${name} (named-checkconf)`, function () {
      if (!has("named-checkconf")) this.skip();
      const key = path.join(dir, "transfer.key");
      writeFileSync(key, 'key "airgap-transfer" { algorithm hmac-sha256; secret "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="; };\n');
      const text = render("bind", ["named.conf.options.j2", "named.conf.local.j2"], { ...bind, ...v, airgap_bind_key_file: key, airgap_bind_directory: dir });
      const file = path.join(dir, "named.conf");
      writeFileSync(file, text);
      const r = spawnSync("named-checkconf", [file], { encoding: "utf8" });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n${text}`);
      assert.match(text, /^\tversion none;\n\thostname none;\n\tserver-id none;$/m);
      if (v.airgap_bind_rate_limit_responses === 0) assert.doesNotMatch(text, /rate-limit/);
      else assert.match(text, /rate-limit \{\n\t\tresponses-per-second 20;/);
      if ((v.airgap_bind_secondaries as string[]).length === 2 && v.airgap_bind_is_primary) {
        assert.match(text, /allow-transfer \{ !\{ !10\.213\.0\.11; !10\.213\.0\.12; any; \}; key "airgap-transfer"; \};/);
      }
    });
  }

  it("gateway: the forward and input chains (nft -c)", function () {
    if (!has("nft") || process.getuid?.() !== 0) this.skip();
    const text = render("gateway", ["nftables.conf.j2"], {
      airgap_gateway_flows: [{ from: "10.215.0.0/24", to: "10.213.0.10", protocol: "tcp", ports: ["53", "443"], comment: "dns for nodes" }],
      airgap_gateway_input: [
        { from: "10.213.0.0/24", protocol: "tcp", ports: ["22"], comment: "SSH to the gateway (Ansible)" },
        { from: "10.215.0.0/24", protocol: "icmp", ports: [], comment: "ping from nodes" },
      ],
      airgap_gateway_masquerade: ["10.216.0.0/24"],
    });
    const file = path.join(dir, "nftables.conf");
    writeFileSync(file, text);
    const r = spawnSync("nft", ["-c", "-f", file], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n${text}`);
    assert.match(text, /chain input \{\n\t\ttype filter hook input priority filter; policy drop;/);
    assert.match(text, /ip saddr 10\.213\.0\.0\/24 tcp dport \{ 22 \} ct state new accept/);
  });
});
