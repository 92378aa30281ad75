/**
 * A registry world on this machine's loopback, for the registry tests, the
 * bench and the lab's upstream: a throwaway CA (openssl), test images built
 * with umoci from a tiny root filesystem (several sharing a base layer),
 * Debian's docker-registry run by hand with its own configuration in a temp
 * folder, and nginx run by hand with the registry role's own templates
 * (rendered by Ansible). Only 127.0.0.1; every process started here is
 * stopped by its id.
 *
 * Needs: skopeo, umoci, docker-registry, nginx, apache2-utils, openssl,
 * ansible-core, python3-yaml.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../helpers.js";

export const ROLE = path.join(ROOT, "roles/registry");
export const TOOL = path.join(ROLE, "files/airgap_registry.py");

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never throws on a non-zero exit. */
export function sh(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Ran {
  // A bound, so that a tool that never ends fails the test instead of hanging it.
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env ?? process.env, cwd: opts.cwd, encoding: "utf8", maxBuffer: 64 << 20, timeout: 600_000 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like `sh`, but fails unless the command exits 0; returns stdout. */
export function must(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const r = sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The same, asynchronously (for timing several at once). */
export function shAsync(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (opts.input !== undefined) {
      // A child that exits without reading its input is not an error here.
      child.stdin!.on("error", () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

/** Which of the tools the registry tests need are missing. */
export function missingTools(): string[] {
  const tools = ["skopeo", "umoci", "docker-registry", "nginx", "htpasswd", "openssl", "ansible-playbook"];
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (spawnSync("python3", ["-c", "import yaml"]).status !== 0) missing.push("python3-yaml");
  return missing;
}

/** A world-readable temp folder (nginx's workers read from it). */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

/** A TCP port nobody listens on at the moment, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until 127.0.0.1:port accepts connections. */
export async function waitForPort(port: number | string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      // A number: 127.0.0.1's TCP port; a string: a unix socket's path.
      const s = typeof port === "number" ? net.connect(port, "127.0.0.1") : net.connect(port);
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing answers on ${typeof port === "number" ? `127.0.0.1:${port}` : port} after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Ca {
  dir: string;
  crt: string;
  key: string;
  /** A folder holding only the CA certificate (skopeo's --cert-dir). */
  certDir: string;
}

/** A throwaway CA. */
export function makeCa(dir: string, name = "airgap test CA"): Ca {
  mkdirSync(dir, { recursive: true });
  const crt = path.join(dir, "ca.crt");
  const key = path.join(dir, "ca.key");
  must("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "2",
    "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const certDir = path.join(dir, "certs.d");
  mkdirSync(certDir, { recursive: true });
  writeFileSync(path.join(certDir, "ca.crt"), readFileSync(crt));
  return { dir, crt, key, certDir };
}

/** A server certificate from `ca` for 127.0.0.1 (and DNS names). */
export function issue(ca: Ca, name: string, dns: string[] = []): { crt: string; key: string } {
  const crt = path.join(ca.dir, `${name}.crt`);
  const key = path.join(ca.dir, `${name}.key`);
  const csr = path.join(ca.dir, `${name}.csr`);
  const ext = path.join(ca.dir, `${name}.ext`);
  must("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${dns[0] ?? "127.0.0.1"}`]);
  writeFileSync(ext, `subjectAltName=${["IP:127.0.0.1", ...dns.map((d) => `DNS:${d}`)].join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  must("openssl", ["x509", "-req", "-in", csr, "-CA", ca.crt, "-CAkey", ca.key, "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext]);
  return { crt, key };
}

/** A process this harness started, stopped by its id. */
export interface Proc {
  pid: number;
  stop(): Promise<void>;
}

/** Processes started here and not stopped yet: ended by their id if this process exits first (a crash). */
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

async function stopPid(pid: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  running.delete(pid);
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

/**
 * Debian's distribution binary run by hand on 127.0.0.1:port with its own
 * configuration (`config` YAML text, or a plain one for storage `dir`,
 * optionally with TLS).
 */
/**
 * distribution, run here with `o.config` (or a plain configuration on
 * 127.0.0.1:`o.port`), until `stop()`. With `o.socket` (the role's unix
 * socket: its configuration's http.addr) it is started under the umask the
 * role's unit sets (0007), and waited for on the socket.
 */
export async function startRegistry(o: { dir: string; port: number; socket?: string; tls?: { crt: string; key: string }; config?: string }): Promise<Proc> {
  mkdirSync(o.dir, { recursive: true });
  const file = path.join(o.dir, "config.yml");
  const config =
    o.config ??
    [
      "version: 0.1",
      "log: {level: error}",
      `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(o.dir, "storage"))}}, delete: {enabled: true}}`,
      `http: {addr: "127.0.0.1:${o.port}", secret: ${JSON.stringify(createHash("sha256").update(o.dir).digest("hex"))}${o.tls ? `, tls: {certificate: ${JSON.stringify(o.tls.crt)}, key: ${JSON.stringify(o.tls.key)}}` : ""}}`,
      "",
    ].join("\n");
  writeFileSync(file, config);
  const log = path.join(o.dir, "registry.log");
  // The role's unit runs it with UMask=0007 (the socket 0770); a child takes the umask it is spawned with.
  const umask = o.socket ? process.umask(0o007) : undefined;
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(process.env.AIRGAP_REGISTRY_BIN ?? "docker-registry", ["serve", file], { stdio: ["ignore", "ignore", "pipe"], detached: false });
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString();
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const pid = child.pid!;
  running.add(pid);
  try {
    await Promise.race([
      waitForPort(o.socket ?? o.port),
      exited.then(() => {
        throw new Error(`docker-registry exited at start:\n${stderr}`);
      }),
    ]);
  } catch (err) {
    await stopPid(pid);
    throw err;
  }
  return {
    pid,
    async stop() {
      await stopPid(pid);
      writeFileSync(log, stderr);
    },
  };
}

export interface ImageSpec {
  /** Tag in the layout. */
  name: string;
  /** Which shared base it starts from (bases of the same name are one layer). */
  base: string;
  /** Bytes of its own layer. */
  own: number;
}

/** Bytes that do not compress (so layer sizes are what they say), from a seed. */
function noise(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash("sha256").update(seed).digest();
  for (let off = 0; off < n; off += 32) {
    block = createHash("sha256").update(block).digest();
    block.copy(out, off, 0, Math.min(32, n - off));
  }
  return out;
}

/**
 * Builds images with umoci in one OCI layout: a base per distinct `base`
 * (a tiny root filesystem: /etc/os-release, /bin/hello, and `baseBytes`
 * of data), then one layer of the image's own on top.
 */
export function buildImages(dir: string, specs: ImageSpec[], baseBytes = 2_000_000): string {
  const layout = path.join(dir, "layout");
  const work = path.join(dir, "rootfs");
  rmSync(layout, { recursive: true, force: true });
  must("umoci", ["init", "--layout", layout]);
  for (const base of [...new Set(specs.map((s) => s.base))]) {
    const fs = path.join(work, `base-${base}`);
    mkdirSync(path.join(fs, "etc"), { recursive: true });
    mkdirSync(path.join(fs, "bin"), { recursive: true });
    mkdirSync(path.join(fs, "usr/share/base"), { recursive: true });
    writeFileSync(path.join(fs, "etc/os-release"), `NAME="airgap test base ${base}"\nID=airgap-test\n`);
    writeFileSync(path.join(fs, "bin/hello"), "#!/bin/sh\necho hello from the air gap\n", { mode: 0o755 });
    writeFileSync(path.join(fs, "usr/share/base/data.bin"), noise(`base ${base}`, baseBytes));
    must("umoci", ["new", "--image", `${layout}:base-${base}`]);
    must("umoci", ["insert", "--rootless", "--no-history", "--image", `${layout}:base-${base}`, fs, "/"]);
  }
  for (const s of specs) {
    const own = path.join(work, `own-${s.name}`);
    mkdirSync(own, { recursive: true });
    writeFileSync(path.join(own, "data.bin"), noise(`own ${s.name}`, s.own));
    writeFileSync(path.join(own, "name"), `${s.name}\n`);
    must("umoci", ["insert", "--rootless", "--no-history", "--image", `${layout}:base-${s.base}`, "--tag", s.name, own, `/app/${s.name}`]);
  }
  return layout;
}

/** Pushes layout images to a registry: `[tag in layout, path:tag there]`. */
export async function pushAll(layout: string, registry: string, certDir: string, images: [string, string][], authFile?: string): Promise<void> {
  await Promise.all(
    images.map(async ([name, target]) => {
      const r = await shAsync("skopeo", ["copy", "--quiet", "--dest-cert-dir", certDir, ...(authFile ? ["--dest-authfile", authFile] : []),
        `oci:${layout}:${name}`, `docker://${registry}/${target}`]);
      if (r.code !== 0) throw new Error(`push of ${name} to ${registry}/${target} failed: ${r.stderr}`);
    }),
  );
}

/** A containers-auth.json for one account on one registry. */
export function authFile(dir: string, registry: string, user: string, password: string): string {
  const file = path.join(dir, `auth-${user}.json`);
  writeFileSync(file, JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } }), { mode: 0o600 });
  return file;
}

/**
 * Renders the registry role's templates (nginx file, distribution's
 * configuration) with Ansible, the role's vars and defaults, and `vars`; and
 * the nginx role's shared TLS profile (`tls`), which the nginx file includes.
 */
export function renderRole(dir: string, vars: Record<string, unknown>): { nginx: string; config: string; tls: string } {
  const out = { nginx: path.join(dir, "airgap-registry.conf"), config: path.join(dir, "config.yml"), tls: path.join(dir, "airgap-tls.conf") };
  const playbook = path.join(dir, "render.yml");
  writeFileSync(
    playbook,
    JSON.stringify([
      {
        hosts: "localhost",
        gather_facts: false,
        // The nginx file is rendered inside the nginx role, whose variables it reads too.
        vars_files: [
          path.join(ROLE, "defaults/main.yml"),
          path.join(ROLE, "vars/Debian.yml"),
          path.join(ROLE, "vars/main.yml"),
          path.join(ROOT, "roles/nginx/defaults/main.yml"),
          path.join(ROOT, "roles/nginx/vars/main.yml"),
        ],
        tasks: [
          { name: "tls", "ansible.builtin.template": { src: path.join(ROOT, "roles/nginx/templates/tls.conf.j2"), dest: out.tls, mode: "0644" } },
          { name: "nginx", "ansible.builtin.template": { src: path.join(ROLE, "templates/airgap-registry.conf.j2"), dest: out.nginx, mode: "0644" } },
          { name: "config", "ansible.builtin.template": { src: path.join(ROLE, "templates/config.yml.j2"), dest: out.config, mode: "0644" } },
        ],
      },
    ]),
  );
  const extra = path.join(dir, "render-vars.json");
  writeFileSync(extra, JSON.stringify({ airgap_nginx_tls_profile: out.tls, ...vars }));
  must("ansible-playbook", ["-i", "localhost,", "-c", "local", playbook, "-e", `@${extra}`], {
    env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
  });
  return out;
}

/** nginx run by hand with `include`d files inside http{}, workers as www-data. */
export async function startNginx(dir: string, include: string, port: number): Promise<Proc> {
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, "nginx.conf");
  const pidFile = path.join(dir, "nginx.pid");
  writeFileSync(
    conf,
    `user www-data;\nworker_processes 2;\npid ${pidFile};\nerror_log ${path.join(dir, "error.log")};\nevents {}\nhttp {\n    include /etc/nginx/mime.types;\n    include ${include};\n}\n`,
  );
  must("nginx", ["-t", "-q", "-c", conf, "-p", dir]);
  must("nginx", ["-c", conf, "-p", dir]);
  await waitForPort(port);
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  running.add(pid);
  return { pid, stop: () => stopPid(pid, "SIGQUIT") };
}

/**
 * The site registry as the role sets it up, on 127.0.0.1: distribution on its
 * unix socket (in a 2710 folder of group www-data, socket 0770, as the role
 * makes them), nginx from the role's template in front (TLS from `ca`, the
 * role tool's htpasswd file), accounts `pusher` (push) and `puller` (pull).
 */
export interface SiteRegistry {
  /** `127.0.0.1:<port>`, as clients name it. */
  host: string;
  port: number;
  /** distribution's unix socket, behind nginx. */
  socket: string;
  dir: string;
  ca: Ca;
  push: { user: string; password: string; authFile: string };
  pull: { user: string; password: string; authFile: string };
  accessLog: string;
  stop(): Promise<void>;
}

export async function startSiteRegistry(dir: string, ca: Ca, o: { bcryptCost?: number } = {}): Promise<SiteRegistry> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const port = await freePort();
  // The socket's folder as the role makes it: owner the registry (root here), group nginx's workers, 2710.
  const run = path.join(dir, "run");
  mkdirSync(run, { recursive: true });
  must("chown", ["root:www-data", run]);
  chmodSync(run, 0o2710);
  const socket = path.join(run, "registry.sock");
  const cert = issue(ca, `site-${port}`, ["registry.test"]);
  chmodSync(cert.key, 0o600);
  const etc = path.join(dir, "etc");
  const logs = path.join(dir, "logs");
  mkdirSync(etc, { recursive: true });
  mkdirSync(logs, { recursive: true });
  const users = [
    { name: "pusher", access: "push", password: "push-secret-123" },
    { name: "puller", access: "pull", password: "pull-secret-456" },
  ];
  const rendered = renderRole(dir, {
    airgap_registry_address: "127.0.0.1",
    airgap_registry_port: port,
    airgap_registry_socket: socket,
    airgap_registry_names: ["registry.test"],
    airgap_registry_allow: [],
    airgap_registry_users: users,
    airgap_registry_storage: path.join(dir, "storage"),
    airgap_registry_certificate: cert.crt,
    airgap_registry_certificate_key: cert.key,
    airgap_registry_config_file: path.join(etc, "config.yml"),
    airgap_nginx_log_dir: logs,
    airgap_registry_log_level: "warn",
  });
  must("python3", [TOOL, "check-config", rendered.config]);
  must("python3", [TOOL, "htpasswd", path.join(etc, "htpasswd"), String(o.bcryptCost ?? 5), "www-data"], { input: JSON.stringify(users) });
  const registry = await startRegistry({ dir: path.join(dir, "backend"), port: 0, socket, config: readFileSync(rendered.config, "utf8") });
  let nginx: Proc;
  try {
    nginx = await startNginx(path.join(dir, "nginx"), rendered.nginx, port);
  } catch (err) {
    await registry.stop();
    throw err;
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    port,
    socket,
    dir,
    ca,
    push: { user: "pusher", password: users[0].password, authFile: authFile(dir, host, "pusher", users[0].password) },
    pull: { user: "puller", password: users[1].password, authFile: authFile(dir, host, "puller", users[1].password) },
    accessLog: path.join(logs, "airgap-registry.access.log"),
    async stop() {
      await nginx.stop();
      await registry.stop();
    },
  };
}

/** An upstream registry (TLS from `ca`) holding `images`, built here: `[layout tag, path:tag upstream]`. */
export async function startUpstream(dir: string, ca: Ca, specs: ImageSpec[], names: [string, string][], o: { port?: number; baseBytes?: number } = {}) {
  const port = o.port ?? (await freePort());
  const cert = issue(ca, `upstream-${port}`);
  const registry = await startRegistry({ dir: path.join(dir, "upstream"), port, tls: cert });
  try {
    const layout = buildImages(path.join(dir, "build"), specs, o.baseBytes);
    await pushAll(layout, `127.0.0.1:${port}`, ca.certDir, names);
    return { host: `127.0.0.1:${port}`, layout, registry };
  } catch (err) {
    await registry.stop();
    throw err;
  }
}

