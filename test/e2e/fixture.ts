/**
 * The end-to-end fixture: the lab (test/lab/lab.sh), then the compiled
 * runbook of the lab site walked step by step (walk.ts): on the bastion (this
 * machine) keygen, compile, `airgap bundle` from Debian's mirror signed and
 * exported, `airgap check`, the carry onto "media" (a folder); on the
 * controller (this machine's root namespace, on the site network, in a
 * shell of its own with its own HOME) unload, `airgap import` into the
 * site's store, the secrets typed, ping, the first run of `site.yml` and the
 * health checks (`site.yml --check`, time and names asked from every host).
 * `labRun()` does it once per mocha process, whatever number of test files
 * call it; checks then ask real clients on the lab's hosts (`lab.ssh`).
 *
 * The lab adds to the runbook's commands only its stand-ins for the
 * Internet (`airgap bundle --files-from`, `--include-base`, `--cert-dir`; and
 * `--split 32M` so that the import reads chunks) and `--no-kit`; it skips the
 * controller's kit (this machine's own Ansible and airgap run the tests;
 * test/bundle/kit.test.ts walks that step) and the Kubespray steps (the venv
 * needs a controller that is a host of the site; cluster.yml has its own
 * test, kubespray-cluster.test.ts).
 *
 * Environment:
 *   AIRGAP_E2E_DIR   work folder (keys, bundle, transfer, media, the
 *                    controller's home, logs); default /var/tmp/airgap-e2e.
 *                    The bundle folder is kept between runs (`airgap bundle`
 *                    skips what it already holds); the key pair, the media
 *                    and the controller's copy are made afresh each run.
 *   AIRGAP_E2E_KEEP  1: leave the lab up after the tests (to look around).
 *   AIRGAP_E2E       1: run the lab tests whatever mocha was asked; 0: never.
 *                    Unset: they run with the whole suite (`npm test`) or
 *                    `--grep @lab` (`npm run test:e2e`), but not when mocha is
 *                    given test files none of which is an e2e one: .mocharc's
 *                    spec adds every test file to `mocha some.test.js`, and
 *                    that must not bring the lab up under someone's feet.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readPrivateKey, signBytes } from "../../bundle/sign.js";
import { CLI, ROOT } from "../helpers.js";
import { startLabUpstream } from "./upstream.js";
import type { StepPlace } from "../../compile/emit/runbook.js";
import { walkRunbook, type WalkedStep, type WalkOptions } from "./walk.js";

/** The lab's site as the repository has it; the tests use SITE, its copy naming the run's trusted bundle key. */
export const EXAMPLE_SITE = path.join(ROOT, "examples/lab.ts");
export const LAB_SH = path.join(ROOT, "test/lab/lab.sh");
/** Local mirror of the site's plain files, laid out as `<host>/<path>`. */
export const FILES_MIRROR = path.join(ROOT, "test/e2e/mirror");
/** The lab site's Python package source (examples/lab.ts), written by test/bundle/make_wheels.py. */
export const WHEELHOUSE = path.join(ROOT, "test/e2e/wheelhouse");
export const WORK = process.env.AIRGAP_E2E_DIR ?? "/var/tmp/airgap-e2e";
/** The bastion's copy of the lab site, naming the run's trusted key; the runbook's bastion steps run in its folder. */
export const SITE = path.join(WORK, "lab.ts");
/** The bastion's side, as the runbook names it from the site's folder: the key pair, the bundle folder, the transfer file (in chunks). */
export const KEYS = path.join(WORK, "keys");
export const BUNDLE = path.join(WORK, "bundle");
export const TRANSFER = path.join(WORK, "transfer/lab.tar");
/** The removable media the runbook's carry step fills (`$MEDIA`). */
export const MEDIA = path.join(WORK, "media");
/** The controller's HOME: the runbook unloads into `~/airgap-lab`. */
export const CONTROLLER_HOME = path.join(WORK, "controller");
/** The site's side: the store `airgap import` filled on the controller, and the controller's copy of the compiled project. */
export const STORE = path.join(CONTROLLER_HOME, "airgap-lab/store");
export const PROJECT = path.join(CONTROLLER_HOME, "airgap-lab/project");
/** `airgap` on the PATH of both machines: a shim running this checkout's CLI. */
export const BIN = path.join(WORK, "bin");

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command without a shell; output kept (and appended to `log` when given). */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log?: string; input?: string } = {}): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const piped = opts.input !== undefined;
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: [piped ? "pipe" : "ignore", "pipe", "pipe"] });
    const log = opts.log ? createWriteStream(opts.log, { flags: "a" }) : undefined;
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => {
      stdout += b.toString();
      log?.write(b);
    });
    child.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString();
      log?.write(b);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      log?.end();
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
    if (child.stdin) {
      // A command that exits without reading its input must not fail the test with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${((ms % 60_000) / 1000).toFixed(1).padStart(4, "0")}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** Phase timings, printed as they end and listed at the end of the run. */
export const phases: { name: string; ms: number }[] = [];
export function phase(name: string, ms: number): void {
  phases.push({ name, ms });
  console.log(`      e2e phase: ${name.padEnd(34)} ${seconds(ms).padStart(9)}`);
}

/** The lab's env file (`export NAME='value'` lines), as a map. */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)='(.*)'$/.exec(line);
    if (m) env[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return env;
}

/** One host's line of a PLAY RECAP. */
export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** The PLAY RECAP of an ansible-playbook output, per host. */
export function parseRecap(output: string): Map<string, Recap> {
  const at = output.lastIndexOf("PLAY RECAP");
  const recap = new Map<string, Recap>();
  if (at < 0) return recap;
  for (const line of output.slice(at).split("\n").slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const counts = Object.fromEntries([...m[2].matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1], Number(x[2])]));
    recap.set(m[1], counts as unknown as Recap);
  }
  return recap;
}

/** Seconds per role, from the summary of the ansible.posix.profile_roles callback (empty without it). */
export function roleTimes(output: string): [string, number][] {
  const at = output.lastIndexOf("PLAY RECAP");
  const times: [string, number][] = [];
  let inside = false;
  for (const line of output.slice(Math.max(at, 0)).split("\n")) {
    if (/^=+\s*$/.test(line)) inside = true;
    else if (/^~+\s*$/.test(line)) break;
    else if (inside) {
      const m = /^(\S+) -+ ([\d.]+)s$/.exec(line.trim());
      if (m) times.push([m[1], Number(m[2])]);
    }
  }
  return times;
}

/** A task's status for a host in an ansible-playbook output ("ok", "changed", "skipping", "failed", …), or undefined. */
export function taskStatus(output: string, task: string, host: string): string | undefined {
  const lines = output.split("\n");
  const at = lines.findIndex((l) => l.startsWith(`TASK [${task}]`));
  if (at < 0) return undefined;
  for (const line of lines.slice(at + 1)) {
    if (/^(TASK|RUNNING HANDLER|PLAY) \[/.test(line)) return undefined;
    const m = /^(\w+): \[([^\]]+)\]/.exec(line);
    if (m && m[2].split(" -> ")[0] === host) return m[1];
  }
  return undefined;
}

export function formatRecap(recap: Map<string, Recap>): string {
  return [...recap].map(([h, r]) => `${h}: ok=${r.ok} changed=${r.changed} failed=${r.failed} unreachable=${r.unreachable}`).join("; ");
}

export interface PlaybookRun extends Result {
  recap: Map<string, Recap>;
  log: string;
}

export class Lab {
  readonly env: Record<string, string>;
  readonly hosts: string[];

  constructor(envFile: string) {
    this.env = readEnvFile(envFile);
    this.hosts = (this.env.AIRGAP_LAB_HOSTS ?? "").split(/\s+/).filter(Boolean);
  }

  address(host: string): string {
    const a = this.env[`AIRGAP_LAB_ADDR_${host}`];
    if (!a) throw new Error(`the lab has no host ${host}`);
    return a;
  }

  /** Runs a command on a lab host as root over SSH (key and known_hosts of the lab). */
  ssh(host: string, command: string, input?: string): Promise<Result> {
    const args = [...this.env.AIRGAP_LAB_SSH_ARGS.split(/\s+/).filter(Boolean), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", `root@${this.address(host)}`, command];
    return run("ssh", args, { input });
  }

  /** Like `ssh`, but fails unless the command exits 0; returns its stdout. */
  async sh(host: string, command: string): Promise<string> {
    const r = await this.ssh(host, command);
    if (r.code !== 0) throw new Error(`${host}: \`${command}\` exited ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /**
   * Installs packages on a host from the site's repository (the site's
   * `repos.packages` are carried in the bundle, not installed: a check that
   * needs a client such as dig installs it first).
   */
  async install(host: string, ...names: string[]): Promise<void> {
    await this.sh(host, `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${names.join(" ")}`);
  }

  /**
   * The HTTP status a host gets for an HTTPS URL, certificate unchecked (for
   * a host outside the site: it trusts no site CA and has no site DNS, so it
   * asks by address). Throws when there is no HTTP answer at all.
   */
  async httpsStatus(host: string, url: string): Promise<number> {
    const py = `import ssl, urllib.request, urllib.error
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
try:
    print(urllib.request.urlopen(${JSON.stringify(url)}, context=ctx, timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)`;
    const r = await this.ssh(host, "python3 -", py);
    if (r.code !== 0 || !/^\d{3}$/.test(r.stdout.trim())) throw new Error(`${host}: no HTTP answer from ${url}: ${r.stdout}${r.stderr}`);
    return Number(r.stdout.trim());
  }

  /** ansible-playbook in the compiled project, connecting with the lab's key and known_hosts; the store (or another bundle folder) passed unless null. */
  async playbook(name: string, playbook: string, extra: string[] = [], bundle: string | null = STORE, project = PROJECT): Promise<PlaybookRun> {
    const log = path.join(WORK, `${name}.log`);
    writeFileSync(log, "");
    const env = { ...process.env, ...ansibleEnv(this) };
    const args = [playbook, ...(bundle ? ["-e", `airgap_repo_server_bundle=${bundle}`] : []), ...extra];
    const r = await run("ansible-playbook", args, { cwd: project, env, log });
    const times = roleTimes(r.stdout);
    if (times.length > 0) console.log(`      e2e roles, ${name}: ${times.map(([role, sec]) => `${role} ${sec.toFixed(1)}s`).join(", ")}`);
    return { ...r, recap: parseRecap(r.stdout), log };
  }
}

export interface LabRunResult {
  lab: Lab;
  /** The first run of the compiled site.yml (the runbook's `site` step). */
  first: PlaybookRun;
  /** Every step of the walked runbook, with its output (skipped ones with their reason). */
  walk: WalkedStep[];
  /** The bundle's manifest. */
  manifest: { site: string; artifacts: { kind: string; name: string; path: string; sha256: string; size: number }[] };
}

/** Whether this mocha process was asked for the lab tests (see AIRGAP_E2E above). */
export function labRequested(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.AIRGAP_E2E === "1") return true;
  if (env.AIRGAP_E2E === "0") return false;
  const args = argv.slice(2);
  const files = args.flatMap((a) => (a.startsWith("--spec=") ? [a.slice(7)] : a.startsWith("-") ? [] : [a])).filter((a) => /\.[cm]?[jt]s$/.test(a));
  return files.length === 0 || files.some((f) => f.split(/[\\/]/).includes("e2e"));
}

/**
 * For a `before` hook: skips the suite unless the lab tests were asked for,
 * else sets everything up (once) and returns it.
 *
 *   before(async function () { site = await labBefore(this); });
 */
export async function labBefore(ctx: Mocha.Context): Promise<LabRunResult> {
  ctx.timeout(SETUP_TIMEOUT);
  if (!labRequested()) ctx.skip();
  return labRun();
}

let once: Promise<LabRunResult> | undefined;

/**
 * Lab up, bundle, compile, first run of site.yml: once per process. Rejects
 * (with the tail of the output) when any step fails, the first run included.
 */
export function labRun(): Promise<LabRunResult> {
  once ??= setUp();
  return once;
}

/** Milliseconds for a `before` hook that calls labRun(). */
export const SETUP_TIMEOUT = 15 * 60_000;

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

async function step(name: string, cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<Result> {
  const r = await run(cmd, args, { ...opts, log: path.join(WORK, "setup.log") });
  phase(name, r.ms);
  if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${tail(r.stdout + r.stderr)}`);
  return r;
}

/** The lab's ANSIBLE_* settings (key, known_hosts) and plain output, for the controller's shell and `Lab.playbook`. */
function ansibleEnv(lab: Lab): Record<string, string> {
  return {
    ...Object.fromEntries(Object.entries(lab.env).filter(([k]) => k.startsWith("ANSIBLE_"))),
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
    ANSIBLE_RETRY_FILES_ENABLED: "0",
    // Time per role at the end of the output (Debian's ansible package ships ansible.posix).
    ANSIBLE_CALLBACKS_ENABLED: "ansible.posix.profile_roles",
  };
}

async function setUp(): Promise<LabRunResult> {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root (namespaces, mounts, nspawn)");
  mkdirSync(WORK, { recursive: true });
  writeFileSync(path.join(WORK, "setup.log"), "");
  await step("lab up", LAB_SH, ["up"]);
  const envFile = path.join(process.env.AIRGAP_LAB_DIR ?? "/var/lib/airgap-lab", "lab.env");
  if (!existsSync(envFile)) throw new Error(`lab.sh up wrote no ${envFile}`);
  const lab = new Lab(envFile);
  // The registry's accounts (examples/lab.ts reads them from the environment):
  // the operator types them at the runbook's secrets step; no shell inherits them.
  process.env.AIRGAP_LAB_REGISTRY_PUSH_PASSWORD ??= randomBytes(18).toString("base64url");
  process.env.AIRGAP_LAB_REGISTRY_PULL_PASSWORD ??= randomBytes(18).toString("base64url");
  const secrets = ["AIRGAP_LAB_REGISTRY_PUSH_PASSWORD", "AIRGAP_LAB_REGISTRY_PULL_PASSWORD"];
  // The site's Python packages come from a wheelhouse of tiny test wheels (examples/lab.ts).
  await step("test wheels", "python3", [path.join(ROOT, "test/bundle/make_wheels.py"), WHEELHOUSE]);
  for (const d of [KEYS, MEDIA, CONTROLLER_HOME, path.dirname(TRANSFER)]) rmSync(d, { recursive: true, force: true });
  // The controller's home exists, as an operator's does; the runbook makes the rest.
  mkdirSync(CONTROLLER_HOME, { recursive: true });
  mkdirSync(BIN, { recursive: true });
  writeFileSync(path.join(BIN, "airgap"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`, { mode: 0o755 });
  const shellEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, MEDIA, ...extra };
    for (const name of [...secrets, "KUBESPRAY_DIR"]) delete env[name];
    return env;
  };
  const walkEnv = { bastion: shellEnv({}), controller: shellEnv({ HOME: CONTROLLER_HOME, ...ansibleEnv(lab) }) };
  const log = path.join(WORK, "walk.log");
  writeFileSync(log, "");
  // The copy lives elsewhere: the example's relative paths ("../test/…") become absolute.
  const example = readFileSync(EXAMPLE_SITE, "utf8").replace(/"(\.\.?\/[^"]*)"/g, (_, rel: string) => JSON.stringify(path.resolve(path.dirname(EXAMPLE_SITE), rel)));
  // First as the operator starts: a site that trusts no key yet; its runbook's first step makes the pair.
  writeFileSync(SITE, example);
  await step("airgap compile (no key yet)", process.execPath, [CLI, "compile", SITE, "-o", path.join(WORK, "project")]);
  await walk(path.join(WORK, "project/README.md"), walkEnv, log, { only: ["keygen"] });
  // Then the site names it (services.repos.trustedKey), as that step says.
  const site = example.replace("repos: {\n", `repos: {\n      trustedKey: ${JSON.stringify(path.join(KEYS, "airgap-bundle.pub"))},\n`);
  if (!site.includes("trustedKey")) throw new Error(`${EXAMPLE_SITE} no longer has the "repos: {" line the fixture adds the trusted key to`);
  writeFileSync(SITE, site);
  await step("airgap compile (the runbook to walk)", process.execPath, [CLI, "compile", SITE, "-o", path.join(WORK, "project")]);
  // The site's images come from a throwaway registry on this machine's
  // loopback (test/e2e/upstream.ts), up only while the bundle is made.
  const upstream = await startLabUpstream(path.join(WORK, "upstream"));
  let stopped = false;
  const stopUpstream = async () => {
    if (!stopped) await upstream.stop();
    stopped = true;
  };
  let steps: WalkedStep[];
  try {
    steps = await walk(path.join(WORK, "project/README.md"), walkEnv, log, {
      input: Object.fromEntries(secrets.map((n) => [n, process.env[n]!])),
      extra: { bundle: { "airgap bundle": ["--files-from", FILES_MIRROR, "--include-base", "--cert-dir", upstream.certDir, "--split", "32M", "--no-kit"] } },
      skip: {
        kit: "the lab's controller is this machine's root namespace, whose own Ansible and airgap run the tests (the bundle is made with --no-kit); test/bundle/kit.test.ts walks carry, unload, kit and import with a controller of its own",
        "kubespray-venv": "the lab's controller is the root namespace, not a host of the site (no site names, no site CA); pypi.test.ts installs the requirement from the index on a site host",
      },
      // The image registry is needed by the bundle step only.
      after: { bundle: stopUpstream },
    });
  } finally {
    await stopUpstream();
  }
  const site1 = steps.find((s) => s.id === "site");
  if (!site1?.stdout) throw new Error("the walked runbook has no site step");
  const first: PlaybookRun = { code: site1.code!, stdout: site1.stdout, stderr: site1.stderr ?? "", ms: site1.ms!, recap: parseRecap(site1.stdout), log };
  console.log(`      e2e recap, first run: ${formatRecap(first.recap)}`);
  const manifest = JSON.parse(readFileSync(path.join(STORE, "manifest.json"), "utf8")) as LabRunResult["manifest"];
  return { lab, first, manifest, walk: steps };
}

/** Walks the compiled runbook (walk.ts), a phase per step. */
async function walk(readme: string, env: Record<StepPlace, NodeJS.ProcessEnv>, log: string, o: { only?: string[]; input?: Record<string, string>; extra?: WalkOptions["extra"]; skip?: Record<string, string>; after?: Record<string, () => Promise<void>> }): Promise<WalkedStep[]> {
  return walkRunbook({
    readme,
    start: { bastion: path.dirname(SITE), controller: CONTROLLER_HOME },
    env,
    log,
    only: o.only,
    input: o.input,
    extra: o.extra,
    skip: o.skip,
    onStep: async (s, r) => {
      if (r.skipped) console.log(`      e2e runbook step ${s.id} (${s.on}) skipped: ${r.skipped}`);
      else phase(`runbook ${s.id} (${s.on})`, r.ms ?? 0);
      if (r.stdout && /^PLAY RECAP/m.test(r.stdout)) {
        const times = roleTimes(r.stdout);
        if (times.length > 0) console.log(`      e2e roles, ${s.id}: ${times.map(([role, sec]) => `${role} ${sec.toFixed(1)}s`).join(", ")}`);
      }
      await o.after?.[s.id]?.();
    },
  });
}

/** Signs a bundle folder's manifest.json with the run's key (tests that write a bundle of their own). */
export async function signBundle(dir: string, keyFile = path.join(KEYS, "airgap-bundle.key")): Promise<void> {
  const text = readFileSync(path.join(dir, "manifest.json"));
  rmSync(path.join(dir, "manifest.json.sig"), { force: true });
  writeFileSync(path.join(dir, "manifest.json.sig"), signBytes(text, await readPrivateKey(keyFile)));
}

/** Brings the lab down (unless AIRGAP_E2E_KEEP=1) and lists the phases. */
export async function labDown(): Promise<void> {
  if (!once) return;
  if (process.env.AIRGAP_E2E_KEEP !== "1") {
    const r = await run(LAB_SH, ["down"]);
    phase("lab down", r.ms);
  }
  const total = phases.reduce((n, p) => n + p.ms, 0);
  console.log(`      e2e phases: ${phases.map((p) => `${p.name} ${seconds(p.ms)}`).join(", ")}; total ${seconds(total)}`);
}

// A root hook (this module is imported by mocha test files only): after the
// last test of the process, whichever file set the lab up.
if (typeof after === "function") {
  after(async function () {
    this.timeout(2 * 60_000);
    await labDown();
  });
}
