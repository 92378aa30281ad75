/**
 * @lab a killed run converges on the next one (issue 17, part 1).
 *
 * For each handler-bearing step (named, nginx + the registry, chrony on the
 * admin and on a node, the gateway's nftables) the service is put where a
 * first run killed before its handler leaves it: it runs a configuration that
 * is not the site's (loaded by hand here), the files on disk are not the
 * site's either, and there is no record that it ever loaded the site's
 * (roles/converge: airgap-applied). Then ansible-playbook runs that role and
 * is SIGKILLed (its whole process group) when the task after the file writes
 * starts, before any handler: the files are the site's, the service still
 * runs the other configuration (checked). A host's dpkg is killed by the
 * postinst of a throwaway package while it installs (its journal left behind:
 * apt refuses every install until `dpkg --configure -a`). Then site.yml runs
 * once, real clients check each service (dig from a node, chronyc on a node
 * synced to the admin, an NTP request to the admin, skopeo through :5000,
 * NoNewPrivs of the registry's process, the nodes' DNS through the gateway),
 * and a further site.yml reports changed=0 everywhere.
 *
 * One lab bring-up (the fixture's), five short killed runs limited to one host
 * each (--start-at-task at the role's first task), two whole runs.
 *
 * Runs by name only (not in `npm test` until it has passed in the lab once):
 *   flock /tmp/airgap-lab.lock npx mocha --no-config --timeout 60000 dist/test/e2e/killed-run.test.js
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { formatRecap, labBefore, PROJECT, run, SETUP_TIMEOUT, STORE, WORK, type LabRunResult } from "./fixture.js";
import { LAB_IMAGES } from "./upstream.js";

const DOMAIN = "lab.airgap.internal";
const ADMIN = "10.213.0.10";
const REGISTRY = `registry.${DOMAIN}:5000`;
const APPLIED = "/var/lib/airgap/applied";

/** A shell-quoted word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

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
const NTP_REQUEST = "23" + "00".repeat(47);

interface Killed {
  output: string;
  killedAt: boolean;
}

/**
 * Runs ansible-playbook (site.yml from `startAt`, on `limit` only) and
 * SIGKILLs its process group as soon as the banner of `killAt` is printed.
 */
function runAndKill(site: LabRunResult, name: string, limit: string, startAt: string, killAt: string): Promise<Killed> {
  const env = {
    ...process.env,
    ...Object.fromEntries(Object.entries(site.lab.env).filter(([k]) => k.startsWith("ANSIBLE_"))),
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
    ANSIBLE_RETRY_FILES_ENABLED: "0",
    // Banners as they happen, not when a buffer fills.
    PYTHONUNBUFFERED: "1",
  };
  const args = ["site.yml", "-e", `airgap_repo_server_bundle=${STORE}`, "--limit", limit, "--start-at-task", startAt];
  const log = path.join(WORK, `killed-${name}.log`);
  return new Promise((resolve, reject) => {
    const child = spawn("ansible-playbook", args, { cwd: PROJECT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let killedAt = false;
    const onData = (b: Buffer) => {
      output += b.toString();
      if (!killedAt && output.includes(`TASK [${killAt}]`)) {
        killedAt = true;
        process.kill(-child.pid!, "SIGKILL");
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("error", reject);
    child.on("close", () => {
      writeFileSync(log, output);
      resolve({ output, killedAt });
    });
  });
}

/** The names of the handlers a (partial) run's output shows running. */
function handlersRun(output: string): string[] {
  return [...output.matchAll(/^RUNNING HANDLER \[([^\]]+)\]/gm)].map((m) => m[1]);
}

describe("@lab killed runs: the next run brings every service to its configuration", function () {
  let site: LabRunResult;

  before(async function () {
    // By name only: a whole-suite run (no file named) skips it.
    if (!process.argv.some((a) => a.includes("killed-run"))) this.skip();
    site = await labBefore(this);
    // The hook's clock started with the lab's bring-up: its budget and the installs'.
    this.timeout(SETUP_TIMEOUT + 5 * 60_000);
    // Clients from the site's own repository.
    await site.lab.install("node1", "bind9-dnsutils", "skopeo");
  });

  const killed: Record<string, Killed> = {};

  it("bind: killed at `Start named` with the site's files written and named serving no site zone", async function () {
    this.timeout(5 * 60_000);
    // Debian's own named.conf.local (no zones), loaded; no record of the site's files.
    await site.lab.sh("admin", `printf '//\\n' > /etc/bind/named.conf.local && rndc reload && rm -f ${APPLIED}/named && sleep 1`);
    assert.match(await site.lab.sh("node1", `dig admin.${DOMAIN} || true`), /status: REFUSED/);
    const k = await runAndKill(site, "bind", "admin", "bind : Check that the platform is supported", "bind : Start named");
    killed.bind = k;
    assert.ok(k.killedAt, k.output.slice(-3000));
    assert.deepEqual(handlersRun(k.output), []);
    assert.match(await site.lab.sh("admin", "cat /etc/bind/named.conf.local"), new RegExp(`zone "${DOMAIN}"`), "the killed run wrote the site's zones");
    assert.match(await site.lab.sh("node1", `dig admin.${DOMAIN} || true`), /status: REFUSED/, "named still runs without them");
  });

  it("registry and nginx: killed before nginx reloads and before the registry restarts (unhardened, no :5000)", async function () {
    this.timeout(5 * 60_000);
    const unit = "/etc/systemd/system/docker-registry.service.d/airgap.conf";
    // The registry running without its hardening, nginx without the registry's site.
    await site.lab.sh("admin", [
      `printf '[Service]\\nRestart=on-failure\\n' > ${unit}`,
      "systemctl daemon-reload",
      "systemctl restart docker-registry",
      "mv /etc/nginx/conf.d/airgap-registry.conf /root/airgap-registry.conf.aside",
      "systemctl reload nginx",
      `rm -f ${APPLIED}/registry ${APPLIED}/nginx-registry`,
      "sleep 1",
    ].join(" && "));
    const pid = (await site.lab.sh("admin", "systemctl show -p MainPID --value docker-registry")).trim();
    assert.match(await site.lab.sh("admin", `grep NoNewPrivs /proc/${pid}/status`), /NoNewPrivs:\s+0/);
    const k = await runAndKill(site, "registry", "admin", "registry : Load the OS family's settings", "nginx : Run nginx");
    killed.registry = k;
    assert.ok(k.killedAt, k.output.slice(-3000));
    assert.deepEqual(handlersRun(k.output), []);
    assert.match(await site.lab.sh("admin", `cat ${unit}`), /NoNewPrivileges=yes/, "the killed run wrote the unit's hardening");
    assert.equal((await site.lab.sh("admin", "test -f /etc/nginx/conf.d/airgap-registry.conf && echo yes")).trim(), "yes");
    assert.equal((await site.lab.sh("admin", "systemctl show -p MainPID --value docker-registry")).trim(), pid, "the unhardened process runs on");
    assert.doesNotMatch(await site.lab.sh("admin", "ss -Hltn"), /:5000\b/, "nginx does not serve the registry");
  });

  it("chrony on the admin: killed at `Start chrony` with the site's file written and chronyd serving no one", async function () {
    this.timeout(5 * 60_000);
    await site.lab.sh("admin", `printf 'local stratum 8\\nport 0\\ndriftfile /var/lib/chrony/chrony.drift\\n' > /etc/chrony/chrony.conf && systemctl restart chrony && rm -f ${APPLIED}/chrony && sleep 1`);
    assert.equal((await site.lab.sh("node1", udpProbe(ADMIN, 123, NTP_REQUEST))).trim(), "TIMEOUT");
    const k = await runAndKill(site, "chrony-admin", "admin", "chrony : Check that the platform is supported", "chrony : Start chrony");
    killed.chronyAdmin = k;
    assert.ok(k.killedAt, k.output.slice(-3000));
    assert.deepEqual(handlersRun(k.output), []);
    assert.match(await site.lab.sh("admin", "cat /etc/chrony/chrony.conf"), /^allow /m);
    assert.equal((await site.lab.sh("node1", udpProbe(ADMIN, 123, NTP_REQUEST))).trim(), "TIMEOUT", "chronyd still serves no one");
  });

  it("chrony on a node: killed at `Start chrony` with the site's file written and chronyd without sources", async function () {
    this.timeout(5 * 60_000);
    await site.lab.sh("node1", `printf 'driftfile /var/lib/chrony/chrony.drift\\n' > /etc/chrony/chrony.conf && systemctl restart chrony && rm -f ${APPLIED}/chrony && sleep 1`);
    assert.doesNotMatch(await site.lab.sh("node1", "chronyc -n sources"), new RegExp(ADMIN.replace(/\./g, "\\.")));
    const k = await runAndKill(site, "chrony-node", "node1", "chrony : Check that the platform is supported", "chrony : Start chrony");
    killed.chronyNode = k;
    assert.ok(k.killedAt, k.output.slice(-3000));
    assert.deepEqual(handlersRun(k.output), []);
    assert.match(await site.lab.sh("node1", "cat /etc/chrony/chrony.conf"), new RegExp(`^server ${ADMIN.replace(/\./g, "\\.")}`, "m"));
    assert.doesNotMatch(await site.lab.sh("node1", "chronyc -n sources"), new RegExp(ADMIN.replace(/\./g, "\\.")), "chronyd still has no source");
  });

  it("gateway: killed at `Load the ruleset` with the site's ruleset written and one that drops DNS loaded", async function () {
    this.timeout(5 * 60_000);
    const dropDns = [
      "table inet airgap_gateway",
      "delete table inet airgap_gateway",
      "table inet airgap_gateway {",
      "\tchain forward {",
      "\t\ttype filter hook forward priority filter; policy accept;",
      "\t\tudp dport 53 drop",
      "\t\ttcp dport 53 drop",
      "\t}",
      "}",
      "",
    ].join("\n");
    await site.lab.sh("gw", `printf '%s' ${q(dropDns)} > /etc/nftables.conf && nft -f /etc/nftables.conf && rm -f ${APPLIED}/nftables`);
    assert.match(await site.lab.sh("node1", `dig +time=2 +tries=1 admin.${DOMAIN} || true`), /timed out|no servers could be reached/);
    const k = await runAndKill(site, "gateway", "gw", "gateway : Check that the platform is supported", "gateway : Load the ruleset now and at boot");
    killed.gateway = k;
    assert.ok(k.killedAt, k.output.slice(-3000));
    assert.deepEqual(handlersRun(k.output), []);
    assert.match(await site.lab.sh("gw", "cat /etc/nftables.conf"), /counter name dropped drop/);
    assert.match(await site.lab.sh("node1", `dig +time=2 +tries=1 admin.${DOMAIN} || true`), /timed out|no servers could be reached/, "the gateway still drops DNS");
  });

  it("dpkg: killed while it configures a package on node2 (its journal left; apt refuses to install)", async function () {
    this.timeout(2 * 60_000);
    // A throwaway package whose postinst kills dpkg the first time it runs.
    const dir = path.join(WORK, "killed-dpkg");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, "pkg/DEBIAN"), { recursive: true });
    writeFileSync(path.join(dir, "pkg/DEBIAN/control"), "Package: airgap-lab-killed\nVersion: 1.0\nArchitecture: all\nMaintainer: airgap lab <lab@airgap.invalid>\nDescription: kills dpkg in its postinst, once\n");
    writeFileSync(path.join(dir, "pkg/DEBIAN/postinst"), "#!/bin/sh\nset -e\nif [ ! -e /var/tmp/airgap-lab-killed ]; then touch /var/tmp/airgap-lab-killed; kill -9 $PPID; sleep 5; fi\nexit 0\n", { mode: 0o755 });
    const built = await run("dpkg-deb", ["--root-owner-group", "--build", path.join(dir, "pkg"), path.join(dir, "airgap-lab-killed.deb")]);
    assert.equal(built.code, 0, built.stderr);
    await site.lab.sh("node2", "rm -f /var/tmp/airgap-lab-killed");
    const up = await run("sh", ["-c", `ssh ${site.lab.env.AIRGAP_LAB_SSH_ARGS} -o BatchMode=yes root@${site.lab.address("node2")} 'cat > /var/tmp/airgap-lab-killed.deb' < ${q(path.join(dir, "airgap-lab-killed.deb"))}`]);
    assert.equal(up.code, 0, up.stderr);
    const install = await site.lab.ssh("node2", "dpkg -i /var/tmp/airgap-lab-killed.deb");
    assert.notEqual(install.code, 0, "dpkg was killed");
    const apt = await site.lab.ssh("node2", "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bind9-dnsutils");
    assert.notEqual(apt.code, 0);
    assert.match(apt.stdout + apt.stderr, /dpkg was interrupted/);
  });

  it("one run of site.yml brings every service to the site's configuration, checked with real clients", async function () {
    this.timeout(15 * 60_000);
    assert.equal(Object.keys(killed).length, 5, "every killed run happened");
    const rerun = await site.lab.playbook("killed-rerun", "site.yml");
    console.log(`      e2e recap, run after the kills: ${formatRecap(rerun.recap)} (${(rerun.ms / 1000).toFixed(0)} s)`);
    assert.equal(rerun.code, 0, rerun.stdout.slice(-4000));
    const handlers = handlersRun(rerun.stdout);
    for (const h of ["bind : Reload named", "nginx : Reload nginx", "registry : Restart the registry", "chrony : Restart chrony", "gateway : Reload nftables"]) {
      assert.ok(handlers.includes(h), `${h} ran: ${handlers.join(", ")}`);
    }
    // DNS: a site name from a node, through the gateway.
    assert.equal((await site.lab.sh("node1", `dig +short admin.${DOMAIN}`)).trim(), ADMIN);
    // NTP: the admin serves, the node is synchronised to it.
    assert.notEqual((await site.lab.sh("node1", udpProbe(ADMIN, 123, NTP_REQUEST))).trim(), "TIMEOUT");
    await site.lab.sh("node1", "chronyc -n waitsync 30 0.01 0 1");
    assert.match(await site.lab.sh("node1", "chronyc -n sources"), new RegExp(`^\\^\\* ${ADMIN.replace(/\./g, "\\.")}`, "m"));
    // The registry through nginx on :5000, with the pull account.
    const creds = `puller:${process.env.AIRGAP_LAB_REGISTRY_PULL_PASSWORD ?? ""}`;
    for (const image of LAB_IMAGES) {
      const out = await site.lab.sh("node1", `skopeo inspect --creds ${q(creds)} docker://${REGISTRY}/airgap-lab/${image.name}:1.0`);
      assert.match(out, /"Digest": "sha256:/, image.name);
    }
    // The registry process runs with its unit's hardening.
    const pid = (await site.lab.sh("admin", "systemctl show -p MainPID --value docker-registry")).trim();
    assert.match(await site.lab.sh("admin", `grep NoNewPrivs /proc/${pid}/status`), /NoNewPrivs:\s+1/);
    // dpkg finished what it was doing; apt installs again.
    assert.equal((await site.lab.sh("node2", "dpkg --audit")).trim(), "");
    assert.match(await site.lab.sh("node2", "dpkg-query -W -f '${Status}' airgap-lab-killed"), /install ok installed/);
    await site.lab.sh("node2", "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bind9-dnsutils >/dev/null && dpkg --purge airgap-lab-killed >/dev/null");
  });

  it("the admin's services listen on its site address (and the loopback) only", async () => {
    const tcp = await site.lab.sh("admin", "ss -Hltn");
    const udp = await site.lab.sh("admin", "ss -Hlun");
    const local = (text: string) => text.split("\n").filter(Boolean).map((l) => l.split(/\s+/)[3]);
    const everywhere = [...local(tcp), ...local(udp)].filter((a) => /^(0\.0\.0\.0|\*|\[::\]|\[fe80[^\]]*\]|\[::1\]):(53|123|443|5000|3141|8080)$/.test(a) || /^\[fe80/.test(a));
    assert.deepEqual(everywhere, [], `${tcp}${udp}`);
    for (const port of [53, 443, 5000]) assert.ok(local(tcp).includes(`${ADMIN}:${port}`), `tcp ${port}: ${tcp}`);
    for (const port of [53, 123]) assert.ok(local(udp).includes(`${ADMIN}:${port}`), `udp ${port}: ${udp}`);
  });

  it("a further run changes nothing", async function () {
    this.timeout(15 * 60_000);
    const again = await site.lab.playbook("killed-again", "site.yml");
    console.log(`      e2e recap, further run: ${formatRecap(again.recap)} (${(again.ms / 1000).toFixed(0)} s)`);
    assert.equal(again.code, 0, again.stdout.slice(-4000));
    for (const [host, r] of again.recap) assert.equal(r.changed, 0, `${host}: changed=${r.changed}`);
  });
});
