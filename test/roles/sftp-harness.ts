/**
 * The backup host for role tests: Debian's OpenSSH sshd with
 * roles/backup_server's drop-in (rendered by Ansible's template module) inside
 * Debian's own sshd_config, serving chrooted SFTP accounts on a loopback
 * port. Nothing of this machine's is changed: sshd runs in a mount namespace
 * of its own (`unshare --mount`) where a tmpfs on /mnt holds the jail
 * (ChrootDirectory wants every folder up to / owned by root and not writable
 * by others, which /tmp is not), /run is a tmpfs with /run/sshd, and
 * /etc/passwd and /etc/group are copies that add sshd's privilege separation
 * user and the backup accounts (uids of their own, 64990 and up).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { freePort, must, sh, waitForPort } from "./registry-harness.js";

const DROPIN = path.join(ROOT, "roles/backup_server/templates/airgap-backup.conf.j2");
/** Where the private sshd (in its own mount namespace) sees the jail folder. */
export const JAIL = "/mnt/airgap-backup-jail";
/** The group of the backup accounts, as roles/backup_server names it. */
export const BACKUP_GROUP = "airgap-backup";

/**
 * OpenSSH's sshd for a private server on the loopback: /usr/sbin/sshd, else
 * Debian's openssh-server (with openssh-sftp-server and libwrap0) fetched
 * with `apt-get download` and unpacked into $TMPDIR/airgap-test-openssh (never
 * installed). Undefined when neither can be had.
 */
export function testSshd(): { sshd: string; config: string; env: NodeJS.ProcessEnv } | undefined {
  if (existsSync("/usr/sbin/sshd") && existsSync("/usr/share/openssh/sshd_config")) {
    return { sshd: "/usr/sbin/sshd", config: "/usr/share/openssh/sshd_config", env: process.env };
  }
  const dir = path.join(os.tmpdir(), "airgap-test-openssh");
  const root = path.join(dir, "root");
  const libs = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"].map((d) => path.join(root, d)).join(":");
  const env = { ...process.env, LD_LIBRARY_PATH: libs };
  if (!existsSync(path.join(root, "usr/sbin/sshd"))) {
    mkdirSync(dir, { recursive: true });
    const got = sh("apt-get", ["download", "openssh-server", "openssh-sftp-server", "libwrap0"], { cwd: dir });
    if (got.code !== 0) return undefined;
    for (const deb of readdirSync(dir).filter((f) => f.endsWith(".deb"))) must("dpkg-deb", ["-x", path.join(dir, deb), root]);
  }
  const sshd = path.join(root, "usr/sbin/sshd");
  if (sh(sshd, ["-V"], { env }).stderr.indexOf("OpenSSH") < 0) return undefined;
  return { sshd, config: path.join(root, "usr/share/openssh/sshd_config"), env };
}

export interface BackupAccount {
  user: string;
  repository: string;
}

export interface BackupHost {
  port: number;
  /** The chroot on this machine's side (repositories and status/ inside). */
  chroot: string;
  /** known_hosts line for the server's key on 127.0.0.1:port. */
  knownHosts: string;
  /** uid of each account, by name. */
  uids: Map<string, number>;
  /** The keys folder (one file per account) on this machine's side. */
  keysDir: string;
  /** Lets `pub` (a public key line) in for `user`, restricted to 127.0.0.1, as the client roles write it. */
  authorize(user: string, pub: string): void;
  stop(): void;
}

/**
 * Starts the backup host: for each account a repository folder (0700, its
 * own) and a status folder (0755, its own) under the chroot, and sshd with
 * the role's drop-in (Match Group, ForceCommand internal-sftp, keys from
 * `<keys>/%u`).
 */
export async function startBackupHost(tmp: string, accounts: BackupAccount[]): Promise<BackupHost> {
  const ssh = testSshd();
  if (!ssh) throw new Error("no sshd");
  const jail = path.join(tmp, "jail");
  const chroot = path.join(jail, "repos");
  mkdirSync(path.join(chroot, "status"), { recursive: true });
  for (const p of [jail, chroot, path.join(chroot, "status")]) chmodSync(p, 0o755);
  const gid = 64989;
  const uids = new Map(accounts.map((a, i) => [a.user, 64990 + i]));
  for (const a of accounts) {
    for (const [p, mode] of [[path.join(chroot, a.repository), 0o700], [path.join(chroot, "status", a.repository), 0o755]] as const) {
      mkdirSync(p, { recursive: true });
      chownSync(p, uids.get(a.user)!, gid);
      chmodSync(p, mode);
    }
  }
  const keysDir = path.join(jail, "keys");
  mkdirSync(keysDir);
  chmodSync(keysDir, 0o755);
  const port = await freePort();
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(jail, "host_key")]);
  const dropins = path.join(jail, "sshd_config.d");
  mkdirSync(dropins);
  const inJail = (p: string) => path.join(JAIL, path.relative(jail, p));
  writeFileSync(path.join(tmp, "render-dropin.yml"), JSON.stringify([{
    hosts: "localhost", connection: "local", gather_facts: false,
    tasks: [{ "ansible.builtin.template": { src: DROPIN, dest: path.join(dropins, "airgap-backup.conf"), mode: "0644" } }],
  }]));
  writeFileSync(path.join(tmp, "render-dropin.json"), JSON.stringify({
    airgap_backup_server_group: BACKUP_GROUP, airgap_backup_server_path: inJail(chroot), airgap_backup_server_keys_dir: inJail(keysDir),
  }));
  must("ansible-playbook", ["-i", "localhost,", path.join(tmp, "render-dropin.yml"), "-e", `@${path.join(tmp, "render-dropin.json")}`], {
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_NOCOLOR: "1" },
  });
  const debian = readFileSync(ssh.config, "utf8");
  assert.match(debian, /^Include \/etc\/ssh\/sshd_config\.d\/\*\.conf$/m, "Debian's sshd_config includes its drop-in folder at its top");
  writeFileSync(path.join(jail, "sshd_config"), [
    `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${inJail(path.join(jail, "host_key"))}`, "PidFile none",
    debian.replace(/^Include .*$/m, `Include ${inJail(dropins)}/*.conf`).replace(/^UsePAM yes$/m, "UsePAM no"),
  ].join("\n"));
  writeFileSync(path.join(tmp, "passwd"), readFileSync("/etc/passwd", "utf8") + "sshd:x:64999:65534::/run/sshd:/usr/sbin/nologin\n" +
    accounts.map((a) => `${a.user}:x:${uids.get(a.user)}:${gid}::${inJail(chroot)}:/usr/sbin/nologin\n`).join(""));
  writeFileSync(path.join(tmp, "group"), readFileSync("/etc/group", "utf8") + `${BACKUP_GROUP}:x:${gid}:\n`);
  const ns = (...argv: string[]) => ["--mount", "--propagation", "private", "sh", "-c",
    'set -e; mount -t tmpfs -o mode=755 tmpfs /mnt; mkdir -m 755 "$1"; mount --bind "$2" "$1"; mount --bind "$3" /etc/passwd; mount --bind "$4" /etc/group; ' +
    'mount -t tmpfs -o mode=755 tmpfs /run; mkdir -m 755 /run/sshd; shift 4; exec "$@"', "sh", JAIL, jail, path.join(tmp, "passwd"), path.join(tmp, "group"), ...argv];
  const t = sh("unshare", ns(ssh.sshd, "-t", "-f", inJail(path.join(jail, "sshd_config"))), { env: ssh.env });
  assert.equal(t.code, 0, `sshd -t refuses Debian's config with the role's drop-in: ${t.stderr}`);
  const sshd: ChildProcess = spawn("unshare", ns(ssh.sshd, "-D", "-e", "-f", inJail(path.join(jail, "sshd_config"))), {
    env: ssh.env, stdio: ["ignore", "ignore", openSync(path.join(tmp, "sshd.log"), "a")],
  });
  await waitForPort(port);
  return {
    port, chroot, uids, keysDir,
    knownHosts: `[127.0.0.1]:${port} ${readFileSync(path.join(jail, "host_key.pub"), "utf8")}`,
    authorize(user, pub) {
      const file = path.join(keysDir, user);
      writeFileSync(file, `${existsSync(file) ? readFileSync(file, "utf8") : ""}restrict,from="127.0.0.1" ${pub.trim()}\n`);
      chmodSync(file, 0o644);
    },
    stop() {
      if (sshd.exitCode === null) sshd.kill("SIGTERM");
    },
  };
}
