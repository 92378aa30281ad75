/**
 * @lab end to end: the site's gateway. The nodes sit on 10.215.0.0/24 behind
 * the gateway host gw; from a node, the admin's services answer through it,
 * a port no flow allows is dropped there (and counted), and the hosts'
 * routing tables hold the site networks only. The second run's changed=0 is
 * checked for the whole site by lab.test.ts.
 */
import assert from "node:assert/strict";
import { labBefore, type LabRunResult } from "./fixture.js";

const DOMAIN = "lab.airgap.internal";
const ADMIN = "10.213.0.10";
const NODES = ["node1", "node2"];

/** A TCP connection from a lab host: prints OPEN, REFUSED or TIMEOUT. */
function tcpProbe(address: string, port: number): string {
  return `python3 -c "
import socket
s = socket.socket(); s.settimeout(3)
try: s.connect(('${address}', ${port})); print('OPEN')
except ConnectionRefusedError: print('REFUSED')
except OSError: print('TIMEOUT')
"`;
}

/** Packets counted by the gateway's final drop rule. */
async function dropped(site: LabRunResult): Promise<number> {
  const out = await site.lab.sh("gw", "nft list counter inet airgap_gateway dropped");
  const m = /packets (\d+)/.exec(out);
  assert.ok(m, out);
  return Number(m[1]);
}

/** Destination prefixes of a host's IPv4 routing table. */
async function destinations(site: LabRunResult, host: string): Promise<string[]> {
  const routes = await site.lab.sh(host, "ip -4 route show");
  return routes.trim().split("\n").map((l) => l.split(" ")[0]).sort();
}

describe("@lab gateway: routing between the site networks, only the site's flows", function () {
  let site: LabRunResult;

  before(async function () {
    site = await labBefore(this);
    for (const node of NODES) await site.lab.install(node, "curl", "bind9-dnsutils");
  });

  describe("the gateway host", () => {
    it("forwards (persisted), with the ruleset loaded by nftables.service: default drop, the site's flows", async () => {
      assert.equal((await site.lab.sh("gw", "sysctl -n net.ipv4.ip_forward")).trim(), "1");
      assert.match(await site.lab.sh("gw", "cat /etc/sysctl.d/90-airgap-gateway.conf"), /^net\.ipv4\.ip_forward\s*=\s*1$/m);
      assert.equal((await site.lab.sh("gw", "systemctl is-enabled nftables.service")).trim(), "enabled");
      await site.lab.sh("gw", "nft -c -f /etc/nftables.conf");
      const table = await site.lab.sh("gw", "nft list table inet airgap_gateway");
      assert.match(table, /type filter hook forward priority filter; policy drop;/, table);
      assert.match(table, /ct state established,related accept/, table);
      assert.match(table, /ip saddr 10\.213\.0\.0\/24 ip daddr 10\.215\.0\.0\/24 tcp dport 22 ct state new accept/, table);
      assert.match(table, /ip saddr 10\.215\.0\.0\/24 ip daddr 10\.213\.0\.10 udp dport \{ 53, 123 \} ct state new accept/, table);
      assert.match(table, /counter name "dropped" drop/, table);
    });

    it("reloading nftables.service puts the ruleset back (it survives a reboot the same way)", async () => {
      await site.lab.sh("gw", "nft delete table inet airgap_gateway && systemctl restart nftables.service");
      assert.match(await site.lab.sh("gw", "nft list table inet airgap_gateway"), /policy drop/);
    });
  });

  describe("from a node, the admin's services answer through the gateway", () => {
    for (const node of NODES) {
      it(`${node}: DNS (udp and tcp), NTP, the package repository and the registry`, async () => {
        assert.equal((await site.lab.sh(node, `dig +short @${ADMIN} admin.${DOMAIN}`)).trim(), ADMIN);
        assert.equal((await site.lab.sh(node, `dig +tcp +short @${ADMIN} admin.${DOMAIN}`)).trim(), ADMIN);
        // An NTP client request (mode 3); the server's reply is 48 bytes.
        const ntp = await site.lab.sh(node, `python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(bytes([0x23] + [0] * 47), ('${ADMIN}', 123))
print(len(s.recv(4096)))
"`);
        assert.equal(ntp.trim(), "48");
        assert.equal(await site.lab.sh(node, `curl -sS -o /dev/null -w '%{http_code}' https://repo.${DOMAIN}/airgap-archive-keyring.gpg`), "200");
        // 401: the registry answers, and asks for an account.
        assert.equal(await site.lab.sh(node, `curl -sS -o /dev/null -w '%{http_code}' https://registry.${DOMAIN}:5000/v2/`), "401");
      });
    }
  });

  describe("what no flow allows is dropped at the gateway", () => {
    it("node1 cannot reach the admin's SSH port (open on the admin's own network); the drop counter rises", async () => {
      assert.equal((await site.lab.sh("gw", tcpProbe(ADMIN, 22))).trim(), "OPEN", "the admin's sshd answers on its own network");
      const before = await dropped(site);
      assert.equal((await site.lab.sh("node1", tcpProbe(ADMIN, 22))).trim(), "TIMEOUT");
      const after = await dropped(site);
      assert.ok(after > before, `dropped ${before} -> ${after}`);
    });

    it("nor can node2 reach the admin's name server on a port it does not serve to the nodes (udp 5353 drops too)", async () => {
      const before = await dropped(site);
      await site.lab.sh("node2", `python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('${ADMIN}', 5353))"`);
      assert.ok((await dropped(site)) > before);
    });
  });

  describe("routes", () => {
    for (const node of NODES) {
      it(`${node}: the site networks only, no default route`, async () => {
        assert.deepEqual(await destinations(site, node), ["10.213.0.0/24", "10.215.0.0/24"]);
        assert.match(await site.lab.sh(node, "ip -4 route show exact 10.213.0.0/24"), /via 10\.215\.0\.1 /);
        assert.equal((await site.lab.sh(node, "systemctl is-enabled airgap-routes.service")).trim(), "enabled");
      });
    }

    it("admin: the route to the nodes comes from the playbook (the lab gives it none), and comes back at boot", async () => {
      assert.match(await site.lab.sh("admin", "ip -4 route show exact 10.215.0.0/24"), /via 10\.213\.0\.2 /);
      assert.ok(!(await destinations(site, "admin")).includes("default"));
      await site.lab.sh("admin", "ip -4 route del 10.215.0.0/24 && systemctl restart airgap-routes.service");
      assert.match(await site.lab.sh("admin", "ip -4 route show exact 10.215.0.0/24"), /via 10\.213\.0\.2 /);
    });
  });
});
