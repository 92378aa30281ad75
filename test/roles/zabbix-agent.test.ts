/**
 * roles/zabbix_agent (issue 22 part 3) run by ansible-playbook on this
 * machine (`tasks_from: config`: the PSK file and the agent's configuration,
 * into a temp folder, checked by `zabbix_agent2 -p` before it is written),
 * then Zabbix agent 2 itself, started from that file as the package's
 * `zabbix` account on a loopback high port, asked by the real client
 * `zabbix_get`: the "server" is 127.0.0.2; 127.0.0.3 is anybody else.
 * Needs root (to run the agent as `zabbix`), zabbix-agent2 and zabbix_get
 * (zabbix-agent) from test/packages.txt.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

/** A free TCP port in agent 2's ListenPort range (1024-32767; the kernel's own picks lie above it). */
async function freeTcpPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

describe("zabbix agent: the role's configuration, run by agent 2 itself, asked with zabbix_get", function () {
  this.timeout(3 * 60_000);
  let tmp: string;
  let port: number;
  let agent: ChildProcess | undefined;
  const identity = "mon-agent";
  const psk = randomBytes(32).toString("hex");

  /** ansible-playbook with the role's config tasks; returns the recap's changed count. */
  const configure = (): number => {
    writeFileSync(path.join(tmp, "play.yml"), [
      "- hosts: localhost",
      "  connection: local",
      "  gather_facts: false",
      "  tasks:",
      "    - name: The agent's configuration",
      "      ansible.builtin.include_role:",
      "        name: zabbix_agent",
      "        tasks_from: config",
      "",
    ].join("\n"));
    writeFileSync(path.join(tmp, "vars.json"), JSON.stringify({
      ansible_python_interpreter: "/usr/bin/python3",
      airgap_zabbix_agent_manage_service: false,
      airgap_zabbix_agent_servers: ["127.0.0.2"],
      airgap_zabbix_agent_psk_identity: identity,
      airgap_zabbix_agent_psk: psk,
      airgap_zabbix_agent_port: port,
      airgap_zabbix_agent_listen: "127.0.0.1",
      airgap_zabbix_agent_hostname: "node1",
      airgap_zabbix_agent_config: path.join(tmp, "zabbix_agent2.conf"),
      airgap_zabbix_agent_psk_file: path.join(tmp, "agent.psk"),
      airgap_zabbix_agent_log_file: path.join(tmp, "run", "agent.log"),
      airgap_zabbix_agent_control_socket: path.join(tmp, "run", "agent.sock"),
      airgap_zabbix_agent_pid_file: path.join(tmp, "run", "agent.pid"),
    }));
    const r = spawnSync("ansible-playbook", ["-i", "localhost,", path.join(tmp, "play.yml"), "-e", `@${path.join(tmp, "vars.json")}`], {
      encoding: "utf8",
      env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"), ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, new RegExp(psk), "the PSK is not in Ansible's output");
    const recap = r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP"));
    return Number(/changed=(\d+)/.exec(recap)?.[1]);
  };

  /** zabbix_get from `source`, with the PSK in `pskFile` (none: unencrypted). */
  const get = (key: string, source: string, pskFile?: string, id = identity) => {
    const tls = pskFile ? ["--tls-connect", "psk", "--tls-psk-identity", id, "--tls-psk-file", pskFile] : [];
    const r = spawnSync("zabbix_get", ["-s", "127.0.0.1", "-p", String(port), "-I", source, "-t", "5", "-k", key, ...tls], { encoding: "utf8" });
    return { status: r.status, out: (r.stdout + r.stderr).trim() };
  };

  before(async function () {
    if (process.getuid?.() !== 0) return this.skip();
    for (const tool of ["ansible-playbook", "zabbix_agent2", "zabbix_get"]) {
      if (!has(tool)) {
        console.log(`      (skipped: ${tool} is not installed; test/setup.sh installs it)`);
        return this.skip();
      }
    }
    tmp = tempDir("airgap-zabbix-agent-");
    chmodSync(tmp, 0o755);
    port = await freeTcpPort();
    // The agent's own folder (log, control socket), as the package's /run/zabbix is.
    mkdirSync(path.join(tmp, "run"));
    const zabbix = spawnSync("id", ["-u", "zabbix"], { encoding: "utf8" });
    chownSync(path.join(tmp, "run"), Number(zabbix.stdout.trim()), 0);
  });

  after(() => {
    if (agent?.pid) agent.kill("SIGTERM");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the role writes the PSK (0640, the agent's group) and a configuration agent 2 accepts; a second run changes nothing", () => {
    assert.ok(configure() > 0);
    assert.equal(configure(), 0, "a second run changes nothing");
    const st = statSync(path.join(tmp, "agent.psk"));
    assert.equal(st.mode & 0o777, 0o640);
    const conf = readFileSync(path.join(tmp, "zabbix_agent2.conf"), "utf8");
    assert.match(conf, /^Server=127\.0\.0\.2$/m);
    assert.match(conf, /^ServerActive=$/m);
    assert.match(conf, /^TLSAccept=psk$/m);
    assert.doesNotMatch(conf, new RegExp(psk), "the key is in its file only");
  });

  it("agent 2 runs from it as the zabbix account", async () => {
    writeFileSync(path.join(tmp, "client.psk"), `${psk}\n`);
    agent = spawn("setpriv", ["--reuid=zabbix", "--regid=zabbix", "--clear-groups", "zabbix_agent2", "-c", path.join(tmp, "zabbix_agent2.conf"), "-f"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    agent.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 50; i++) {
      if (get("agent.ping", "127.0.0.2", path.join(tmp, "client.psk")).out === "1") return;
      await new Promise((r) => setTimeout(r, 200));
    }
    const log = path.join(tmp, "run", "agent.log");
    assert.fail(`the agent did not answer: ${stderr} ${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
  });

  it("answers the server with the PSK (agent.ping, its host name, a site check's key exists)", () => {
    const pskFile = path.join(tmp, "client.psk");
    assert.deepEqual(get("agent.ping", "127.0.0.2", pskFile), { status: 0, out: "1" });
    assert.deepEqual(get("agent.hostname", "127.0.0.2", pskFile), { status: 0, out: "node1" });
    // chronyd does not run here: the user parameter runs and says so (the key is known to the agent).
    assert.doesNotMatch(get("airgap.chrony.reachable", "127.0.0.2", pskFile).out, /Unknown metric/);
  });

  it("gives nothing without the PSK, with another PSK, or to anybody but the server", () => {
    const none = get("agent.ping", "127.0.0.2");
    assert.notEqual(none.out, "1");
    writeFileSync(path.join(tmp, "other.psk"), `${randomBytes(32).toString("hex")}\n`);
    const other = get("agent.ping", "127.0.0.2", path.join(tmp, "other.psk"));
    assert.notEqual(other.out, "1");
    const outsider = get("agent.ping", "127.0.0.3", path.join(tmp, "client.psk"));
    assert.notEqual(outsider.out, "1");
    const log = readFileSync(path.join(tmp, "run", "agent.log"), "utf8");
    assert.match(log, /127\.0\.0\.3.*(not allowed|rejected)|(not allowed|rejected).*127\.0\.0\.3/i, log);
  });

  it("refuses remote commands (system.run)", () => {
    const r = get("system.run[id]", "127.0.0.2", path.join(tmp, "client.psk"));
    assert.match(r.out, /ZBX_NOTSUPPORTED/);
    assert.doesNotMatch(r.out, /uid=/);
  });
});
