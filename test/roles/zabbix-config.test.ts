/**
 * roles/zabbix_config (issue 22 part 4) run with the kit's Ansible
 * (`ansible==DEFAULT_ANSIBLE`: community.zabbix as a site has it) against a
 * real, throwaway Zabbix 6.0 LTS on this machine, built from Debian's
 * packages and the roles' own templates (test/roles/zabbix-harness.ts):
 * PostgreSQL, zabbix_server, the frontend (php-fpm + nginx, TLS from a test
 * CA), two Zabbix agent 2 instances (roles/zabbix_agent) on 127.0.0.10
 * ("mon", the monitoring host) and 127.0.0.11 ("node1"), and the site's relay
 * (a private Postfix from roles/mail_relay, mailbox ops@mon.internal).
 *
 * Proves: the first run changes Zabbix and a second run changes nothing; the
 * Admin password is the site's (the initial one refused) and the guest
 * account is off (read through the API); the agents registered are reached
 * over PSK and show available.
 *
 * The alert path (node1's agent stopped: a problem mail in the relay's
 * Maildir, read with Python's mailbox; started again: the recovery mail)
 * waits on Zabbix's own timing: the "Linux by Zabbix agent" template's
 * trigger needs 3 minutes of an unavailable agent ({$AGENT.TIMEOUT}, which
 * the role has no variable for), and the recovery about 2 more. That `it`
 * runs only with AIRGAP_SLOW=1 or when this file is given to mocha by name,
 * so that `npm test` (CI's time budget) does not pay ~6 minutes for it.
 *
 * Needs root (PostgreSQL, the server and the agents run as their accounts;
 * php-fpm in a mount namespace) and the packages test/packages.txt names
 * for it; skipped, saying which, when they are missing. The first run on a
 * machine makes the kit's Ansible venv (pip, ~45 s).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { must } from "./registry-harness.js";
import {
  account, ansibleEnv, api, kitAnsible, missingPackages, playbook, put, readMaildir, setLines, start, startPostgres, zabbixPort,
  type Mail, type Postgres, type Proc,
} from "./zabbix-harness.js";

/** Whether this mocha process was given this file by name (the alert path runs then). */
function namedOnCommandLine(): boolean {
  return process.argv.slice(2).some((a) => path.basename(a).startsWith("zabbix-config.test."));
}
const SLOW = process.env.AIRGAP_SLOW === "1" || namedOnCommandLine();

const DOMAIN = "mon.internal";
const FRONT = "127.0.0.4";
/** The agents: the monitoring host (which also checks the site's services) and a node. */
const AGENTS = [
  { name: "mon", address: "127.0.0.10", groups: ["airgap", "airgap-admin"] },
  { name: "node1", address: "127.0.0.11", groups: ["airgap", "airgap-worker"] },
];
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("zabbix config: the role through the API of a real Zabbix 6.0, with agents and the site relay", function () {
  this.timeout(15 * 60_000);
  let tmp: string;
  let venv: string;
  let env: NodeJS.ProcessEnv;
  let pg: Postgres | undefined;
  const procs: Record<string, Proc> = {};
  const relayConf = () => path.join(tmp, "relay/conf");
  let relayStarted = false;
  let apiUrl: string;
  let caFile: string;
  let serverConf: string;
  let agentPort: number;
  /** What the earlier steps proved (a later step stops at once without it, instead of waiting minutes for nothing). */
  let configured = false;
  let available = false;
  const adminPassword = `site-${randomBytes(12).toString("hex")}`;
  const dbPassword = randomBytes(16).toString("hex");
  const psk = randomBytes(32).toString("hex");
  const f = (...p: string[]) => path.join(tmp, ...p);

  /** Logs in through the API; the token, or the error's text. */
  const login = async (username: string, password: string) => {
    const r = await api(apiUrl, caFile, "user.login", { username, password });
    return r.result !== undefined ? { token: String(r.result) } : { error: `${r.error?.message} ${r.error?.data}` };
  };
  const adminToken = async () => {
    const l = await login("Admin", adminPassword);
    assert.ok(l.token, `Admin with the site's password: ${l.error}`);
    return l.token!;
  };
  const logs = () => ["server/zabbix_server.log", "fpm/error.log", "nginx/error.log"].map((l) => {
    try {
      return `--- ${l}\n${readFileSync(f(l), "utf8").split("\n").slice(-30).join("\n")}`;
    } catch {
      return `--- ${l}: none`;
    }
  }).join("\n");

  /** The agent of `name`, started as zabbix from the file roles/zabbix_agent wrote. */
  const startAgent = (name: string) => {
    procs[`agent ${name}`] = start("setpriv", ["--reuid=zabbix", "--regid=zabbix", "--clear-groups", "zabbix_agent2", "-c", f("agents", name, "zabbix_agent2.conf"), "-f"]);
  };

  /** The role's run: the kit's ansible-playbook with the site's variables as the compiled project names them. */
  const configure = () => playbook(venv, env, f("inventory.ini"), f("config.yml"), f("config.json"));

  before(async function () {
    if (process.getuid?.() !== 0) {
      console.log("      (skipped: needs root: PostgreSQL, the Zabbix server and agents run as their own accounts)");
      return this.skip();
    }
    const missing = missingPackages();
    if (missing.length) {
      console.log(`      (skipped: missing Debian packages ${missing.join(", ")}; test/setup.sh installs them)`);
      return this.skip();
    }
    venv = kitAnsible();
    tmp = must("mktemp", ["-d", "/tmp/airgap-zabbix-config-XXXXXX"]).trim();
    // The accounts of the services (postgres, zabbix, www-data, postfix, nobody) go through it.
    chmodSync(tmp, 0o755);
    const zabbix = account("zabbix");
    const www = account("www-data");

    // The site CA and the certificates it issues: the frontend's (its site
    // address and the loopback, as the ca role puts addresses in) and the relay's.
    mkdirSync(f("ca"));
    const ossl = (...args: string[]) => must("openssl", args);
    caFile = f("ca", "ca.crt");
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca", "ca.key"), "-out", caFile, "-days", "2",
      "-subj", "/CN=zabbix test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
    for (const [name, dns, ips] of [["monitoring", `monitoring.${DOMAIN}`, ["127.0.0.1", FRONT]], ["mail", `mail.${DOMAIN}`, ["127.0.0.1"]]] as const) {
      ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca", `${name}.key`), "-out", f("ca", `${name}.csr`), "-subj", `/CN=${dns}`);
      writeFileSync(f("ca", `${name}.ext`), `subjectAltName=DNS:${dns},${ips.map((i) => `IP:${i}`).join(",")}\nextendedKeyUsage=serverAuth\n`);
      ossl("x509", "-req", "-in", f("ca", `${name}.csr`), "-CA", caFile, "-CAkey", f("ca", "ca.key"), "-CAcreateserial", "-out", f("ca", `${name}.crt`), "-days", "2", "-extfile", f("ca", `${name}.ext`));
    }
    chmodSync(f("ca", "mail.key"), 0o600);
    // The Zabbix server's libcurl verifies the relay with a CA folder (SSLCALocation, CURLOPT_CAPATH):
    // a site host has the site CA in its system store (roles/ca_trust).
    mkdirSync(f("ca", "hashed"));
    writeFileSync(f("ca", "hashed", "ca.crt"), readFileSync(caFile));
    ossl("rehash", f("ca", "hashed"));

    pg = await startPostgres(f("pg"), "zabbix", dbPassword);

    const serverPort = await zabbixPort();
    agentPort = await zabbixPort();
    const frontPort = await zabbixPort();
    const relayPort = await zabbixPort();
    apiUrl = `https://${FRONT}:${frontPort}/api_jsonrpc.php`;
    for (const d of ["server", ...AGENTS.map((a) => `agents/${a.name}/run`)]) {
      mkdirSync(f(d), { recursive: true });
      chownSync(f(d), zabbix.uid, zabbix.gid);
    }
    mkdirSync(f("etc-zabbix"));
    for (const d of ["conf", "queue", "data", "log"]) mkdirSync(f("relay", d), { recursive: true });
    const postfix = account("postfix");
    chownSync(f("relay", "data"), postfix.uid, 0);
    for (const d of ["fpm", "nginx", "config"]) mkdirSync(f(d));

    // The roles' own files, written by the kit's Ansible: the server's, the
    // frontend's and nginx's templates (with the roles' defaults), each
    // agent's configuration and PSK (roles/zabbix_agent), the relay's
    // configuration and mailbox (roles/mail_relay).
    const role = (r: string, ...p: string[]) => path.join(ROOT, "roles", r, ...p);
    put(f("inventory.ini"), `mon ansible_connection=local ansible_python_interpreter=${path.join(venv, "bin/python3")}\n`);
    put(f("harness.yml"), [
      "- name: The throwaway Zabbix's files, from the roles' own templates",
      "  hosts: mon",
      "  gather_facts: false",
      "  vars_files:",
      `    - ${role("zabbix_server", "defaults/main.yml")}`,
      `    - ${role("zabbix_server", "vars/Debian.yml")}`,
      `    - ${role("nginx", "defaults/main.yml")}`,
      "  tasks:",
      "    - name: The server's, the frontend's and nginx's files",
      "      ansible.builtin.template:",
      "        src: \"{{ item.src }}\"",
      "        dest: \"{{ item.dest }}\"",
      "        mode: \"0644\"",
      "      loop:",
      `        - {src: ${role("zabbix_server", "templates/zabbix_server.conf.j2")}, dest: ${f("server", "zabbix_server.conf")}}`,
      `        - {src: ${role("zabbix_server", "templates/zabbix.conf.php.j2")}, dest: ${f("etc-zabbix", "zabbix.conf.php")}}`,
      `        - {src: ${role("zabbix_server", "templates/php-fpm-pool.conf.j2")}, dest: ${f("fpm", "pool.conf")}}`,
      `        - {src: ${role("zabbix_server", "templates/airgap-monitoring.conf.j2")}, dest: ${f("nginx", "airgap-monitoring.conf")}}`,
      `        - {src: ${role("nginx", "templates/tls.conf.j2")}, dest: ${f("nginx", "tls.conf")}}`,
      "    - name: Each agent's configuration and PSK",
      "      ansible.builtin.include_role:",
      "        name: zabbix_agent",
      "        tasks_from: config",
      "      vars:",
      "        airgap_zabbix_agent_hostname: \"{{ agent.name }}\"",
      "        airgap_zabbix_agent_listen: \"{{ agent.address }}\"",
      `        airgap_zabbix_agent_config: "${f("agents")}/{{ agent.name }}/zabbix_agent2.conf"`,
      `        airgap_zabbix_agent_psk_file: "${f("agents")}/{{ agent.name }}/agent.psk"`,
      `        airgap_zabbix_agent_log_file: "${f("agents")}/{{ agent.name }}/run/agent.log"`,
      `        airgap_zabbix_agent_control_socket: "${f("agents")}/{{ agent.name }}/run/agent.sock"`,
      `        airgap_zabbix_agent_pid_file: "${f("agents")}/{{ agent.name }}/run/agent.pid"`,
      "      loop: \"{{ agents }}\"",
      "      loop_control:",
      "        loop_var: agent",
      "    - name: The relay's configuration and mailbox",
      "      ansible.builtin.include_role:",
      "        name: mail_relay",
      "        tasks_from: config",
      "",
    ].join("\n"));
    put(f("harness.json"), JSON.stringify({
      agents: AGENTS,
      airgap_zabbix_server_address: FRONT,
      airgap_zabbix_server_port: frontPort,
      airgap_zabbix_server_names: [`monitoring.${DOMAIN}`],
      airgap_zabbix_server_database_password: dbPassword,
      airgap_zabbix_server_fpm_socket: f("fpm", "fpm.sock"),
      airgap_zabbix_server_certificate: f("ca", "monitoring.crt"),
      airgap_zabbix_server_certificate_key: f("ca", "monitoring.key"),
      airgap_nginx_tls_profile: f("nginx", "tls.conf"),
      airgap_zabbix_agent_manage_service: false,
      airgap_zabbix_agent_servers: ["127.0.0.1"],
      airgap_zabbix_agent_psk_identity: "mon-agent",
      airgap_zabbix_agent_psk: psk,
      airgap_zabbix_agent_port: agentPort,
      airgap_mail_relay_manage_service: false,
      airgap_mail_relay_port: relayPort,
      airgap_mail_relay_address: "127.0.0.1",
      airgap_mail_relay_user: "nobody",
      airgap_mail_relay_names: [`mail.${DOMAIN}`],
      airgap_mail_relay_domain: DOMAIN,
      airgap_mail_relay_allow: [],
      airgap_mail_relay_mailboxes: ["ops"],
      airgap_mail_relay_config_dir: f("relay", "conf"),
      airgap_mail_relay_queue_dir: f("relay", "queue"),
      airgap_mail_relay_data_dir: f("relay", "data"),
      airgap_mail_relay_maildir_base: f("relay", "mail"),
      airgap_mail_relay_log_file: f("relay", "log", "postfix.log"),
      airgap_mail_relay_certificate: f("ca", "mail.crt"),
      airgap_mail_relay_certificate_key: f("ca", "mail.key"),
      airgap_mail_relay_ca_file: caFile,
    }));
    env = ansibleEnv(venv, tmp, caFile);
    playbook(venv, env, f("inventory.ini"), f("harness.yml"), f("harness.json"));

    // Only where the package's paths would clash with this machine's own
    // (logs, pid, sockets) and the private database's and server's ports;
    // each line must be in the role's file once, or the test stops here.
    serverConf = f("server", "zabbix_server.conf");
    writeFileSync(serverConf, setLines(readFileSync(serverConf, "utf8"), {
      LogFile: f("server", "zabbix_server.log"),
      PidFile: f("server", "zabbix_server.pid"),
      DBHost: pg.socketDir,
    }, { DBPort: String(pg.port), ListenPort: String(serverPort), SocketDir: f("server"), SSLCALocation: f("ca", "hashed") }));
    chownSync(serverConf, 0, zabbix.gid);
    chmodSync(serverConf, 0o640);
    const php = f("etc-zabbix", "zabbix.conf.php");
    const phpText = readFileSync(php, "utf8");
    for (const line of ["$DB['PORT']           = '0';", "$ZBX_SERVER_PORT      = '10051';"]) assert.ok(phpText.includes(line), `the role's zabbix.conf.php has ${line}`);
    writeFileSync(php, phpText.replace("$DB['PORT']           = '0';", `$DB['PORT']           = '${pg.port}';`).replace("'10051'", `'${serverPort}'`));
    chownSync(php, 0, www.gid);
    chmodSync(php, 0o640);

    procs.server = start("setpriv", ["--reuid=zabbix", "--regid=zabbix", "--clear-groups", "zabbix_server", "-c", serverConf, "-f"]);
    put(f("fpm", "php-fpm.conf"), `[global]\npid = ${f("fpm", "php-fpm.pid")}\nerror_log = ${f("fpm", "error.log")}\ndaemonize = no\ninclude = ${f("fpm", "pool.conf")}\n`);
    // unshare's mounts are private: /etc/zabbix changes for this php-fpm only.
    procs.fpm = start("unshare", ["-m", "sh", "-c", 'mount --bind "$1" /etc/zabbix && exec php-fpm8.2 -F -y "$2"', "sh", f("etc-zabbix"), f("fpm", "php-fpm.conf")]);
    const n = (x: string) => f("nginx", x);
    put(n("nginx.conf"), [
      `user www-data;`, `daemon off;`, `worker_processes 1;`, `pid ${n("nginx.pid")};`, `error_log ${n("error.log")};`, `events {}`, `http {`,
      `  include /etc/nginx/mime.types;`, `  access_log ${n("access.log")};`,
      ...["client_body", "fastcgi", "proxy", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${n(`${t}-temp`)};`),
      `  include ${n("airgap-monitoring.conf")};`, `}`, ``,
    ].join("\n"));
    procs.nginx = start("nginx", ["-e", n("error.log"), "-c", n("nginx.conf")]);
    for (const a of AGENTS) startAgent(a.name);
    must("postfix", ["-c", relayConf(), "start"]);
    relayStarted = true;

    // The frontend answers, and Zabbix is as installed: Admin/zabbix, guests enabled.
    let version: { result?: unknown } = {};
    for (let i = 0; i < 60 && version.result === undefined; i++) {
      version = await api(apiUrl, caFile, "apiinfo.version", {}).catch(() => ({}));
      if (version.result === undefined) await wait(500);
    }
    assert.match(String(version.result), /^6\.0\./, logs());
    const initial = await login("Admin", "zabbix");
    assert.ok(initial.token, `Zabbix's initial Admin password: ${initial.error}`);
    const guests = await api(apiUrl, caFile, "usergroup.get", { output: ["users_status", "gui_access"], filter: { name: "Guests" } }, initial.token);
    assert.deepEqual(guests.result, [{ usrgrpid: "8", users_status: "0", gui_access: "1" }], "the Guests group is enabled as installed");

    // The role's variables as the compiled project gives them to the monitoring host.
    put(f("config.yml"), ["- name: Monitoring configuration", "  hosts: mon", "  gather_facts: false", "  roles:", "    - role: zabbix_config", ""].join("\n"));
    put(f("config.json"), JSON.stringify({
      airgap_zabbix_server_address: FRONT,
      airgap_zabbix_server_port: frontPort,
      airgap_zabbix_server_admin_password: adminPassword,
      airgap_zabbix_server_ca_file: caFile,
      airgap_zabbix_agent_psk_identity: "mon-agent",
      airgap_zabbix_agent_psk: psk,
      airgap_zabbix_agent_port: agentPort,
      airgap_zabbix_config_hosts: AGENTS.map((a) => ({ ...a, etcd: false })),
      airgap_zabbix_config_recipients: [`ops@${DOMAIN}`],
      airgap_zabbix_config_smtp: `127.0.0.1:${relayPort}`,
      airgap_zabbix_config_mail_from: `zabbix@${DOMAIN}`,
      airgap_zabbix_config_domain: DOMAIN,
      airgap_zabbix_config_webhook_url: `https://chat.${DOMAIN}/hooks/`,
      airgap_zabbix_config_webhook_key: randomBytes(8).toString("hex"),
      airgap_zabbix_config_psk_fingerprint: f("config", "airgap-agent-psk.sha256"),
    }), 0o600);
  });

  after(async () => {
    for (const p of Object.values(procs)) await p.stop();
    if (relayStarted) must("postfix", ["-c", relayConf(), "stop"]);
    pg?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the role's first run changes Zabbix; a second run changes nothing", () => {
    // profile_tasks' summary (slowest first): where a run's time goes.
    const slowest = (out: string) => out.split("\n").filter((l) => /-{2,} \d+\.\d+s$/.test(l)).slice(0, 3)
      .map((l) => l.replace(/^zabbix_config : /, "").replace(/ -{2,} /, " ")).join("; ");
    let t = Date.now();
    const first = configure();
    const firstSeconds = Math.round((Date.now() - t) / 1000);
    assert.ok(first.changed > 0, first.out);
    assert.doesNotMatch(first.out, new RegExp(`${psk}|${adminPassword}`), "no secret in Ansible's output");
    t = Date.now();
    const second = configure();
    assert.equal(second.changed, 0, second.out);
    console.log(`      (first run ${firstSeconds} s, changed=${first.changed}: ${slowest(first.out)})`);
    console.log(`      (second run ${Math.round((Date.now() - t) / 1000)} s: ${slowest(second.out)})`);
    configured = true;
  });

  it("Admin logs in with the site's password only; the guest account is off", async () => {
    assert.ok(configured, "the role's runs failed (above)");
    assert.match((await login("Admin", "zabbix")).error ?? "", /incorrect|Login name or password/i, "the initial password is refused");
    const token = await adminToken();
    const guests = await api(apiUrl, caFile, "usergroup.get", { output: ["users_status", "gui_access"], filter: { name: "Guests" } }, token);
    // users_status 1: disabled; gui_access 3: no frontend access.
    assert.deepEqual(guests.result, [{ usrgrpid: "8", users_status: "1", gui_access: "3" }]);
    assert.match((await login("guest", "")).error ?? "", /No permissions for system access/);
  });

  it("the agents registered are polled over PSK only and show available", async function () {
    assert.ok(configured, "the role's runs failed (above)");
    // The server reads new hosts at its next configuration sync (every 60 s by
    // default); asking for it now spares the wait, it changes nothing else.
    must("zabbix_server", ["-c", serverConf, "-R", "config_cache_reload"]);
    const token = await adminToken();
    let hosts: { host: string; tls_connect: string; tls_accept: string; tls_psk_identity?: string; interfaces: { ip: string; port: string; available: string; error: string }[] }[] = [];
    for (let i = 0; i < 48; i++) {
      hosts = (await api(apiUrl, caFile, "host.get", { output: ["host", "tls_connect", "tls_accept"], selectInterfaces: ["ip", "port", "available", "error"] }, token)).result as typeof hosts;
      if (hosts.length === AGENTS.length && hosts.every((h) => h.interfaces[0]?.available === "1")) break;
      await wait(5000);
    }
    assert.deepEqual(hosts.map((h) => h.host).sort(), AGENTS.map((a) => a.name).sort(), "the site's hosts, and Zabbix's initial one is gone");
    for (const h of hosts) {
      const a = AGENTS.find((x) => x.name === h.host)!;
      assert.equal(h.tls_connect, "2", `${h.host} is polled over PSK`);
      assert.equal(h.tls_accept, "2");
      assert.deepEqual(h.interfaces.map((i) => [i.ip, i.port, i.available]), [[a.address, String(agentPort), "1"]], `${h.host}: ${JSON.stringify(h.interfaces)}\n${logs()}`);
    }
    // The agents' own logs: the server's polls were accepted (PSK) and none refused.
    for (const a of AGENTS) assert.doesNotMatch(readFileSync(f("agents", a.name, "run", "agent.log"), "utf8"), /failed to accept/);
    available = true;
  });

  it("an agent stopped: a problem mail in the relay's Maildir; started again: the recovery mail (AIRGAP_SLOW=1 or this file by name)", async function () {
    if (!SLOW) {
      console.log("      (skipped: Zabbix's own timing makes it ~6 min; AIRGAP_SLOW=1 or give this file to mocha by name)");
      return this.skip();
    }
    assert.ok(configured && available, "the agents were not registered and available (above)");
    const maildir = f("relay", "mail", "ops");
    const about = (m: Mail) => /Zabbix agent is not available/.test(m.subject) && / on node1$/.test(m.subject);
    const waitFor = async (what: RegExp, minutes: number): Promise<Mail> => {
      const until = Date.now() + minutes * 60_000;
      for (;;) {
        const m = readMaildir(maildir).find((x) => about(x) && what.test(x.subject));
        if (m) return m;
        if (Date.now() > until) {
          assert.fail(`no mail ${what} in ${minutes} min; the Maildir has: ${readMaildir(maildir).map((x) => x.subject).join(" | ")}\n${readFileSync(f("relay", "log", "postfix.log"), "utf8").slice(-3000)}\n${logs()}`);
        }
        await wait(10_000);
      }
    };
    const t0 = Date.now();
    await procs["agent node1"].stop();
    const problem = await waitFor(/^Problem: /, 8);
    const tProblem = Date.now();
    assert.equal(problem.from, `zabbix@${DOMAIN}`);
    assert.equal(problem.to, `ops@${DOMAIN}`);
    assert.match(problem.body, /^Host: node1$/m);
    assert.match(problem.body, /^Trigger: Zabbix agent is not available/m);
    startAgent("node1");
    const recovery = await waitFor(/^Resolved in /, 6);
    assert.match(recovery.body, /^Host: node1$/m);
    // Over STARTTLS (the media type verifies the relay's certificate and name:
    // with a CA the server does not trust, nothing is sent at all).
    assert.match(readFileSync(f("relay", "log", "postfix.log"), "utf8"), /TLS connection established from \S*\[127\.0\.0\.1\]: TLSv1\.[23]/);
    console.log(`      (problem mailed ${Math.round((tProblem - t0) / 1000)} s after the agent stopped; recovery ${Math.round((Date.now() - tProblem) / 1000)} s after it started)`);
  });
});
