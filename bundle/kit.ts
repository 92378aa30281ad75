/**
 * The controller's kit in the bundle (artifact kind `kit`, under `kit/`;
 * compile/kit.ts says what it is for and docs/controller-kit.md how it is
 * installed inside):
 *
 * - `kit/python/<file>`: PyPI's `ansible` (the site's Kubespray pin, else
 *   DEFAULT_ANSIBLE: ansible-core with the collections the compiled roles use)
 *   and `pip`, with their dependencies, resolved by pip like the site's other
 *   wheels (bundle/wheels.ts) for the CPython and machine of the controller
 *   (`kitHost`), from `--kit-index` / `$AIRGAP_KIT_INDEX`, default PyPI.
 *   pip's report gives each file's SHA-256; the downloader verifies it.
 * - `kit/node/node-linux-<arch>-<version>.tgz`: npm's build of Node.js
 *   KIT_NODE (`npm view` gives its tarball and the registry's SHA-512
 *   integrity, which the download is verified against).
 * - `kit/airgap/airgap-<version>.tgz`: this airgap, `npm pack`ed, with its
 *   production dependencies installed by `npm ci --omit=dev` from the
 *   package lock, tarred deterministically (GNU tar: sorted names, mtime 0,
 *   owner 0; gzip by Node's zlib), made in a scratch folder and entered into
 *   the store from there.
 *
 * Galaxy (galaxy.ansible.com) is not used: the collections come inside PyPI's
 * `ansible` package, which every bastion that reaches PyPI can fetch and whose
 * digests PyPI publishes.
 */
import { execFile, spawn } from "node:child_process";
import { copyFileSync, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { pipeline } from "node:stream/promises";
import { createGzip, constants as zlib } from "node:zlib";
import { PYTHON_BY_RELEASE } from "../compile/components/pypi.js";
import { KIT_DIR, KIT_NODE, kitAnsible, kitHost, nodePackage } from "../compile/kit.js";
import type { SynthSite } from "../compile/synth.js";
import type { Planned } from "./bundle.js";
import { hashFile } from "./store.js";
import { platformTags, resolveTarget, type WheelTarget } from "./wheels.js";

const exec = promisify(execFile);

/** This package's folder (package.json, package-lock.json, dist/). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Where the kit's wheels come from unless told otherwise. */
export const DEFAULT_KIT_INDEX = "https://pypi.org/simple/";

/** The kit cannot be made: what and why, and what to do. */
export class KitError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface KitOptions {
  /** The index the kit's wheels come from. @default $AIRGAP_KIT_INDEX, else https://pypi.org/simple/ */
  index?: string;
  /** The Python that runs pip. @default $AIRGAP_PYTHON, else python3 */
  python?: string;
  /** The npm that packs airgap and asks the registry. @default $AIRGAP_NPM, else npm */
  npm?: string;
  env?: NodeJS.ProcessEnv;
  log: { info(s: string): void };
}

/** The kit's artifacts (kind `kit`), and the scratch folder holding airgap's archive until the store has it. */
export interface PlannedKit {
  artifacts: Planned[];
  scratch: string;
}

/** `npm ARGS` in `cwd`; its stdout. Throws a KitError with npm's last lines. */
async function npm(o: KitOptions, args: string[], cwd: string): Promise<string> {
  const env = o.env ?? process.env;
  const bin = o.npm ?? env.AIRGAP_NPM ?? "npm";
  try {
    const r = await exec(bin, args, { cwd, env: { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" }, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } catch (err) {
    const e = err as { code?: string | number; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new KitError(`${bin} is not on this machine: airgap bundle packs airgap and fetches Node.js with npm for the controller's kit`, "install npm, name it with AIRGAP_NPM, or bundle with --no-kit");
    throw new KitError(`${bin} ${args.join(" ")} failed:\n  ${(e.stderr ?? e.message).trim().split("\n").slice(-6).join("\n  ")}`, "the npm registry must be reachable from the bastion (npm's own proxy and registry settings apply); or bundle with --no-kit");
  }
}

/** The registry's SHA-512 integrity (`sha512-<base64>`) as hex. */
export function integrityHex(integrity: string): string {
  const m = /^sha512-([A-Za-z0-9+/=]+)$/.exec(integrity.trim().split(/\s+/)[0] ?? "");
  if (!m) throw new KitError(`the npm registry gives no sha512 integrity (${JSON.stringify(integrity)})`);
  return Buffer.from(m[1], "base64").toString("hex");
}

/** Node.js for the controller: npm's `node-linux-<arch>` package, pinned by the registry's SHA-512. */
async function planNode(arch: "amd64" | "arm64", o: KitOptions): Promise<Planned> {
  const name = nodePackage(arch);
  const dist = JSON.parse(await npm(o, ["view", `${name}@${KIT_NODE}`, "dist", "--json"], os.tmpdir())) as { tarball?: string; integrity?: string };
  if (!dist.tarball || !dist.integrity) throw new KitError(`the npm registry has no ${name}@${KIT_NODE} (no tarball or integrity)`);
  return {
    kind: "kit",
    name,
    version: KIT_NODE,
    arch,
    source: dist.tarball,
    path: `${KIT_DIR}/node/${name}-${KIT_NODE}.tgz`,
    sha256: "",
    fetchUrl: dist.tarball,
    pin: { sha512: integrityHex(dist.integrity) },
  };
}

/**
 * This airgap with its production dependencies, as a deterministic .tgz in
 * `scratch` (top folder `package/`, as npm's own tarballs): `npm pack`, then
 * `npm ci --omit=dev --ignore-scripts` in the unpacked package with this
 * package's lock (without a lock, `npm install --omit=dev`, said on the log).
 */
async function packAirgap(scratch: string, o: KitOptions): Promise<Planned> {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { name: string; version: string };
  const packed = JSON.parse(await npm(o, ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], PACKAGE_ROOT)) as { filename: string }[];
  const work = path.join(scratch, "work");
  await exec("mkdir", ["-p", work]);
  await exec("tar", ["-xzf", path.join(scratch, packed[0].filename), "-C", work]);
  const dir = path.join(work, "package");
  const lock = path.join(PACKAGE_ROOT, "package-lock.json");
  if (existsSync(lock)) {
    copyFileSync(lock, path.join(dir, "package-lock.json"));
    await npm(o, ["ci", "--omit=dev", "--ignore-scripts", "--no-bin-links"], dir);
  } else {
    o.log.info(`note: ${PACKAGE_ROOT} has no package-lock.json: airgap's dependencies in the kit are the newest that package.json allows`);
    await npm(o, ["install", "--omit=dev", "--ignore-scripts", "--no-bin-links", "--no-package-lock"], dir);
  }
  const file = path.join(scratch, `${pkg.name}-${pkg.version}.tgz`);
  const tar = spawn("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--mode=a+rX,u+w,go-w", "--format=gnu", "-cf", "-", "-C", work, "package"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  tar.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    tar.on("error", reject);
    tar.on("close", (code) => resolve(code ?? -1));
  });
  await pipeline(tar.stdout, createGzip({ level: zlib.Z_BEST_COMPRESSION }), createWriteStream(file));
  const code = await exited;
  if (code !== 0) throw new KitError(`tar of airgap's package failed (exit ${code}): ${stderr.trim()}`, "GNU tar 1.28 or later is needed (--sort=name)");
  const { sha256, size } = await hashFile(file);
  return {
    kind: "kit",
    name: pkg.name,
    version: pkg.version,
    source: `npm pack of ${pkg.name} ${pkg.version} with its production dependencies (npm ci --omit=dev)`,
    path: `${KIT_DIR}/airgap/${pkg.name}-${pkg.version}.tgz`,
    size,
    sha256,
    fetchUrl: pathToFileURL(file).href,
  };
}

/**
 * Plans the controller's kit for a site: its wheels (resolved by pip now),
 * Node.js (pinned by the registry's SHA-512, fetched later with the rest) and
 * airgap's archive (made now in a scratch folder). Undefined for a site
 * without hosts. Throws a KitError (npm) or a WheelError (pip).
 */
export async function planKit(site: SynthSite, o: KitOptions): Promise<PlannedKit | undefined> {
  const host = kitHost(site.core);
  if (!host) return undefined;
  const env = o.env ?? process.env;
  const py = PYTHON_BY_RELEASE[host.os.release];
  const ansible = kitAnsible(site.models.kubespray);
  const target: WheelTarget = { python: py.python, arch: host.arch, platforms: platformTags(py.glibc, host.arch), hosts: [host.name], requirements: [`ansible==${ansible}`, "pip"] };
  const index = o.index ?? env.AIRGAP_KIT_INDEX ?? DEFAULT_KIT_INDEX;
  const started = Date.now();
  const wheels = (await resolveTarget(target, { source: { url: index } }, o.python ?? env.AIRGAP_PYTHON ?? "python3", env, o.log)).map(
    (w): Planned => ({ ...w, kind: "kit", path: `${KIT_DIR}/python/${path.posix.basename(w.path)}` }),
  );
  o.log.info(`controller's kit: ansible ${ansible} and pip for CPython ${py.python} ${host.arch} (as ${host.name}): ${wheels.length} distributions from ${index}, resolved by pip in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const node = await planNode(host.arch, o);
  const scratch = await mkdtemp(path.join(os.tmpdir(), "airgap-kit-"));
  try {
    const t0 = Date.now();
    const airgap = await packAirgap(scratch, o);
    o.log.info(`controller's kit: ${path.posix.basename(airgap.path)} (npm pack + npm ci --omit=dev), ${airgap.size} bytes, sha256 ${airgap.sha256} (${((Date.now() - t0) / 1000).toFixed(1)} s); Node.js ${KIT_NODE} (${node.name})`);
    return { artifacts: [...wheels, node, airgap], scratch };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}
