/**
 * @lab end to end: time (chrony) and names (BIND) of the lab site, asked of
 * real clients: dig and chronyc on the nodes, raw UDP probes from `outsider`,
 * a host on a network the site does not declare.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI } from "../helpers.js";
import { labBefore, PROJECT, run, SITE, WORK, type LabRunResult } from "./fixture.js";

const DOMAIN = "lab.airgap.internal";
const ADMIN = "10.213.0.10";
// The nodes are on the second lab network, behind the gateway host gw.
const HOSTS: Record<string, string> = { admin: ADMIN, gw: "10.213.0.2", node1: "10.215.0.11", node2: "10.215.0.12" };
const NODES = ["node1", "node2"];

/** Sends one UDP datagram from a lab host and prints the reply as hex, or TIMEOUT. */
function udpProbe(address: string, port: number, hex: string): string {
  return `python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(bytes.fromhex('${hex}'), ('${address}', ${port}))
try: print(s.recv(4096).hex())
except socket.timeout: print('TIMEOUT')
"`;
}

/** A DNS query for `name` (type A), recursion desired. */
function dnsQuery(name: string): string {
  const labels = name.split(".").map((l) => Buffer.from([l.length, ...Buffer.from(l)]).toString("hex")).join("");
  return `abcd01000001000000000000${labels}0000010001`;
}

/** An NTP client request (mode 3, version 4). */
const NTP_REQUEST = "23" + "00".repeat(47);

/** The serial the primary's zone file holds, and its content hash (roles/bind/tasks/serials.yml). */
async function zoneFileSerial(site: LabRunResult, zone: string): Promise<{ serial: number; hash: string }> {
  const text = await site.lab.sh("admin", `cat /etc/bind/zones/db.${zone}`);
  return { serial: Number(/^\s*(\d+)\s*; serial$/m.exec(text)![1]), hash: /^; Hash: ([0-9a-f]+)$/m.exec(text)![1] };
}

describe("@lab time and names: chrony and BIND, asked of real clients", function () {
  let site: LabRunResult;

  before(async function () {
    site = await labBefore(this);
    // dig comes from the site's own repository, like any package.
    for (const node of NODES) await site.lab.install(node, "bind9-dnsutils");
  });

  describe("DNS", () => {
    for (const node of NODES) {
      it(`${node}: every host's name gives its address, and every address its name`, async () => {
        for (const [host, address] of Object.entries(HOSTS)) {
          assert.equal((await site.lab.sh(node, `dig +short ${host}.${DOMAIN}`)).trim(), address);
          assert.equal((await site.lab.sh(node, `dig +short -x ${address}`)).trim(), `${host}.${DOMAIN}.`);
        }
      });
    }

    it("service names resolve to the admin", async () => {
      for (const name of ["repo", "ntp", "ns1"]) {
        assert.equal((await site.lab.sh("node1", `dig +short ${name}.${DOMAIN}`)).trim(), ADMIN, name);
      }
    });

    it("the resolver uses the site's server and search domain only", async () => {
      const conf = await site.lab.sh("node2", "cat /etc/resolv.conf");
      const servers = conf.split("\n").filter((l) => l.startsWith("nameserver"));
      assert.deepEqual(servers, [`nameserver ${ADMIN}`], conf);
      assert.match(conf, new RegExp(`^search ${DOMAIN.replace(/\./g, "\\.")}$`, "m"));
      assert.match(await site.lab.sh("node2", "getent hosts node1"), new RegExp(`${HOSTS.node1.replace(/\./g, "\\.")}\\s+node1\\.${DOMAIN}`));
    });

    it("a name outside the site is refused (no forwarders declared)", async () => {
      assert.match(await site.lab.sh("node1", "dig debian.org"), /status: REFUSED/);
    });

    it("zone transfers are refused", async () => {
      assert.match(await site.lab.sh("node1", `dig @${ADMIN} ${DOMAIN} AXFR`), /Transfer failed/);
    });

    it("the served serial is the zone file's", async () => {
      const serial = (await site.lab.sh("node1", `dig +short SOA ${DOMAIN}`)).trim().split(/\s+/)[2];
      assert.equal(Number(serial), (await zoneFileSerial(site, DOMAIN)).serial);
    });

    it("a host outside the declared networks is refused", async () => {
      const reply = (await site.lab.sh("outsider", udpProbe(ADMIN, 53, dnsQuery(`admin.${DOMAIN}`)))).trim();
      assert.notEqual(reply, "TIMEOUT", "BIND should answer REFUSED, not drop");
      assert.equal(parseInt(reply.slice(6, 8), 16) & 0x0f, 5, `rcode of ${reply}`);
    });
  });

  describe("NTP", () => {
    for (const node of NODES) {
      it(`${node}: synchronises to the admin within seconds`, async () => {
        await site.lab.sh(node, "chronyc -n waitsync 30 0.01 0 1");
        assert.match(await site.lab.sh(node, "chronyc -n sources"), new RegExp(`^\\^\\* ${ADMIN.replace(/\./g, "\\.")}`, "m"));
      });

      it(`${node}: has the site's servers as its only sources, and serves no one`, async () => {
        const lines = (await site.lab.sh(node, "grep -E '^(pool|server|peer|sourcedir|confdir|allow)' /etc/chrony/chrony.conf || true")).trim().split("\n");
        assert.deepEqual(lines.map((l) => l.split(/\s+/).slice(0, 2).join(" ")), [`server ${ADMIN}`]);
      });
    }

    it("the admin answers a node's NTP request, and not the outsider's", async () => {
      const fromNode = (await site.lab.sh("node1", udpProbe(ADMIN, 123, NTP_REQUEST))).trim();
      assert.notEqual(fromNode, "TIMEOUT");
      assert.equal(parseInt(fromNode.slice(2, 4), 16), 8, "stratum of the admin's own clock");
      assert.equal((await site.lab.sh("outsider", udpProbe(ADMIN, 123, NTP_REQUEST))).trim(), "TIMEOUT");
    });
  });

  describe("one record changed", () => {
    it("changes only the zone file and its serial; a second run changes nothing", async function () {
      this.timeout(15 * 60_000);
      // The lab site with one more record, compiled into a project of its own.
      const dir = path.join(WORK, "changed");
      mkdirSync(dir, { recursive: true });
      const siteFile = path.join(dir, "lab.ts");
      // SITE is the fixture's copy of the lab site: its paths are already absolute.
      const source = readFileSync(SITE, "utf8")
        .replace('dns: { on: "admin" }', 'dns: { on: "admin", records: [{ name: "gitlab", type: "A", value: "10.213.0.50" }] }');
      assert.notEqual(source, readFileSync(SITE, "utf8"), "examples/lab.ts no longer has the line this test edits");
      writeFileSync(siteFile, source);
      const project = path.join(dir, "project");
      const compiled = await run(process.execPath, [CLI, "compile", siteFile, "-o", project]);
      assert.equal(compiled.code, 0, compiled.stderr);
      const REVERSE = "0.213.10.in-addr.arpa";
      const before = await zoneFileSerial(site, DOMAIN);
      const reverseBefore = await zoneFileSerial(site, REVERSE);

      const env = { ...process.env, ...Object.fromEntries(Object.entries(site.lab.env).filter(([k]) => k.startsWith("ANSIBLE_"))), ANSIBLE_NOCOLOR: "1" };
      const play = (cwd: string) => run("ansible-playbook", ["playbooks/admin.yml", "--limit", "airgap_dns_servers"], { cwd, env, log: path.join(WORK, "record-change.log") });
      const changedTasks = (out: string) => {
        const tasks: string[] = [];
        let task = "";
        for (const line of out.split("\n")) {
          const m = /^TASK \[(.*)\]/.exec(line) ?? /^RUNNING HANDLER \[(.*)\]/.exec(line);
          if (m) task = m[1];
          else if (/^changed: /.test(line)) tasks.push(task);
        }
        return tasks;
      };
      try {
        const first = await play(project);
        assert.equal(first.code, 0, first.stdout.slice(-3000));
        const tasks = changedTasks(first.stdout);
        assert.ok(tasks.length > 0, "the change was applied");
        for (const t of tasks) assert.match(t, /^bind : /, `only the bind role changes: ${tasks.join(", ")}`);
        assert.equal((await site.lab.sh("node1", `dig +short gitlab.${DOMAIN}`)).trim(), "10.213.0.50");
        const after = await zoneFileSerial(site, DOMAIN);
        assert.ok(after.serial > before.serial, `the forward zone's serial grows: ${before.serial} -> ${after.serial}`);
        assert.notEqual(after.hash, before.hash);
        assert.deepEqual(await zoneFileSerial(site, REVERSE), reverseBefore, "the reverse zone is unchanged");
        assert.equal(Number((await site.lab.sh("node1", `dig +short SOA ${DOMAIN}`)).trim().split(/\s+/)[2]), after.serial);
        const second = await play(project);
        assert.deepEqual(changedTasks(second.stdout), [], "a second run changes nothing");
      } finally {
        // Back to the lab's own site, so later tests see it as compiled:
        // the same content as before, and a serial larger still.
        const restore = await play(PROJECT);
        assert.equal(restore.code, 0, restore.stdout.slice(-3000));
        const restored = await zoneFileSerial(site, DOMAIN);
        assert.equal(restored.hash, before.hash);
        assert.ok(restored.serial > before.serial);
        assert.equal(Number((await site.lab.sh("node1", `dig +short SOA ${DOMAIN}`)).trim().split(/\s+/)[2]), restored.serial);
      }
    });
  });
});
