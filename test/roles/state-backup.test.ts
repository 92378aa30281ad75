/**
 * roles/state_backup's tool (files/airgap_state_backup.py), run as the timer
 * runs it with the configuration the role's template renders (Ansible), on
 * REAL state: a running devpi-server 6.20.3 (from PyPI, once per machine) run
 * as `nobody`, with a user, an index and an uploaded wheel, dumped by its own
 * devpi-export as that user while it serves; and a CA folder with a private
 * key. It stores into restic 0.14 over SFTP on a private Debian sshd with
 * roles/backup_server's drop-in (test/roles/sftp-harness.ts), each host's
 * repository its own account's. Shown: one account cannot enter another's
 * repository; one snapshot per kind; the time of the last good run, locally
 * and on the backup host where monitoring reads it; keep-last 2 per kind; a
 * kind that cannot be stored fails the run and leaves that time as it was;
 * the restore: devpi-import of the restored export into a new server folder
 * serves the same users, index and wheel (same SHA-256), the CA folder comes
 * back byte for byte with its modes; `restic check` passes.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { freePort, must, sh, tempDir } from "./registry-harness.js";
import { startBackupHost, testSshd, type BackupHost } from "./sftp-harness.js";

const TOOL = path.join(ROOT, "roles/state_backup/files/airgap_state_backup.py");
const MAKE_WHEELS = path.join(ROOT, "test/bundle/make_wheels.py");
const DEVPI_SERVER = "devpi-server==6.20.3";
/**
 * devpi's venv, made once per machine from the system's Python (as the role
 * makes it on the host): devpi runs as nobody here, which cannot reach a
 * Python under root's home (pyenv's).
 */
const VENV = path.join(os.tmpdir(), "airgap-test-devpi-6.20.3-system");
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const ROOT_PASSWORD = "root-password-for-the-test";
const CI_PASSWORD = "ci-password-for-the-test";
const STATE_USER = "airgap-state-host1";
const ETCD_USER = "airgap-backup";

function devpiVenv(): string {
  if (!existsSync(path.join(VENV, "bin/devpi-server"))) {
    rmSync(VENV, { recursive: true, force: true });
    must(PYTHON, ["-m", "venv", VENV]);
    must(path.join(VENV, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", DEVPI_SERVER], { env: { ...process.env, PIP_FIND_LINKS: "" } });
  }
  return VENV;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("service-state backups: devpi (devpi-export, live) and a CA folder into restic over a chrooted SFTP account, and back", function () {
  this.timeout(10 * 60_000);
  let tmp: string;
  let server: BackupHost | undefined;
  let devpi: ChildProcess | undefined;
  let devpiUrl = "";
  let nobody: { uid: number; gid: number };
  let venv: string;
  let serverdir: string;
  let caDir: string;
  let wheel: string;
  const conf = () => path.join(tmp, "state-backup.json");
  const stateDir = () => path.join(tmp, "state");
  const tool = (...args: string[]) => sh("python3", [TOOL, "--config", conf(), ...args]);
  const toolOk = (...args: string[]) => {
    const r = tool(...args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const snapshots = (name?: string): { id: string; tags: string[]; paths: string[] }[] => JSON.parse(toolOk("snapshots", ...(name ? [name] : []), "--json"));
  const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

  /** devpi-server as nobody on the loopback, over `dir`; its URL. */
  const startDevpi = async (dir: string): Promise<string> => {
    const port = await freePort();
    devpi = spawn(path.join(venv, "bin/devpi-server"), ["--serverdir", dir, "--secretfile", path.join(dir, ".secret"), "--host", "127.0.0.1", "--port", String(port), "--restrict-modify", "root"],
      { stdio: "ignore", uid: nobody.uid, gid: nobody.gid, cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
    const url = `http://127.0.0.1:${port}`;
    devpiUrl = url;
    for (let i = 0; i < 120; i++) {
      if ((await fetch(`${url}/+api`).catch(() => undefined))?.ok) return url;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error("devpi-server did not answer within 60 s");
  };
  const stopDevpi = async () => {
    const p = devpi;
    devpi = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => { p.once("exit", () => r()); p.kill("SIGTERM"); });
  };
  const asNobody = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(cmd, args, { uid: nobody.uid, gid: nobody.gid, cwd: tmp, encoding: "utf8", env: { PATH: process.env.PATH, HOME: tmp, ...env } });
    assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.error ?? ""}${r.stdout}${r.stderr}`);
  };
  /** What a devpi-server serves of the site's state: users, the index's settings, the wheel's bytes. */
  const served = async (url: string) => {
    const json = async (p: string) => ((await (await fetch(url + p, { headers: { Accept: "application/json" } })).json()) as { result: any }).result;
    const users = Object.keys(await json("/")).sort();
    const index = await json("/ci/prod");
    const simple = await (await fetch(`${url}/ci/prod/+simple/airgap-lab-top/`)).text();
    const href = /href="([^"#]+)/.exec(simple)?.[1];
    assert.ok(href, `no file for airgap-lab-top in ${simple}`);
    const file = Buffer.from(await (await fetch(new URL(href, `${url}/ci/prod/+simple/airgap-lab-top/`))).arrayBuffer());
    const login = await fetch(`${url}/+login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "ci", password: CI_PASSWORD }) });
    return { users, bases: index.bases, volatile: index.volatile, acl: index.acl_upload, file: sha256(file), ciLogin: login.status };
  };

  before(async function () {
    if (process.getuid?.() !== 0) return this.skip(); // chroot, other users' accounts and files need root
    const missing = ["restic", "ssh", "sftp", "ssh-keygen", "openssl", "ansible-playbook", "python3"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
    if (missing.length) {
      console.log(`      skipped: ${missing.join(", ")} not installed (test/packages.txt: restic, openssh-client)`);
      return this.skip();
    }
    if (!testSshd()) {
      console.log("      skipped: no sshd (openssh-server) here, and apt-get download could not fetch it");
      return this.skip();
    }
    venv = devpiVenv();
    tmp = tempDir("airgap-state-backup-");
    chmodSync(tmp, 0o755); // nobody (devpi's user here) reaches its folders inside
    nobody = { uid: Number(must("id", ["-u", "nobody"]).trim()), gid: Number(must("id", ["-g", "nobody"]).trim()) };

    server = await startBackupHost(tmp, [{ user: ETCD_USER, repository: "etcd" }, { user: STATE_USER, repository: "state-host1" }]);
    for (const [name, user] of [["state", STATE_USER], ["etcd", ETCD_USER]]) {
      must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `airgap-${name}-backup@host1`, "-f", path.join(tmp, `${name}_key`)]);
      server.authorize(user, readFileSync(path.join(tmp, `${name}_key.pub`), "utf8"));
    }
    writeFileSync(path.join(tmp, "known_hosts"), server.knownHosts);
    writeFileSync(path.join(tmp, "restic-password"), "a throwaway repository password\n", { mode: 0o600 });

    // devpi as the role sets it up (devpi-init --no-root-pypi, a secret, --restrict-modify root), run as nobody.
    serverdir = path.join(tmp, "devpi");
    mkdirSync(serverdir, { mode: 0o700 });
    chownSync(serverdir, nobody.uid, nobody.gid);
    asNobody(path.join(venv, "bin/devpi-init"), ["--serverdir", serverdir, "--no-root-pypi"], { DEVPISERVER_ROOT_PASSWD: ROOT_PASSWORD });
    asNobody(path.join(venv, "bin/devpi-gen-secret"), ["--secretfile", path.join(serverdir, ".secret")]);
    const url = await startDevpi(serverdir);
    // A user of the site, its non-volatile index without bases, and an upload of its own (what no bundle holds).
    const root = basic("root", ROOT_PASSWORD);
    const put = async (p: string, body: object, headers: Record<string, string>) => {
      const r = await fetch(url + p, { method: "PUT", headers: { ...headers, "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
      assert.ok(r.status === 201 || r.status === 200, `PUT ${p}: ${r.status} ${await r.text()}`);
    };
    await put("/ci", { password: CI_PASSWORD, email: "ci@site.internal" }, root);
    await put("/ci/prod", { bases: [], volatile: false, acl_upload: ["ci"] }, root);
    const wheels = path.join(tmp, "wheels");
    must("python3", [MAKE_WHEELS, wheels]);
    wheel = path.join(wheels, readdirSync(wheels).find((f) => f.startsWith("airgap_lab_top-"))!);
    const form = new FormData();
    form.set(":action", "file_upload");
    form.set("name", "airgap-lab-top");
    form.set("version", "1.0");
    form.set("content", new Blob([readFileSync(wheel)]), path.basename(wheel));
    const up = await fetch(`${url}/ci/prod/`, { method: "POST", body: form, headers: basic("ci", CI_PASSWORD) });
    assert.equal(up.status, 200, await up.text());

    // A CA folder as roles/ca leaves it: ca.crt, private/ (0700) with ca.key (0600).
    caDir = path.join(tmp, "ca");
    mkdirSync(path.join(caDir, "private"), { recursive: true, mode: 0o700 });
    chmodSync(path.join(caDir, "private"), 0o700);
    must("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path.join(caDir, "private/ca.key"),
      "-out", path.join(caDir, "ca.crt"), "-days", "2", "-subj", "/CN=state backup test CA"]);
    chmodSync(path.join(caDir, "private/ca.key"), 0o600);

    // The tool's configuration: roles/state_backup's template rendered by Ansible for host1.
    writeFileSync(path.join(tmp, "inventory.yml"), JSON.stringify({ all: { hosts: { host1: { ansible_connection: "local", ansible_host: "127.0.0.1" } } } }));
    writeFileSync(path.join(tmp, "render.yml"), JSON.stringify([{
      hosts: "all", gather_facts: false,
      tasks: [{ "ansible.builtin.template": { src: path.join(ROOT, "roles/state_backup/templates/state-backup.json.j2"), dest: conf(), mode: "0600" } }],
    }]));
    writeFileSync(path.join(tmp, "render.json"), JSON.stringify({
      airgap_state_backup_user: STATE_USER, airgap_state_backup_server: "127.0.0.1", airgap_state_backup_server_port: server.port,
      airgap_state_backup_repository: "/state-host1", airgap_state_backup_status: "/status/state-host1/last-success",
      airgap_state_backup_retention: { last: 2 }, airgap_state_backup_conf_dir: tmp, airgap_state_backup_state_dir: stateDir(),
      airgap_state_backup_items: [
        { name: "devpi", paths: [serverdir], dump: { argv: [path.join(venv, "bin/devpi-export"), "--serverdir", serverdir], user: "nobody" } },
        { name: "ca", paths: [caDir] },
      ],
    }));
    must("ansible-playbook", ["-i", path.join(tmp, "inventory.yml"), path.join(tmp, "render.yml"), "-e", `@${path.join(tmp, "render.json")}`], {
      env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_NOCOLOR: "1", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
    });
    // The key file is named after the role's (id_ed25519 in the configuration folder).
    writeFileSync(path.join(tmp, "id_ed25519"), readFileSync(path.join(tmp, "state_key")), { mode: 0o600 });
    const c = JSON.parse(readFileSync(conf(), "utf8"));
    assert.equal(c.repository, `sftp:${STATE_USER}@127.0.0.1:/state-host1`);
    assert.equal(c.host, "host1");
    writeFileSync(conf(), JSON.stringify({ ...c, cache_dir: path.join(tmp, "cache") }));
  });

  after(async function () {
    await stopDevpi();
    server?.stop();
    if (tmp && !process.env.AIRGAP_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  });

  /** sftp as `user` with `key`, the batch on stdin; ended after 20 s. */
  const sftp = (user: string, key: string, batch: string) => {
    const r = spawnSync("sftp", ["-F", "/dev/null", "-i", path.join(tmp, key), "-P", String(server!.port), "-o", `UserKnownHostsFile=${path.join(tmp, "known_hosts")}`,
      "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-b", "-", `${user}@127.0.0.1`], { input: batch, encoding: "utf8", timeout: 20_000 });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };

  it("each account enters its own repository only (the etcd members' key cannot read a host's state, nor the other way)", function () {
    assert.match(toolOk("init"), /repository created/);
    assert.match(toolOk("init"), /repository exists/);
    const own = sftp(STATE_USER, "state_key", "ls /state-host1\n");
    assert.equal(own.code, 0, own.out);
    assert.match(own.out, /config/);
    const other = sftp(ETCD_USER, "etcd_key", "ls /state-host1\n");
    assert.notEqual(other.code, 0, `the etcd account listed the state repository: ${other.out}`);
    assert.match(other.out, /Permission denied|remote readdir/i);
    assert.notEqual(sftp(STATE_USER, "state_key", "ls /etcd\n").code, 0, "the state account entered the etcd repository");
    assert.notEqual(sftp(STATE_USER, "state_key", "put /etc/hostname /status/etcd/last-success\n").code, 0, "the state account wrote etcd's status");
    // The etcd key is not accepted for the state account.
    assert.notEqual(sftp(STATE_USER, "etcd_key", "ls /\n").code, 0);
  });

  it("a backup dumps devpi with devpi-export as its user while it serves, stores each kind as a snapshot of its own, and records the time here and on the backup host", function () {
    const before = Math.floor(Date.now() / 1000);
    const out = toolOk("backup");
    assert.match(out, /devpi: stored as restic snapshot [0-9a-f]{8}/);
    assert.match(out, /ca: stored as restic snapshot [0-9a-f]{8}/);
    const all = snapshots();
    assert.deepEqual(all.map((s) => s.tags.filter((t) => t !== "airgap-state")).sort(), [["ca"], ["devpi"]]);
    // devpi's snapshot holds the export (devpi-export's dataindex.json), not the live folder.
    const [devpiSnap] = snapshots("devpi");
    assert.deepEqual(devpiSnap.paths, [path.join(stateDir(), "dump/devpi")]);
    const ls = must("restic", ["-r", `${server!.chroot}/state-host1`, "--password-file", path.join(tmp, "restic-password"), "--cache-dir", path.join(tmp, "cache"), "ls", devpiSnap.id]);
    assert.match(ls, /\/dump\/devpi\/dataindex\.json$/m);
    assert.doesNotMatch(ls, /\.sqlite/);
    // The dump folder is gone (it held the whole index once more).
    assert.deepEqual(readdirSync(path.join(stateDir(), "dump")), []);
    const last = Number(readFileSync(path.join(stateDir(), "last-success"), "utf8"));
    assert.ok(last >= before && last <= Math.floor(Date.now() / 1000), `last-success ${last}`);
    const status = path.join(server!.chroot, "status/state-host1/last-success");
    assert.equal(Number(readFileSync(status, "utf8")), last);
    assert.equal(statSync(status).mode & 0o777, 0o644, "monitoring's agent reads it");
    assert.match(toolOk("check"), /no errors were found/);
  });

  it("keep-last 2 applies to each kind: after two more backups each has its two newest", async function () {
    const first = snapshots().map((s) => s.id);
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 1100)); // distinct snapshot times
      toolOk("backup");
    }
    for (const kind of ["devpi", "ca"]) {
      const ids = snapshots(kind).map((s) => s.id);
      assert.equal(ids.length, 2, `${kind}: ${JSON.stringify(ids)}`);
      assert.ok(!ids.some((id) => first.includes(id)), `${kind}: the first snapshot was kept`);
    }
  });

  it("a kind that cannot be stored fails the run; the others are stored; the time of the last good backup stays", async function () {
    const c = JSON.parse(readFileSync(conf(), "utf8"));
    const good = c.items;
    writeFileSync(conf(), JSON.stringify({ ...c, items: [{ name: "gone", paths: [path.join(tmp, "no-such-folder")] }, ...good] }));
    try {
      const lastBefore = readFileSync(path.join(stateDir(), "last-success"), "utf8");
      const statusBefore = readFileSync(path.join(server!.chroot, "status/state-host1/last-success"), "utf8");
      const caBefore = snapshots("ca").map((s) => s.id);
      await new Promise((r) => setTimeout(r, 1100));
      const r = tool("backup");
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /gone: .*no-such-folder does not exist/);
      assert.match(r.stderr, /not stored: gone/);
      assert.match(r.stdout, /ca: stored as restic snapshot/);
      assert.ok(snapshots("ca").some((s) => !caBefore.includes(s.id)), "ca was not stored");
      assert.equal(readFileSync(path.join(stateDir(), "last-success"), "utf8"), lastBefore);
      assert.equal(readFileSync(path.join(server!.chroot, "status/state-host1/last-success"), "utf8"), statusBefore);
    } finally {
      writeFileSync(conf(), JSON.stringify({ ...c, items: good }));
    }
  });

  it("restore: devpi-import of the restored export serves the same users, index and wheel; the CA folder comes back byte for byte", async function () {
    const before = await served(devpiUrl);
    assert.deepEqual(before.users, ["ci", "root"]);
    assert.equal(before.file, sha256(readFileSync(wheel)));
    assert.equal(before.ciLogin, 200);
    // The loss: devpi's folder and the CA gone.
    await stopDevpi();
    rmSync(serverdir, { recursive: true });
    const caKey = readFileSync(path.join(caDir, "private/ca.key"));
    const caCrt = readFileSync(path.join(caDir, "ca.crt"));
    rmSync(caDir, { recursive: true });

    const target = path.join(tmp, "restore-devpi");
    const r = JSON.parse(toolOk("restore", "devpi", "--target", target)) as { folder: string };
    assert.equal(r.folder, path.join(target, stateDir().slice(1), "dump/devpi"));
    assert.ok(existsSync(path.join(r.folder, "dataindex.json")), "the export is back");
    // The runbook's procedure: an empty server folder of devpi's user, devpi-import as that user, the secret, the server.
    chmodSync(target, 0o755);
    for (let d = path.dirname(r.folder); d.startsWith(target); d = path.dirname(d)) chmodSync(d, 0o755);
    spawnSync("chown", ["-R", `${nobody.uid}:${nobody.gid}`, r.folder]);
    mkdirSync(serverdir, { mode: 0o700 });
    chownSync(serverdir, nobody.uid, nobody.gid);
    asNobody(path.join(venv, "bin/devpi-import"), ["--serverdir", serverdir, "--no-root-pypi", r.folder]);
    asNobody(path.join(venv, "bin/devpi-gen-secret"), ["--secretfile", path.join(serverdir, ".secret")]);
    const after = await served(await startDevpi(serverdir));
    assert.deepEqual(after, before);

    const ca = JSON.parse(toolOk("restore", "ca", "--target", path.join(tmp, "restore-ca"))) as { folder: string };
    const back = path.join(ca.folder, caDir.slice(1));
    assert.deepEqual(readFileSync(path.join(back, "private/ca.key")), caKey);
    assert.deepEqual(readFileSync(path.join(back, "ca.crt")), caCrt);
    assert.equal(statSync(path.join(back, "private/ca.key")).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(back, "private")).mode & 0o777, 0o700);
    assert.match(toolOk("check"), /no errors were found/);
  });
});
