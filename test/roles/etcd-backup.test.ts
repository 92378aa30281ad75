import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { testEtcd } from "./etcd-harness.js";
import { freePort, must, sh, tempDir, waitForPort } from "./registry-harness.js";
import { startBackupHost, testSshd, type BackupHost } from "./sftp-harness.js";

const TOOL = path.join(ROOT, "roles/etcd_backup/files/airgap_etcd_backup.py");

/**
 * roles/etcd_backup's tool (files/airgap_etcd_backup.py), run as the timer
 * runs it, against a REAL three-member etcd cluster with TLS on 127.0.0.1
 * (laid out as Kubespray lays out etcd_deployment_type host: ca.pem,
 * member-<host>.pem, admin-<host>.pem, an etcd.env per member), storing into
 * a restic repository over SFTP on a PRIVATE sshd on a high port configured
 * with roles/backup_server's drop-in (rendered by Ansible's template module)
 * inside Debian's own sshd_config: the snapshot lands, `restic snapshots`
 * lists it, `restic check` passes, keep-last 2 prunes the first after a third
 * run, a killed backup leaves nothing counted as good, and the drill (keys,
 * backup, keys deleted, restore on every member, keys back, three healthy members).
 */
describe("etcd backups: snapshots from a real etcd cluster into restic over a chrooted SFTP account, and the restore drill", function () {
  this.timeout(15 * 60_000);
  let etcdDir: string;
  let tmp: string;
  let server: BackupHost | undefined;
  const etcd = new Map<string, ChildProcess>();
  const members = ["node1", "node2", "node3"];
  const client = new Map<string, number>();
  const peer = new Map<string, number>();
  let sshPort = 0;
  const user = "airgap-backup";

  const conf = (m: string) => path.join(tmp, `${m}.json`);
  const ssl = () => path.join(tmp, "ssl");
  const envFile = (m: string) => path.join(tmp, `${m}.env`);
  const tool = (m: string, ...args: string[]) => sh("python3", [TOOL, "--config", conf(m), ...args], { env: { ...process.env, PATH: `${etcdDir}:${process.env.PATH}` } });
  const toolOk = (m: string, ...args: string[]) => {
    const r = tool(m, ...args);
    assert.equal(r.code, 0, `${args.join(" ")} on ${m}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const ctlIn = (input: string | undefined, m: string, ...args: string[]) => must(path.join(etcdDir, "etcdctl"), [
    `--endpoints=https://127.0.0.1:${client.get(m)}`, `--cacert=${ssl()}/ca.pem`, `--cert=${ssl()}/admin-${m}.pem`, `--key=${ssl()}/admin-${m}-key.pem`, ...args,
  ], { input });
  const ctl = (m: string, ...args: string[]) => ctlIn(undefined, m, ...args);
  const snapshots = (): { id: string; tags: string[]; time: string }[] => JSON.parse(toolOk("node1", "snapshots", "--json"));

  /** Reads an etcd.env as etcd reads its environment. */
  const envOf = (m: string): Record<string, string> => Object.fromEntries(
    readFileSync(envFile(m), "utf8").split("\n").filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const startEtcd = async (m: string) => {
    const log = openSync(path.join(tmp, `${m}.log`), "a");
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...envOf(m) };
    etcd.set(m, spawn(path.join(etcdDir, "etcd"), [], { env, stdio: ["ignore", log, log] }));
    await waitForPort(client.get(m)!, 30_000);
  };
  const stopEtcd = async (m: string) => {
    const p = etcd.get(m);
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => { p.once("exit", () => r()); p.kill("SIGTERM"); });
    etcd.delete(m);
  };
  const waitHealthy = async () => {
    const until = Date.now() + 60_000;
    for (;;) {
      const r = tool("node1", "health");
      if (r.code === 0) return JSON.parse(r.stdout) as { healthy: string[]; members: number };
      if (Date.now() > until) throw new Error(`the cluster is not healthy: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  };

  /** roles/etcd_backup's etcd-backup.json.j2 rendered by Ansible for each member, for a layout. */
  const renderConfig = (layout: "host" | "kubeadm"): Map<string, Record<string, any>> => {
    const out = path.join(tmp, `rendered-${layout}`);
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(tmp, "members.yml"), JSON.stringify({
      all: { hosts: Object.fromEntries(members.map((m) => [m, { ansible_connection: "local", ansible_host: "127.0.0.1", airgap_etcd_backup_client_port: client.get(m) }])) },
    }));
    writeFileSync(path.join(tmp, "config.yml"), JSON.stringify([{
      hosts: "all", gather_facts: false,
      roles: [], tasks: [{ "ansible.builtin.template": { src: path.join(ROOT, "roles/etcd_backup/templates/etcd-backup.json.j2"), dest: `${out}/{{ inventory_hostname }}.json`, mode: "0600" } }],
    }]));
    writeFileSync(path.join(tmp, "config.json"), JSON.stringify({
      airgap_etcd_backup_members: members, airgap_etcd_backup_layout: layout, airgap_etcd_backup_retention: { last: 2 },
      airgap_etcd_backup_bin_dir: etcdDir, airgap_etcd_backup_cert_dir: ssl(), airgap_etcd_backup_kube_cert_dir: "/etc/kubernetes/ssl",
      airgap_etcd_backup_conf_dir: tmp, airgap_etcd_backup_state_dir: "/var/lib/airgap/backup",
      airgap_etcd_backup_user: user, airgap_etcd_backup_server: "127.0.0.1", airgap_etcd_backup_server_port: sshPort, airgap_etcd_backup_repository: "/etcd",
      airgap_etcd_backup_status: "/status/etcd/last-success",
    }));
    must("ansible-playbook", ["-i", path.join(tmp, "members.yml"), path.join(tmp, "config.yml"), "-e", `@${path.join(tmp, "config.json")}`], {
      env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_NOCOLOR: "1", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
    });
    return new Map(members.map((m) => [m, JSON.parse(readFileSync(path.join(out, `${m}.json`), "utf8"))]));
  };

  before(async function () {
    if (process.getuid?.() !== 0) return this.skip(); // a chroot and another user's SFTP account need root
    const missing = ["restic", "openssl", "ssh", "ssh-keygen", "go", "ansible-playbook"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
    if (missing.length) {
      console.log(`      skipped: ${missing.join(", ")} not installed (test/packages.txt: restic, openssh-client; go for etcd)`);
      return this.skip();
    }
    const ssh = testSshd();
    if (!ssh) {
      console.log("      skipped: no sshd (openssh-server) here, and apt-get download could not fetch it");
      return this.skip();
    }
    etcdDir = testEtcd();
    tmp = tempDir("airgap-etcd-backup-");
    // TLS as Kubespray lays it out for etcd_deployment_type host.
    mkdirSync(ssl());
    const o = (...args: string[]) => must("openssl", args, { cwd: ssl() });
    o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=etcd-ca");
    for (const m of members) {
      for (const [kind, usage] of [["member", "serverAuth,clientAuth"], ["admin", "clientAuth"]]) {
        writeFileSync(path.join(ssl(), `${kind}-${m}.ext`), `subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=${usage}\n`);
        o("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${kind}-${m}-key.pem`, "-out", `${kind}-${m}.csr`, "-subj", `/CN=etcd-${kind}-${m}`);
        o("x509", "-req", "-in", `${kind}-${m}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2", "-out", `${kind}-${m}.pem`, "-extfile", `${kind}-${m}.ext`);
      }
    }
    for (const m of members) {
      client.set(m, await freePort());
      peer.set(m, await freePort());
    }
    const cluster = members.map((m, i) => `etcd${i + 1}=https://127.0.0.1:${peer.get(m)}`).join(",");
    members.forEach((m, i) => {
      // The keys of Kubespray's roles/etcd/templates/etcd.env.j2 that matter here.
      writeFileSync(envFile(m), [
        `ETCD_DATA_DIR=${path.join(tmp, `data-${m}`)}`,
        `ETCD_ADVERTISE_CLIENT_URLS=https://127.0.0.1:${client.get(m)}`,
        `ETCD_INITIAL_ADVERTISE_PEER_URLS=https://127.0.0.1:${peer.get(m)}`,
        "ETCD_INITIAL_CLUSTER_STATE=new",
        `ETCD_LISTEN_CLIENT_URLS=https://127.0.0.1:${client.get(m)}`,
        "ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd",
        `ETCD_LISTEN_PEER_URLS=https://127.0.0.1:${peer.get(m)}`,
        `ETCD_NAME=etcd${i + 1}`,
        `ETCD_INITIAL_CLUSTER=${cluster}`,
        "ETCD_LOG_LEVEL=warn",
        `ETCD_TRUSTED_CA_FILE=${ssl()}/ca.pem`,
        `ETCD_CERT_FILE=${ssl()}/member-${m}.pem`,
        `ETCD_KEY_FILE=${ssl()}/member-${m}-key.pem`,
        "ETCD_CLIENT_CERT_AUTH=true",
        `ETCD_PEER_TRUSTED_CA_FILE=${ssl()}/ca.pem`,
        `ETCD_PEER_CERT_FILE=${ssl()}/member-${m}.pem`,
        `ETCD_PEER_KEY_FILE=${ssl()}/member-${m}-key.pem`,
        "ETCD_PEER_CLIENT_CERT_AUTH=true",
        "",
      ].join("\n"));
    });

    // The backup host: roles/backup_server's drop-in in Debian's sshd_config, the etcd account and its repository.
    server = await startBackupHost(tmp, [{ user, repository: "etcd" }]);
    sshPort = server.port;
    // An etcd member's key, restricted to its address as roles/etcd_backup writes it.
    must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "airgap-etcd-backup@node1", "-f", path.join(tmp, "id_ed25519")]);
    server.authorize(user, readFileSync(path.join(tmp, "id_ed25519.pub"), "utf8"));
    writeFileSync(path.join(tmp, "known_hosts"), server.knownHosts);
    writeFileSync(path.join(tmp, "restic-password"), "a throwaway repository password\n", { mode: 0o600 });

    // The tool's configuration for each member: roles/etcd_backup's template
    // rendered by Ansible for an inventory of the three members (Kubespray's
    // bin_dir and etcd_cert_dir pointed at this test's), then only this
    // machine's own paths replaced (state, cache, etcd.env).
    const rendered = renderConfig("host");
    for (const m of members) {
      const c = rendered.get(m)!;
      assert.equal(c.cert, `${ssl()}/admin-${m}.pem`, "Kubespray's admin certificate of the member");
      assert.equal(c.key, `${ssl()}/admin-${m}-key.pem`);
      assert.equal(c.cacert, `${ssl()}/ca.pem`);
      assert.equal(c.etcd_config, "/etc/etcd.env");
      assert.deepEqual(c.members, members.map((x) => [x, `https://127.0.0.1:${client.get(x)}`]));
      assert.deepEqual(c.retention, { last: 2 });
      writeFileSync(conf(m), JSON.stringify({
        ...c,
        state_dir: path.join(tmp, `state-${m}`),
        cache_dir: path.join(tmp, `cache-${m}`),
        etcd_config: envFile(m),
      }));
    }
    await Promise.all(members.map((m) => startEtcd(m)));
    await waitHealthy();
  });

  after(async function () {
    for (const m of [...etcd.keys()]) await stopEtcd(m);
    server?.stop();
    if (tmp && !process.env.AIRGAP_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  });

  /** ssh as the backup account with the member's key; ended after 20 s (a session that would hang is a failure). */
  const sshAs = (...args: string[]) => {
    const r = spawnSync("ssh", ["-F", "/dev/null", "-i", path.join(tmp, "id_ed25519"), "-p", String(sshPort), "-o", `UserKnownHostsFile=${path.join(tmp, "known_hosts")}`,
      "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", ...args], { input: "", encoding: "utf8", timeout: 20_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  it("the role's configuration follows Kubespray's kubeadm layout too (its etcd certificates, the static pod manifest)", function () {
    const c = renderConfig("kubeadm").get("node2")!;
    assert.equal(c.cacert, "/etc/kubernetes/ssl/etcd/ca.crt");
    assert.equal(c.cert, "/etc/kubernetes/ssl/etcd/server.crt");
    assert.equal(c.key, "/etc/kubernetes/ssl/etcd/server.key");
    assert.equal(c.etcd_config, "/etc/kubernetes/manifests/etcd.yaml");
    assert.equal(c.self, "node2");
  });

  it("the backup account gets SFTP inside its chroot only: no command, no forwarding, no other key", function () {
    const cmd = sshAs(`${user}@127.0.0.1`, "id");
    assert.doesNotMatch(cmd.stdout, /uid=/, "a command ran as the backup account");
    const sftp = sh("sftp", ["-F", "/dev/null", "-i", path.join(tmp, "id_ed25519"), "-P", String(sshPort), "-o", `UserKnownHostsFile=${path.join(tmp, "known_hosts")}`,
      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-b", "-", `${user}@127.0.0.1`], { input: "ls -1 /\ncd /etc\n" });
    assert.match(sftp.stdout, /^\/?etcd$/m, `the chroot's repositories: ${sftp.stdout}${sftp.stderr}`);
    assert.notEqual(sftp.code, 0, "/etc was reachable from the chroot");
    // A remote forward is asked of the server at once: refused, ssh exits (ExitOnForwardFailure) instead of holding the session.
    const fwd = sshAs("-N", "-o", "ExitOnForwardFailure=yes", "-R", `127.0.0.1:0:127.0.0.1:${client.get("node1")}`, `${user}@127.0.0.1`);
    assert.equal(fwd.code, 255, `a port forward was allowed: ${fwd.stderr}`);
    assert.match(fwd.stderr, /remote port forwarding failed|forwarding/i);
    must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(tmp, "other_key")]);
    const other = spawnSync("ssh", ["-F", "/dev/null", "-i", path.join(tmp, "other_key"), "-p", String(sshPort), "-o", `UserKnownHostsFile=${path.join(tmp, "known_hosts")}`,
      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", `${user}@127.0.0.1`, "-s", "sftp"], { input: "", encoding: "utf8", timeout: 20_000 });
    assert.match(other.stderr, /Permission denied/);
  });

  it("a backup lands in restic from the first healthy member; the others leave it to it; restic check passes", function () {
    assert.match(toolOk("node1", "init"), /repository created/);
    assert.match(toolOk("node1", "init"), /repository exists/);
    ctl("node1", "put", "/registry/demo/one", "1");
    const r2 = toolOk("node2", "backup");
    assert.match(r2, /etcd member node1 .* takes the backup/);
    assert.equal(snapshots().length, 0);
    const before = Math.floor(Date.now() / 1000);
    const out = toolOk("node1", "backup");
    assert.match(out, /stored as restic snapshot [0-9a-f]{8}/);
    const list = snapshots();
    assert.equal(list.length, 1);
    assert.ok(list[0].tags.includes("airgap-etcd"));
    const last = Number(readFileSync(path.join(tmp, "state-node1/etcd-last-success"), "utf8"));
    assert.ok(last >= before && last <= Math.floor(Date.now() / 1000), `etcd-last-success ${last}`);
    assert.ok(!existsSync(path.join(tmp, "state-node2/etcd-last-success")), "the member that did not back up wrote a time");
    // The same time on the backup host, where monitoring reads it (readable by its agent, the account's own).
    const status = path.join(server!.chroot, "status/etcd/last-success");
    assert.equal(Number(readFileSync(status, "utf8")), last);
    assert.equal(statSync(status).mode & 0o777, 0o644);
    assert.equal(statSync(status).uid, server!.uids.get(user));
    assert.deepEqual(readdirSync(path.join(tmp, "state-node1/work")), []);
    assert.match(toolOk("node1", "check"), /no errors were found/);
    assert.match(toolOk("node2", "check"), /node1 checks the repository/);
  });

  it("keep-last 2: a third backup prunes the first", function () {
    const first = snapshots()[0].id;
    ctl("node1", "put", "/registry/demo/two", "2");
    toolOk("node1", "backup");
    ctl("node1", "put", "/registry/demo/three", "3");
    toolOk("node1", "backup");
    const ids = snapshots().map((s) => s.id);
    assert.equal(ids.length, 2, JSON.stringify(ids));
    assert.ok(!ids.includes(first), "the first snapshot was kept");
    assert.match(toolOk("node1", "check"), /no errors were found/);
  });

  it("with the first member's etcd down, the next healthy member takes the backup", async function () {
    const ids = snapshots().map((s) => s.id);
    const status = path.join(server!.chroot, "status/etcd/last-success");
    const node1Last = Number(readFileSync(path.join(tmp, "state-node1/etcd-last-success"), "utf8"));
    await new Promise((r) => setTimeout(r, 1100)); // a later second than node1's
    await stopEtcd("node1");
    try {
      const out = toolOk("node2", "backup");
      assert.match(out, /stored as restic snapshot/);
      assert.ok(snapshots().some((s) => !ids.includes(s.id)), "no new snapshot");
      // Monitoring's file on the backup host now holds node2's time, newer than node1's own record.
      const node2Last = Number(readFileSync(path.join(tmp, "state-node2/etcd-last-success"), "utf8"));
      assert.ok(node2Last > node1Last, `${node2Last} > ${node1Last}`);
      assert.equal(Number(readFileSync(status, "utf8")), node2Last);
    } finally {
      await startEtcd("node1");
      await waitHealthy();
    }
  });

  it("a backup killed mid-snapshot leaves no snapshot and no time of success; the next run succeeds", async function () {
    // ~24 MB in etcd, so that the snapshot takes a moment.
    const big = "x".repeat(800_000);
    for (let i = 0; i < 30; i++) ctlIn(big, "node1", "put", `/registry/bulk/${i}`); // the value on stdin
    const ids = snapshots().map((s) => s.id);
    const lastFile = path.join(tmp, "state-node1/etcd-last-success");
    const lastBefore = readFileSync(lastFile, "utf8");
    const work = path.join(tmp, "state-node1/work");
    const child = spawn("python3", [TOOL, "--config", conf("node1"), "backup"], { detached: true, stdio: "ignore" });
    let saw = "";
    const until = Date.now() + 60_000;
    while (!saw && Date.now() < until && child.exitCode === null) {
      saw = existsSync(work) ? readdirSync(work).join(",") : "";
      if (!saw) await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(saw, "the backup ended before it wrote its work file");
    process.kill(-child.pid!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(snapshots().map((s) => s.id), ids, `a snapshot was stored by the killed run (it was killed with ${saw} in its work folder)`);
    assert.equal(readFileSync(lastFile, "utf8"), lastBefore);
    const out = toolOk("node1", "backup");
    assert.match(out, /stored as restic snapshot/);
    assert.deepEqual(readdirSync(work), []);
    assert.notEqual(readFileSync(lastFile, "utf8"), "");
    assert.match(toolOk("node1", "check"), /no errors were found/);
  });

  it("the drill: keys written, backed up, deleted; every member restored from the newest snapshot; the keys are back, three healthy members", async function () {
    for (const k of ["a", "b", "c"]) ctl("node1", "put", `/registry/drill/${k}`, `value-${k}`);
    toolOk("node1", "backup");
    ctl("node1", "del", "--prefix", "/registry/drill/");
    assert.equal(ctl("node2", "get", "--prefix", "--keys-only", "/registry/drill/").trim(), "");
    // restore-etcd.yml's order: etcd stopped on every member, the snapshot
    // fetched and checked, restored on each member, etcd started on all.
    for (const m of members) await stopEtcd(m);
    const file = path.join(tmp, "restore.db");
    const fetched = JSON.parse(toolOk("node1", "fetch", "--snapshot", "latest", "--out", file)) as { totalKey: number };
    assert.ok(fetched.totalKey > 0);
    for (const m of members) {
      const r = JSON.parse(toolOk(m, "restore", "--file", file)) as { member: string; previous: string };
      assert.equal(r.member, `etcd${members.indexOf(m) + 1}`);
      assert.ok(existsSync(r.previous), "the data folder before the restore is kept");
    }
    await Promise.all(members.map((m) => startEtcd(m)));
    const health = await waitHealthy();
    assert.equal(health.healthy.length, 3, JSON.stringify(health));
    for (const m of members) {
      assert.equal(ctl(m, "get", "--print-value-only", "/registry/drill/b").trim(), "value-b", `on ${m}`);
    }
    const list = ctl("node3", "member", "list");
    assert.equal(list.trim().split("\n").length, 3, list);
  });
});
