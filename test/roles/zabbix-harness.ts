/**
 * A throwaway Zabbix 6.0 LTS on this machine, built from Debian's packages
 * and the roles' own templates, for test/roles/zabbix-config.test.ts:
 *
 * - the kit's Ansible (`ansible==DEFAULT_ANSIBLE` from PyPI, the version the
 *   controller's kit carries, so community.zabbix is the one a site runs) in
 *   a venv made once per machine;
 * - a private PostgreSQL (initdb + pg_ctl on a free port, its socket in the
 *   temp folder, Debian's authentication: peer on the socket, a password
 *   over TCP) with the package's schema, images and data;
 * - zabbix_server run as `zabbix` from roles/zabbix_server's own template;
 * - the frontend: php-fpm with the role's pool in its own mount namespace,
 *   where /etc/zabbix is the temp folder holding the role's zabbix.conf.php
 *   (Debian's frontend reads that one path, a constant in CConfigFile.php),
 *   and a private nginx with the role's server block and the nginx role's
 *   TLS profile;
 * - Zabbix agent 2 instances from roles/zabbix_agent (`tasks_from: config`),
 *   each on its own loopback address, run as `zabbix`;
 * - the site's relay: a private Postfix from roles/mail_relay
 *   (`tasks_from: config`), mailbox `ops`.
 *
 * Every process started here is stopped by its id (`stop`), and on exit.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { DEFAULT_ANSIBLE } from "../../compile/kit.js";
import { ROOT } from "../helpers.js";
import { must, sh } from "./registry-harness.js";

/** The kit's Ansible, once per machine (pip from the registry: ~45 s the first time). */
export const KIT_VENV = path.join(os.tmpdir(), `airgap-test-ansible-${DEFAULT_ANSIBLE}`);

/** The venv holding `ansible==DEFAULT_ANSIBLE`, made when missing; returns its folder. */
export function kitAnsible(): string {
  if (!existsSync(path.join(KIT_VENV, "bin/ansible-playbook"))) {
    rmSync(KIT_VENV, { recursive: true, force: true });
    must("/usr/bin/python3", ["-m", "venv", KIT_VENV]);
    must(path.join(KIT_VENV, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", `ansible==${DEFAULT_ANSIBLE}`], { env: { ...process.env, PIP_FIND_LINKS: "" } });
  }
  return KIT_VENV;
}

/** PostgreSQL's own binaries (Debian keeps them out of PATH), the newest major. */
export function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base).filter((d) => existsSync(path.join(base, d, "bin/initdb"))).sort((a, b) => Number(b) - Number(a));
  return majors.length ? path.join(base, majors[0], "bin") : undefined;
}

/** The Debian packages (test/packages.txt) whose files are missing here. */
export function missingPackages(): string[] {
  const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
  const need: [boolean, string][] = [
    [postgresBin() !== undefined, "postgresql"],
    [existsSync("/usr/sbin/zabbix_server") && existsSync("/usr/share/zabbix-server-pgsql/schema.sql.gz"), "zabbix-server-pgsql"],
    [existsSync("/usr/share/zabbix/api_jsonrpc.php"), "zabbix-frontend-php"],
    [has("php-fpm8.2"), "php8.2-fpm"],
    [existsSync("/etc/php/8.2/mods-available/pgsql.ini"), "php8.2-pgsql"],
    [has("nginx"), "nginx"],
    [has("zabbix_agent2"), "zabbix-agent2"],
    [has("postfix") && has("postconf"), "postfix"],
    [spawnSync("/usr/bin/python3", ["-c", "import venv, ensurepip"]).status === 0, "python3-venv"],
    [has("openssl"), "openssl"],
    [has("setpriv") && has("unshare"), "util-linux"],
  ];
  return need.filter(([ok]) => !ok).map(([, pkg]) => pkg);
}

/** A TCP port in 20000-32767 nobody listens on at any address (Zabbix's ListenPort range ends at 32767; the kernel's own picks lie above it). */
export async function zabbixPort(address = "0.0.0.0"): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12700);
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, address, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** A numeric uid and gid of an account. */
export function account(name: string): { uid: number; gid: number } {
  return { uid: Number(must("id", ["-u", name]).trim()), gid: Number(must("id", ["-g", name]).trim()) };
}

/** Replaces each `Key=...` line of a Zabbix configuration (each must be there once), or appends it with `add`. */
export function setLines(text: string, set: Record<string, string>, add: Record<string, string> = {}): string {
  let out = text;
  for (const [key, value] of Object.entries(set)) {
    const re = new RegExp(`^${key}=.*$`, "gm");
    const found = out.match(re)?.length ?? 0;
    if (found !== 1) throw new Error(`${key}= appears ${found} times in the role's file`);
    out = out.replace(re, `${key}=${value}`);
  }
  for (const [key, value] of Object.entries(add)) {
    if (new RegExp(`^${key}=`, "m").test(out)) throw new Error(`${key}= is in the role's file now: set it instead`);
    out += `${key}=${value}\n`;
  }
  return out;
}

/** A process started here, stopped by its id. */
export interface Proc {
  pid: number;
  /** What it printed (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<number>();
process.on("exit", () => {
  for (const pid of running) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      /* gone */
    }
  }
});

/** Starts `cmd` in the foreground of its own, kept until stop() (SIGTERM, then SIGKILL after 10 s). */
export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child: ChildProcess = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const pid = child.pid!;
  running.add(pid);
  let exited = false;
  child.on("exit", () => {
    exited = true;
    running.delete(pid);
  });
  return {
    pid,
    output: () => out,
    async stop() {
      if (exited) return;
      running.delete(pid);
      child.kill("SIGTERM");
      for (let i = 0; i < 200 && !exited; i++) await new Promise((r) => setTimeout(r, 50));
      if (!exited) child.kill("SIGKILL");
    },
  };
}

/** The private PostgreSQL: started, with `user`'s database holding Zabbix's schema, images and data. */
export interface Postgres {
  port: number;
  socketDir: string;
  stop(): void;
}

export async function startPostgres(dir: string, user: string, password: string): Promise<Postgres> {
  const bin = postgresBin()!;
  const pg = account("postgres");
  const data = path.join(dir, "data");
  const socketDir = path.join(dir, "run");
  for (const d of [dir, socketDir]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, pg.uid, pg.gid);
  }
  // Traversable: the Zabbix server (its account, peer authentication) reaches the socket.
  chmodSync(socketDir, 0o755);
  const asPostgres = (tool: string, args: string[], input?: string) => must("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args], { input });
  // Debian's own defaults: peer on the socket, a password (SCRAM) over TCP.
  asPostgres("initdb", ["-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256"]);
  const port = await zabbixPort();
  // A throwaway database: no fsync (the schema loads in seconds instead of ~20 s).
  asPostgres("pg_ctl", ["-D", data, "-l", path.join(dir, "postgres.log"), "-w", "-o",
    `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`, "start"]);
  const stop = () => void sh("runuser", ["-u", "postgres", "--", path.join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
  try {
    const conn = ["-h", socketDir, "-p", String(port)];
    asPostgres("psql", [...conn, "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"],
      `CREATE ROLE ${user} LOGIN PASSWORD '${password}';\nCREATE DATABASE ${user} OWNER ${user} ENCODING 'UTF8' TEMPLATE template0;\n`);
    // As the database user (peer), as the role does, so that it owns the tables.
    for (const part of ["schema", "images", "data"]) {
      const sql = must("zcat", [`/usr/share/zabbix-server-pgsql/${part}.sql.gz`]);
      must("runuser", ["-u", user, "--", path.join(bin, "psql"), ...conn, "-q", "-v", "ON_ERROR_STOP=1", "-d", user], { input: sql });
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { port, socketDir, stop };
}

/** A JSON-RPC call to Zabbix's API over HTTPS verified against `ca`. */
export function api(url: string, ca: string, method: string, params: unknown, auth?: string): Promise<{ result?: unknown; error?: { message: string; data: string } }> {
  const body = JSON.stringify({ jsonrpc: "2.0", method, params, id: 1, ...(auth ? { auth } : {}) });
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: "POST", ca: readFileSync(ca), headers: { "Content-Type": "application/json-rpc" }, timeout: 30_000 }, (res) => {
      let text = "";
      res.on("data", (b: Buffer) => (text += b.toString()));
      res.on("end", () => {
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new Error(`${method}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`));
        }
      });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method}: no answer in 30 s`)));
    req.end(body);
  });
}

/** One mail of a Maildir, read with Python's mailbox and email modules (headers decoded). */
export interface Mail {
  subject: string;
  from: string;
  to: string;
  body: string;
}

const READ_MAILDIR = `
import email, email.policy, json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], factory=None, create=False):
    msg = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    out.append({"subject": str(msg["subject"]), "from": str(msg["from"]), "to": str(msg["to"]),
                "body": body.get_content() if body is not None else ""})
print(json.dumps(out))
`;

/** The mails in a Maildir now. */
export function readMaildir(dir: string): Mail[] {
  return JSON.parse(must("/usr/bin/python3", ["-c", READ_MAILDIR, dir])) as Mail[];
}

/** The environment for the kit's ansible-playbook: the project's roles, no collections but the kit's, `caFile` trusted by Python (the httpapi connection). */
export function ansibleEnv(venv: string, tmp: string, caFile: string): NodeJS.ProcessEnv {
  const empty = path.join(tmp, "no-collections");
  mkdirSync(empty, { recursive: true });
  return {
    ...process.env,
    PATH: `${path.join(venv, "bin")}:${process.env.PATH}`,
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"),
    ANSIBLE_COLLECTIONS_PATH: empty,
    ANSIBLE_LOCALHOST_WARNING: "0",
    ANSIBLE_INVENTORY_UNPARSED_WARNING: "0",
    ANSIBLE_LOCAL_TEMP: path.join(tmp, "ansible-local"),
    ANSIBLE_PERSISTENT_CONTROL_PATH_DIR: path.join(tmp, "ansible-pc"),
    SSL_CERT_FILE: caFile,
    // Each task's time in the output (a slow API call shows where the minutes go).
    ANSIBLE_CALLBACKS_ENABLED: "ansible.posix.profile_tasks",
  };
}

/** ansible-playbook of the kit; returns the recap's counts, failing with the whole output when a run fails. */
export function playbook(venv: string, env: NodeJS.ProcessEnv, inventory: string, play: string, varsFile: string): { changed: number; out: string } {
  const r = sh(path.join(venv, "bin/ansible-playbook"), ["-i", inventory, play, "-e", `@${varsFile}`], { env });
  const recap = r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP"));
  if (r.code !== 0 || !/failed=0/.test(recap)) throw new Error(`ansible-playbook ${path.basename(play)} exited ${r.code}\n${r.stdout}${r.stderr}`);
  return { changed: Number(/changed=(\d+)/.exec(recap)?.[1]), out: r.stdout };
}

/** Writes a file (making its folder). */
export function put(file: string, text: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}
