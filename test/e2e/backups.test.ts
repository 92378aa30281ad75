/**
 * @lab backups: etcd snapshots and the services' state into restic on the
 * backup host, and the restore drill (issues 21 and 18 part 2), with the
 * network cut.
 *
 * The lab site plus a `backups` service: the backup host is gw (the one lab
 * host of the site that is neither a Kubernetes member nor holds service
 * state: admin holds the CA and the repository signing key, AG183; node1 and
 * node2 are cluster members, AG210), three etcd members admin, node1 and
 * node2 (the lab has no third node; admin reaches the nodes through gw, so
 * the site declares etcd's ports between the two networks as a site with
 * its cluster across the gateway must), retention "keep last 2" for both
 * kinds, timers far in the future (the test starts the services itself, as
 * the timers would). It is bundled into a folder of its own (hard links from
 * the lab's bundle: restic is the new package), compiled, and site.yml run.
 *
 * Then the test stands in for Kubespray (`etcd_deployment_type: host`): etcd
 * 3.6.10 (Kubespray 2.31.0's pin; built here from the Go module proxy,
 * test/roles/etcd-harness.ts) in /usr/local/bin, TLS in /etc/ssl/etcd/ssl
 * with Kubespray's file names (ca.pem, member-/admin-/node-<host>.pem),
 * /etc/etcd.env and etcd.service as Kubespray's templates write them, a
 * three-member cluster; on node1 (control-plane) a /etc/kubernetes/ssl and a
 * kube-apiserver.yaml manifest that nothing runs (the restore moves it aside
 * and back). Checks: a backup from the timer's service lands in the
 * repository on gw (`restic snapshots`, `restic check` there); keep-last 2
 * prunes the first after a third; a backup killed mid-snapshot leaves no
 * snapshot and no time of success, the next succeeds; the drill (keys
 * written, backed up, deleted and node2's data wiped, playbooks/restore-etcd.yml,
 * the keys back and `etcdctl endpoint health --cluster` three healthy); the
 * state backups of admin and node1 in their own repositories with
 * status/<repository>/last-success written on gw; a second site.yml changes
 * nothing. At the end etcd and the backup timers are stopped and the lab's
 * own site runs again from the store (an older bundle, so taken back on
 * purpose), as other files expect.
 *
 * By name only (skipped in `npm test`): the whole suite is near its time
 * limit, and this file adds a bundle, two site.yml runs and a restore.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE, FILES_MIRROR, formatRecap, KEYS, labBefore, phase, run, SITE, STORE, WORK, type LabRunResult } from "./fixture.js";
import { startLabUpstream } from "./upstream.js";
import { ETCD_VERSION, testEtcd } from "../roles/etcd-harness.js";
import { must } from "../roles/registry-harness.js";
import { CLI } from "../helpers.js";

/** The etcd members in the site's order (Kubespray names them etcd1, etcd2, etcd3 in its etcd group's order). */
const MEMBERS = ["admin", "node1", "node2"];
const BACKUP_HOST = "gw";
const REPOS = "/srv/airgap-backup";
const SSL = "/etc/ssl/etcd/ssl";
const STATE_DIR = "/var/lib/airgap/backup";

/** Whether mocha was given this file by name. */
function namedOnCommandLine(): boolean {
  return process.argv.slice(2).some((a) => path.basename(a).startsWith("backups.test."));
}

describe("@lab backups: etcd snapshots and service state into restic on the backup host, the restore drill", function () {
  let site: LabRunResult;
  let work: string;
  let bundle: string;
  let project: string;
  let etcdDir: string;
  const password = randomBytes(18).toString("base64url");
  const address = (h: string) => site.lab.address(h);

  /** etcdctl on a member with Kubespray's admin certificate of that member. */
  const etcdctl = (m: string, args: string, input?: string) => site.lab.ssh(m,
    `ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379 --cacert=${SSL}/ca.pem --cert=${SSL}/admin-${m}.pem --key=${SSL}/admin-${m}-key.pem ${args}`, input);
  const etcdctlOk = async (m: string, args: string, input?: string) => {
    const r = await etcdctl(m, args, input);
    assert.equal(r.code, 0, `etcdctl ${args} on ${m}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  /** restic on the backup host as root, the password typed (gw never stores it). */
  const restic = (repo: string, args: string) => site.lab.ssh(BACKUP_HOST, `restic -r ${REPOS}/${repo} --password-file /dev/stdin ${args}`, `${password}\n`);
  const snapshots = async (repo: string): Promise<{ id: string; short_id: string; tags?: string[]; time: string; hostname: string }[]> => {
    const r = await restic(repo, "snapshots --json");
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  /**
   * Starts a backup service as its timer does (the timer starts the
   * service) and waits for its end: its exit and that run's journal.
   */
  const runUnit = (host: string, unit: string) => site.lab.ssh(host,
    `start=$(date +%s); systemctl start ${unit}; rc=$?; journalctl --no-pager -o cat -u ${unit} --since @$start; exit $rc`);

  /** The lab site with the backups service, three etcd members and etcd's ports across the gateway. */
  function backupsSite(): string {
    const lab = readFileSync(SITE, "utf8");
    const out = lab
      .replace('roles: ["admin"] }', 'roles: ["admin", "etcd"] }')
      .replace('roles: ["worker"] }', 'roles: ["worker", "etcd"] }')
      .replace("  flows: [", `  flows: [
    { from: "site", to: "nodes", protocol: "tcp", ports: [2379, 2380], why: "etcd: admin, a member, to node1 and node2" },
    { from: "nodes", to: "site", protocol: "tcp", ports: [2379, 2380], why: "etcd: node1 and node2 to admin, a member" },`)
      .replace("    registry: {", `    backups: {
      on: "${BACKUP_HOST}",
      password: fromEnv("AIRGAP_LAB_BACKUP_PASSWORD"),
      // Far from the test's time: the test starts the services as the timers would.
      etcd: { schedule: "*-12-31 03:00:00", retention: { last: 2 } },
      state: { schedule: "*-12-31 04:00:00", retention: { last: 2 } },
    },
    registry: {`);
    for (const s of ['roles: ["admin", "etcd"]', 'roles: ["worker", "etcd"]', "etcd: admin, a member", "backups: {"]) {
      assert.ok(out.includes(s), `${SITE} no longer has the lines the test changes (${s})`);
    }
    const file = path.join(path.dirname(SITE), "lab-backups.ts");
    writeFileSync(file, out);
    return file;
  }

  /** Kubespray's TLS for etcd (etcd_deployment_type host), made here: CA, and per member its member, admin and node certificates. */
  function makeCerts(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const o = (...args: string[]) => must("openssl", args, { cwd: dir });
    o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=etcd-ca");
    for (const m of MEMBERS) {
      for (const [kind, usage] of [["member", "serverAuth,clientAuth"], ["admin", "serverAuth,clientAuth"], ["node", "clientAuth"]]) {
        writeFileSync(path.join(dir, `${kind}-${m}.ext`), `subjectAltName=IP:${address(m)},IP:127.0.0.1,DNS:localhost,DNS:${m}\nextendedKeyUsage=${usage}\n`);
        o("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${kind}-${m}-key.pem`, "-out", `${kind}-${m}.csr`, "-subj", `/CN=etcd-${kind}-${m}`);
        o("x509", "-req", "-in", `${kind}-${m}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2", "-out", `${kind}-${m}.pem`, "-extfile", `${kind}-${m}.ext`);
      }
    }
  }

  /** /etc/etcd.env as Kubespray's roles/etcd/templates/etcd.env.j2 writes it (the keys etcd 3.6 reads). */
  function etcdEnv(m: string): string {
    const i = MEMBERS.indexOf(m);
    const cluster = MEMBERS.map((x, j) => `etcd${j + 1}=https://${address(x)}:2380`).join(",");
    return [
      "# Environment file for etcd, as Kubespray writes it (the test stands in for Kubespray)",
      "ETCD_DATA_DIR=/var/lib/etcd",
      `ETCD_ADVERTISE_CLIENT_URLS=https://${address(m)}:2379`,
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=https://${address(m)}:2380`,
      "ETCD_INITIAL_CLUSTER_STATE=new",
      "ETCD_METRICS=basic",
      `ETCD_LISTEN_CLIENT_URLS=https://${address(m)}:2379,https://127.0.0.1:2379`,
      "ETCD_ELECTION_TIMEOUT=5000",
      "ETCD_HEARTBEAT_INTERVAL=250",
      "ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd",
      `ETCD_LISTEN_PEER_URLS=https://${address(m)}:2380`,
      `ETCD_NAME=etcd${i + 1}`,
      `ETCD_INITIAL_CLUSTER=${cluster}`,
      "ETCD_AUTO_COMPACTION_RETENTION=8",
      "ETCD_SNAPSHOT_COUNT=100000",
      "ETCD_QUOTA_BACKEND_BYTES=2147483648",
      "ETCD_MAX_REQUEST_BYTES=1572864",
      "ETCD_LOG_LEVEL=info",
      `ETCD_TRUSTED_CA_FILE=${SSL}/ca.pem`,
      `ETCD_CERT_FILE=${SSL}/member-${m}.pem`,
      `ETCD_KEY_FILE=${SSL}/member-${m}-key.pem`,
      "ETCD_CLIENT_CERT_AUTH=true",
      `ETCD_PEER_TRUSTED_CA_FILE=${SSL}/ca.pem`,
      `ETCD_PEER_CERT_FILE=${SSL}/member-${m}.pem`,
      `ETCD_PEER_KEY_FILE=${SSL}/member-${m}-key.pem`,
      "ETCD_PEER_CLIENT_CERT_AUTH=True",
      "",
    ].join("\n");
  }

  /** Kubespray's roles/etcd/templates/etcd-host.service.j2. */
  const ETCD_SERVICE = `[Unit]
Description=etcd
After=network.target

[Service]
Type=notify
User=root
EnvironmentFile=/etc/etcd.env
ExecStart=/usr/local/bin/etcd
NotifyAccess=all
Restart=always
RestartSec=10s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
`;

  const scp = async (files: string[], host: string, dest: string) => {
    const sshArgs = site.lab.env.AIRGAP_LAB_SSH_ARGS.split(/\s+/).filter(Boolean);
    const r = await run("scp", [...sshArgs, "-o", "BatchMode=yes", ...files, `root@${address(host)}:${dest}`]);
    assert.equal(r.code, 0, r.stderr);
  };

  /** Waits until `etcdctl endpoint health --cluster` on `m` reports every member healthy; its output. */
  const waitHealthy = async (m: string, seconds = 120) => {
    const until = Date.now() + seconds * 1000;
    for (;;) {
      const r = await etcdctl(m, "endpoint health --cluster -w json");
      if (r.code === 0) {
        const answers = JSON.parse(r.stdout) as { endpoint: string; health: boolean }[];
        if (answers.length === 3 && answers.every((a) => a.health)) return answers;
      }
      if (Date.now() > until) throw new Error(`etcd is not healthy on ${m}: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 2000));
    }
  };

  before(async function () {
    // By name only: a whole-suite run (no file named) skips it.
    if (!namedOnCommandLine()) this.skip();
    site = await labBefore(this);
    this.timeout(60 * 60_000);
    etcdDir = testEtcd();
    process.env.AIRGAP_LAB_BACKUP_PASSWORD = password;
    work = path.join(WORK, "backups");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    bundle = path.join(work, "bundle");
    const cp = await run("cp", ["-al", BUNDLE, bundle]);
    assert.equal(cp.code, 0, cp.stderr);
    const siteFile = backupsSite();
    const upstream = await startLabUpstream(path.join(WORK, "upstream"));
    let b;
    try {
      b = await run(process.execPath, [CLI, "bundle", siteFile, "-o", bundle, "--include-base", "--files-from", FILES_MIRROR, "--cert-dir", upstream.certDir,
        "--key", path.join(KEYS, "airgap-bundle.key")], { log: path.join(WORK, "backups-bundle.log") });
    } finally {
      await upstream.stop();
    }
    phase("backups: airgap bundle", b.ms);
    assert.equal(b.code, 0, b.stderr.slice(-3000));
    project = path.join(WORK, "project-backups");
    const c = await run(process.execPath, [CLI, "compile", siteFile, "-o", project]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    const r = await site.lab.playbook("backups-site", "site.yml", [], bundle, project);
    phase("backups: site.yml", r.ms);
    console.log(`      e2e recap, backups site: ${formatRecap(r.recap)}`);
    assert.equal(r.code, 0, `site.yml with the backups failed; log ${r.log}`);

    // Kubespray's place, done by hand: etcd's binaries, TLS, etcd.env and etcd.service on the three members.
    const ssl = path.join(work, "ssl");
    makeCerts(ssl);
    const certs = ["ca.pem", "ca-key.pem", ...MEMBERS.flatMap((m) => ["member", "admin", "node"].flatMap((k) => [`${k}-${m}.pem`, `${k}-${m}-key.pem`]))].map((f) => path.join(ssl, f));
    for (const m of MEMBERS) {
      writeFileSync(path.join(work, `etcd-${m}.env`), etcdEnv(m));
      writeFileSync(path.join(work, "etcd.service"), ETCD_SERVICE);
      await site.lab.sh(m, `install -d -m 0700 ${SSL} && install -d -m 0755 /usr/local/bin`);
      await scp(["etcd", "etcdctl", "etcdutl"].map((x) => path.join(etcdDir, x)), m, "/usr/local/bin/");
      await scp(certs, m, `${SSL}/`);
      await scp([path.join(work, `etcd-${m}.env`)], m, "/etc/etcd.env");
      await scp([path.join(work, "etcd.service")], m, "/etc/systemd/system/etcd.service");
      await site.lab.sh(m, `chmod 0600 ${SSL}/*-key.pem && chmod 0640 /etc/etcd.env && systemctl daemon-reload && systemctl enable etcd.service`);
    }
    // node1 is the control plane: Kubespray's kube_cert_dir and the API server's static pod manifest (nothing runs it here).
    await site.lab.sh("node1", "install -d -m 0755 /etc/kubernetes/ssl /etc/kubernetes/manifests && printf 'stand-in CA\\n' > /etc/kubernetes/ssl/ca.crt && printf 'kind: Pod\\n' > /etc/kubernetes/manifests/kube-apiserver.yaml");
    // Type=notify: each start returns once its member has joined the cluster, so start them together.
    await Promise.all(MEMBERS.map((m) => site.lab.sh(m, "systemctl start --no-block etcd.service")));
    const health = await waitHealthy("node1");
    console.log(`      etcd ${ETCD_VERSION}: ${health.map((a) => a.endpoint).join(", ")} healthy`);
  });

  after(async function () {
    if (!site) return;
    this.timeout(15 * 60_000);
    // Nothing of the stand-in cluster or the backups' timers left for later files.
    for (const m of MEMBERS) {
      await site.lab.ssh(m, "systemctl disable --now etcd.service airgap-etcd-backup.timer airgap-etcd-backup-check.timer airgap-state-backup.timer airgap-state-backup-check.timer 2>/dev/null; true");
    }
    const back = await site.lab.playbook("backups-back-to-lab", "site.yml", ["-e", "airgap_allow_rollback=true"], STORE);
    phase("backups: back to the lab site (site.yml)", back.ms);
    assert.equal(back.code, 0, `log: ${back.log}`);
  });

  it("site.yml set up the backup host (an SFTP account per repository) and the timers on the members and the state hosts", async () => {
    // The accounts have the group as their primary one (getent group lists supplementary members only).
    const accounts = await site.lab.sh(BACKUP_HOST, "gid=$(getent group airgap-backup | cut -d: -f3) && getent passwd | awk -F: -v g=\"$gid\" '$4 == g { print $1 \" \" $7 }'");
    assert.deepEqual(accounts.trim().split("\n").sort(), ["airgap-backup", "airgap-state-admin", "airgap-state-node1", "airgap-state-node2"].map((u) => `${u} /usr/sbin/nologin`));
    for (const m of MEMBERS) assert.equal((await site.lab.sh(m, "systemctl is-active airgap-etcd-backup.timer")).trim(), "active", m);
    for (const h of ["admin", "node1", "node2"]) assert.equal((await site.lab.sh(h, "systemctl is-active airgap-state-backup.timer")).trim(), "active", h);
    // The repository exists (restic init, once) and the backup host holds no password.
    assert.deepEqual(await snapshots("etcd"), []);
    assert.equal((await site.lab.ssh(BACKUP_HOST, "grep -rl --include='*' -F -- " + JSON.stringify(password) + " /etc /srv /root 2>/dev/null")).stdout, "");
  });

  it("the timer's service puts a snapshot into the repository on gw: restic snapshots lists it, restic check passes", async function () {
    this.timeout(5 * 60_000);
    await etcdctlOk("node1", "put /registry/e2e/one 1");
    const before = Math.floor(Date.now() / 1000) - 5;
    // Every member's timer fires; the first healthy member in the site's order (admin) backs up, the others leave it.
    const runs = await Promise.all(MEMBERS.map((m) => runUnit(m, "airgap-etcd-backup.service")));
    runs.forEach((r, i) => assert.equal(r.code, 0, `${MEMBERS[i]}: ${r.stdout}${r.stderr}`));
    assert.match(runs[0].stdout, /stored as restic snapshot [0-9a-f]{8}/);
    const list = await snapshots("etcd");
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.ok(list[0].tags?.includes("airgap-etcd"));
    const last = Number(await site.lab.sh(BACKUP_HOST, `cat ${REPOS}/status/etcd/last-success`));
    assert.ok(last >= before, `status/etcd/last-success ${last}`);
    const check = await restic("etcd", "check");
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /no errors were found/);
  });

  it("keep last 2: a third backup prunes the first", async function () {
    this.timeout(5 * 60_000);
    const first = (await snapshots("etcd"))[0].id;
    for (const k of ["two", "three"]) {
      await etcdctlOk("node1", `put /registry/e2e/${k} ${k}`);
      const r = await runUnit("admin", "airgap-etcd-backup.service");
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    const ids = (await snapshots("etcd")).map((s) => s.id);
    assert.equal(ids.length, 2, JSON.stringify(ids));
    assert.ok(!ids.includes(first), "the first snapshot was kept");
    assert.equal((await restic("etcd", "check")).code, 0);
  });

  it("a backup killed mid-snapshot leaves no snapshot and no time of success; the next run succeeds", async function () {
    this.timeout(10 * 60_000);
    // ~24 MB in etcd, so that the snapshot takes a moment.
    const big = "x".repeat(800_000);
    for (let i = 0; i < 30; i++) await etcdctlOk("admin", `put /registry/bulk/${i}`, big);
    const ids = (await snapshots("etcd")).map((s) => s.id);
    const lastBefore = await site.lab.sh(BACKUP_HOST, `cat ${REPOS}/status/etcd/last-success`);
    const memberLast = await site.lab.sh("admin", `cat ${STATE_DIR}/etcd-last-success`);
    // The timer's service started, killed (every process of it) as soon as its work folder holds the snapshot on the way.
    const killed = await site.lab.ssh("admin", `systemctl start --no-block airgap-etcd-backup.service
for i in $(seq 1 3000); do
  f=$(ls -A ${STATE_DIR}/work 2>/dev/null)
  if [ -n "$f" ]; then
    systemctl is-active airgap-etcd-backup.service
    systemctl kill -s KILL airgap-etcd-backup.service
    echo "killed with $f"
    exit 0
  fi
  sleep 0.01
done
echo "the backup wrote no work file"; exit 1`);
    assert.equal(killed.code, 0, killed.stdout + killed.stderr);
    assert.match(killed.stdout, /^(active|activating)\nkilled with /m, killed.stdout);
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual((await snapshots("etcd")).map((s) => s.id), ids, `a snapshot was stored by the killed run (${killed.stdout})`);
    assert.equal(await site.lab.sh(BACKUP_HOST, `cat ${REPOS}/status/etcd/last-success`), lastBefore);
    assert.equal(await site.lab.sh("admin", `cat ${STATE_DIR}/etcd-last-success`), memberLast);
    const next = await runUnit("admin", "airgap-etcd-backup.service");
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stdout, /stored as restic snapshot/);
    assert.equal((await site.lab.sh("admin", `ls -A ${STATE_DIR}/work`)).trim(), "");
    assert.notEqual(await site.lab.sh(BACKUP_HOST, `cat ${REPOS}/status/etcd/last-success`), lastBefore);
    const check = await restic("etcd", "check");
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it("the drill: keys backed up, deleted and node2's data wiped; restore-etcd.yml; the keys are back, three healthy members", async function () {
    this.timeout(20 * 60_000);
    for (const k of ["a", "b", "c"]) await etcdctlOk("node1", `put /registry/drill/${k} value-${k}`);
    const b = await runUnit("admin", "airgap-etcd-backup.service");
    assert.equal(b.code, 0, b.stdout + b.stderr);
    await etcdctlOk("node1", "del --prefix /registry/drill/");
    assert.equal((await etcdctlOk("admin", "get --prefix --keys-only /registry/drill/")).trim(), "");
    await site.lab.sh("node2", "systemctl stop etcd.service && rm -rf /var/lib/etcd");
    const r = await site.lab.playbook("backups-restore", "playbooks/restore-etcd.yml", [], null, project);
    phase("backups: restore-etcd.yml", r.ms);
    console.log(`      e2e recap, restore-etcd.yml: ${formatRecap(r.recap)}`);
    assert.equal(r.code, 0, `restore-etcd.yml failed; log ${r.log}`);
    const health = await etcdctlOk("node2", "endpoint health --cluster -w json");
    const answers = JSON.parse(health) as { endpoint: string; health: boolean }[];
    assert.deepEqual(answers.map((a) => a.health), [true, true, true], health);
    for (const m of MEMBERS) assert.equal((await etcdctlOk(m, "get --print-value-only /registry/drill/b")).trim(), "value-b", `on ${m}`);
    assert.equal((await etcdctlOk("admin", "member list")).trim().split("\n").length, 3);
    // The API server's manifest is back where kubelet reads it; the old data folders kept beside the new.
    assert.equal((await site.lab.sh("node1", "cat /etc/kubernetes/manifests/kube-apiserver.yaml")).trim(), "kind: Pod");
    assert.match(await site.lab.sh("admin", "ls -d /var/lib/etcd.before-restore-*"), /before-restore-/);
  });

  it("service state: admin's CA, signing key and etcd PKI and node1's Kubernetes and etcd PKI land in their own repositories; status/<repository>/last-success is written", async function () {
    this.timeout(10 * 60_000);
    const before = Math.floor(Date.now() / 1000) - 5;
    for (const [host, kinds] of [["admin", ["ca", "etcd-pki", "repo-signing-key"]], ["node1", ["etcd-pki", "kubernetes-pki"]]] as const) {
      const r = await runUnit(host, "airgap-state-backup.service");
      assert.equal(r.code, 0, `${host}: ${r.stdout}${r.stderr}`);
      const list = await snapshots(`state-${host}`);
      const tags = list.map((s) => (s.tags ?? []).filter((t) => t !== "airgap-state")[0]).sort();
      assert.deepEqual(tags, [...kinds], `${host}: ${JSON.stringify(list)}`);
      assert.ok(list.every((s) => s.hostname === host));
      const last = Number(await site.lab.sh(BACKUP_HOST, `cat ${REPOS}/status/state-${host}/last-success`));
      assert.ok(last >= before, `status/state-${host}/last-success ${last}`);
      const check = await restic(`state-${host}`, "check");
      assert.equal(check.code, 0, check.stdout + check.stderr);
    }
    // A host's key reaches its own repository only: node1's account cannot list admin's.
    const other = await site.lab.ssh("node1", `echo 'ls /state-admin' | sftp -b - -F /dev/null -i /etc/airgap/backup/state/id_ed25519 -o UserKnownHostsFile=/etc/airgap/backup/state/known_hosts -o BatchMode=yes airgap-state-node1@${address(BACKUP_HOST)}`);
    assert.notEqual(other.code, 0, `node1's account listed admin's repository: ${other.stdout}`);
  });

  it("a second site.yml changes nothing", async function () {
    this.timeout(20 * 60_000);
    const again = await site.lab.playbook("backups-2-site", "site.yml", [], bundle, project);
    phase("backups: second site.yml", again.ms);
    console.log(`      e2e recap, backups second run: ${formatRecap(again.recap)}`);
    assert.equal(again.code, 0, again.log);
    for (const [host, r] of again.recap) assert.equal(r.changed, 0, `${host} changed ${r.changed} (log ${again.log})`);
  });
});
