/**
 * The Python packages of the bundle (artifact kind `wheel`): the site's
 * `pypi.packages` with their dependencies, for the CPython and platform of
 * each host whose pip uses the site index, plus devpi-server for the index
 * host in devpi mode.
 *
 * pip itself resolves: `pip install --dry-run --report` with `--only-binary
 * :all: --platform … --python-version … --implementation cp` against the
 * site's source (an index, or a wheelhouse folder with `--no-index
 * --find-links`). Its report names each distribution's URL and SHA-256; the
 * bundle's downloader then fetches them into the store and verifies them,
 * like every other artifact. A requirement the site lists that has no wheel
 * for a target is carried as its sdist (docs/pypi.md says what that costs).
 * devpi's own venv is different: a dependency of devpi that its source has
 * only as an sdist (devpi-web's pyramid-chameleon on PyPI) is built into a
 * wheel here with `pip wheel`, accepted only when pure Python
 * (`py3-none-any`), and its manifest entry says so (`built`: the sdist's URL
 * and SHA-256, the tool).
 */
import { execFile } from "node:child_process";
import { httpFetch } from "./http.js";
import { createWriteStream, existsSync, readdirSync, statSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { devpiRequirements, normalizeProject, PYTHON_BY_RELEASE, type PypiModel } from "../compile/components/pypi.js";
import type { Planned } from "./bundle.js";
import type { BuiltFrom } from "./manifest.js";
import { compareText } from "../compile/model/context.js";
import { hashFile } from "./store.js";

const exec = promisify(execFile);

/** Resolution failed: what and why, and what to do. */
export class WheelError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** One pip resolution: a CPython version and platform, the hosts that share it, what they need. */
export interface WheelTarget {
  python: string;
  arch: "amd64" | "arm64";
  /** `--platform` tags, newest first: manylinux up to the release's glibc, then the legacy names. */
  platforms: string[];
  hosts: string[];
  requirements: string[];
  /** What the resolution is for when not the hosts' pip: `devpi` (devpi's own venv on the index host). */
  venv?: "devpi";
}

const MACHINE = { amd64: "x86_64", arm64: "aarch64" } as const;

/** The manylinux tags a host accepts (pip does not expand `manylinux_2_36` to older ones itself). */
export function platformTags(glibc: [number, number], arch: "amd64" | "arm64"): string[] {
  const m = MACHINE[arch];
  const oldest = m === "x86_64" ? 5 : 17;
  const tags: string[] = [];
  for (let minor = glibc[1]; minor >= oldest; minor--) tags.push(`manylinux_${glibc[0]}_${minor}_${m}`);
  tags.push(`manylinux2014_${m}`);
  if (m === "x86_64") tags.push("manylinux2010_x86_64", "manylinux1_x86_64");
  tags.push(`linux_${m}`);
  return tags;
}

/** The resolutions the site needs: its clients' (python, arch) pairs, and devpi-server for the index host. */
/**
 * The pip targets (CPython version × machine) with their requirements: the
 * site's packages for every pip client; `controller` (other services' needs,
 * Kubespray's controller kit) for the index host's own CPython.
 */
export function wheelTargets(m: PypiModel, controller: string[] = []): WheelTarget[] {
  const byKey = new Map<string, WheelTarget>();
  const add = (host: PypiModel["host"], requirements: string[]) => {
    if (requirements.length === 0) return;
    const py = PYTHON_BY_RELEASE[host.os.release];
    const key = `${py.python}/${host.arch}`;
    const t = byKey.get(key) ?? { python: py.python, arch: host.arch, platforms: platformTags(py.glibc, host.arch), hosts: [], requirements: [] };
    if (!t.hosts.includes(host.name)) t.hosts.push(host.name);
    for (const r of requirements) if (!t.requirements.includes(r)) t.requirements.push(r);
    byKey.set(key, t);
  };
  for (const h of m.clients) add(h, m.packages);
  add(m.host, controller);
  const targets = [...byKey.entries()].sort(([a], [b]) => compareText(a, b)).map(([, t]) => t);
  // devpi's own server, installed from the bundle into its own venv: resolved
  // on its own, so the site's packages and devpi's never have to agree on a version.
  if (m.mode === "devpi") {
    const py = PYTHON_BY_RELEASE[m.host.os.release];
    targets.push({ python: py.python, arch: m.host.arch, platforms: platformTags(py.glibc, m.host.arch), hosts: [m.host.name], requirements: devpiRequirements(m), venv: "devpi" });
  }
  return targets;
}

interface ReportItem {
  metadata: { name: string; version: string };
  download_info: { url: string; archive_info?: { hash?: string; hashes?: Record<string, string> } };
}

/** Where pip resolves from: an index URL, a wheelhouse folder, or both (the site's `pypi.source`, or the kit's index). */
export type WheelSource = Pick<PypiModel, "source">;

export interface WheelOptions {
  /** Requirements other services need in the index (Kubespray's controller), for the index host's CPython. */
  controller?: string[];
  /** The Python that runs pip. @default $AIRGAP_PYTHON, else python3 */
  python?: string;
  env?: NodeJS.ProcessEnv;
  log: { info(s: string): void };
  /**
   * Receives the scratch folder holding wheels built here (devpi's sdist-only
   * dependencies), which the store copies from: the caller removes it once
   * the store has them. Without it, such a dependency is refused.
   */
  scratch?: string[];
}

function sourceArgs(m: WheelSource): string[] {
  return [...(m.source.url !== undefined ? ["--index-url", m.source.url] : ["--no-index"]), ...(m.source.dir !== undefined ? ["--find-links", m.source.dir] : [])];
}

function describeSource(m: WheelSource): string {
  return [m.source.url, m.source.dir !== undefined ? `the wheelhouse ${m.source.dir}` : undefined].filter(Boolean).join(" and ");
}

/**
 * The environment pip runs in: the site's source only. pip's own sources from
 * the bastion's environment or pip.conf (`PIP_FIND_LINKS`, extra indexes) are
 * emptied, so nothing the site does not name enters the bundle.
 */
function pipEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, PIP_NO_INPUT: "1", PIP_FIND_LINKS: "", PIP_EXTRA_INDEX_URL: "" };
  delete out.PIP_INDEX_URL;
  delete out.PIP_NO_INDEX;
  return out;
}

/**
 * pip, run so that Requires-Python is checked against the target's CPython.
 * `pip install --python-version X` uses X for wheel tags and for the
 * Requires-Python of index links, but its resolver checks each
 * distribution's own Requires-Python (its metadata: all a wheelhouse has)
 * against the Python running pip (pip 23: only `pip download` passes the
 * version to the resolver). This runs pip's own main with the resolver given
 * --python-version too, then checks every distribution of the report against
 * it with pip's own `packaging`, so that a pip where that hook no longer
 * applies still fails rather than carrying a release the target cannot run.
 * argv: the pip arguments (`install ... --report FILE ... --python-version X`).
 */
const PIP_FOR_TARGET = `
import json, sys
try:
    from pip._internal.cli.main import main
except ImportError as e:
    sys.stderr.write("%s has no pip: %s\\n" % (sys.executable, e))
    sys.exit(1)
try:
    from pip._internal.cli.req_command import RequirementCommand
    _make = RequirementCommand.make_resolver.__func__
    def _make_resolver(cls, *args, **kw):
        options = kw.get("options") if "options" in kw else (args[2] if len(args) > 2 else None)
        if kw.get("py_version_info") is None and getattr(options, "python_version", None):
            kw["py_version_info"] = options.python_version
        return _make(cls, *args, **kw)
    RequirementCommand.make_resolver = classmethod(_make_resolver)
except Exception:
    pass
code = main(sys.argv[1:])
if code == 0 and "--report" in sys.argv and "--python-version" in sys.argv:
    from pip._vendor.packaging.specifiers import SpecifierSet
    target = sys.argv[sys.argv.index("--python-version") + 1]
    with open(sys.argv[sys.argv.index("--report") + 1]) as f:
        items = json.load(f)["install"]
    bad = ["ERROR: Package %r requires a different Python: %s not in %r" % (i["metadata"]["name"], target, i["metadata"]["requires_python"])
           for i in items if i["metadata"].get("requires_python") and not SpecifierSet(i["metadata"]["requires_python"]).contains(target + ".0", prereleases=True)]
    if bad:
        sys.stderr.write("\\n".join(bad) + "\\n")
        code = 1
sys.exit(code)
`;

/** `pip install --dry-run --report`: what pip would install, with URLs and digests; throws pip's own last error lines. */
async function pipReport(python: string, args: string[], env: NodeJS.ProcessEnv): Promise<ReportItem[]> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "airgap-pip-"));
  try {
    const report = path.join(tmp, "report.json");
    // Not --quiet: pip explains a conflict ("X depends on Y") on stdout only.
    await exec(python, ["-c", PIP_FOR_TARGET, "install", "--dry-run", "--ignore-installed", "--disable-pip-version-check", "--progress-bar", "off", "--report", report, "--target", path.join(tmp, "target"), ...args], {
      env: pipEnv(env),
      maxBuffer: 64 * 1024 * 1024,
    });
    return (JSON.parse(await readFile(report, "utf8")) as { install: ReportItem[] }).install;
  } catch (err) {
    const e = err as { code?: string | number; stdout?: string; stderr?: string; message: string };
    if (e.code === "ENOENT") throw new WheelError(`${python} is not on this machine: airgap bundle runs pip with it`, "install python3-pip (Debian), or name another Python with AIRGAP_PYTHON");
    throw new PipFailed((e.stderr ?? e.message).trim(), e.stdout ?? "");
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

class PipFailed extends Error {
  constructor(
    message: string,
    /** pip's stdout: what it collected, and why a resolution was impossible. */
    readonly output = "",
  ) {
    super(message);
  }

  /** The project pip found nothing for (`No matching distribution found for X`), normalised. */
  get missing(): string | undefined {
    const m = /No matching distribution found for ([A-Za-z0-9._-]+)/.exec(this.message);
    return m ? normalizeProject(m[1]) : undefined;
  }
}

function plannedFrom(item: ReportItem, m: WheelSource): Planned {
  const url = item.download_info.url;
  const sha256 = item.download_info.archive_info?.hashes?.sha256 ?? /^sha256=([0-9a-f]{64})$/.exec(item.download_info.archive_info?.hash ?? "")?.[1];
  const file = decodeURIComponent(path.posix.basename(new URL(url).pathname));
  if (!sha256) throw new WheelError(`${describeSource(m)} gives no sha256 for ${file}`, "use an index that publishes digests (PyPI, devpi, a PEP 503 mirror with #sha256= links), or a wheelhouse folder");
  const name = normalizeProject(item.metadata.name);
  return {
    kind: "wheel",
    name,
    version: item.metadata.version,
    // A wheelhouse is no upstream: name the file within it, not this machine's path.
    source: url.startsWith("file:") ? `wheelhouse/${file}` : url,
    path: `pypi/${name}/${file}`,
    sha256,
    fetchUrl: url,
  };
}

function requirementName(req: string): string {
  return normalizeProject(/^[A-Za-z0-9._-]+/.exec(req)![0]);
}

const SDIST = /^(.+)-([0-9][A-Za-z0-9.!+_-]*)\.(tar\.gz|zip)$/;

/** Newest first, by numeric release segments (enough to pick among an sdist's versions). */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+!-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.+!-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pb[i] ?? 0) - (pa[i] ?? 0);
  return 0;
}

/**
 * The sdist of a requirement: its `==` version, else the newest. pip would
 * build the sdist to read its metadata (which needs its build backend here);
 * the file name says enough to choose it, and the host's pip checks the rest.
 */
async function findSdist(m: WheelSource, requirement: string, env: NodeJS.ProcessEnv): Promise<Planned | undefined> {
  const name = requirementName(requirement);
  const pinned = /==\s*([A-Za-z0-9.!+_-]+)\s*$/.exec(requirement)?.[1];
  const candidates: { file: string; url: string; sha256?: string }[] = [];
  const dir = m.source.dir;
  if (dir !== undefined) candidates.push(...readdirSync(dir).map((f) => ({ file: f, url: pathToFileURL(path.join(dir, f)).href })));
  if (m.source.url !== undefined) {
    const page = new URL(`${name}/`, m.source.url.endsWith("/") ? m.source.url : `${m.source.url}/`);
    const res = await httpFetch(page.href, { headers: { Accept: "text/html" } }, env).catch(() => undefined);
    if (res?.ok) {
      candidates.push(...[...(await res.text()).matchAll(/href="([^"]+)"/g)].map((x) => {
        const u = new URL(x[1].replace(/&amp;/g, "&"), page);
        const sha256 = /sha256=([0-9a-f]{64})/.exec(u.hash)?.[1];
        u.hash = "";
        return { file: decodeURIComponent(path.posix.basename(u.pathname)), url: u.href, sha256 };
      }));
    }
  }
  const found = candidates
    .map((c) => ({ ...c, m: SDIST.exec(c.file) }))
    .filter((c) => c.m && normalizeProject(c.m[1]) === name && (!pinned || c.m[2] === pinned))
    .sort((a, b) => compareVersions(a.m![2], b.m![2]))[0];
  if (!found) return undefined;
  let sha256 = found.sha256;
  if (!sha256 && found.url.startsWith("file:")) sha256 = (await hashFile(fileURLToPath(found.url))).sha256;
  if (!sha256) throw new WheelError(`${describeSource(m)} gives no sha256 for ${found.file}`, "use an index that publishes digests, or a wheelhouse folder");
  return {
    kind: "wheel",
    name,
    version: found.m![2],
    source: found.url.startsWith("file:") ? `wheelhouse/${found.file}` : found.url,
    path: `pypi/${name}/${found.file}`,
    sha256,
    fetchUrl: found.url,
  };
}

/**
 * `SOURCE_DATE_EPOCH` for wheels built here: 1980-01-01, the oldest time a
 * zip can hold, so the same sdist and build backend give the same bytes.
 */
export const BUILD_EPOCH = "315532800";

/** A wheel is pure Python (valid on every CPython 3 and machine) when its tags say so. */
const PURE_WHEEL = /-(py3|py2\.py3)-none-any\.whl$/;

/** Wheels built on the bastion for one plan: their folder, and each one's manifest entry by file name. */
interface BuiltWheels {
  dir: string;
  byFile: Map<string, Planned>;
  tried: Set<string>;
}

/** Downloads `url` to `file` (file:// copied), checking its SHA-256; throws WheelError on a mismatch. */
async function fetchChecked(url: string, file: string, sha256: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (url.startsWith("file:")) await copyFile(fileURLToPath(url), file);
  else {
    const res = await httpFetch(url, {}, env);
    if (!res.ok || !res.body) throw new WheelError(`${url}: HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(file));
  }
  const got = (await hashFile(file)).sha256;
  if (got !== sha256) throw new WheelError(`${url} has sha256 ${got}, its index says ${sha256}: nothing was built from it`);
}

/**
 * Builds the sdist of `project` into a pure-Python wheel in `b.dir`: the sdist
 * from the source (checked against the source's SHA-256), then `pip wheel
 * --no-deps` with the bastion's Python (its build backend from the same
 * source, in pip's isolated build environment), SOURCE_DATE_EPOCH fixed.
 * Returns false when the source has no sdist of it; throws WheelError when the
 * build fails or makes a wheel that is not pure Python.
 */
async function buildFromSdist(project: string, m: WheelSource, python: string, env: NodeJS.ProcessEnv, b: BuiltWheels, label: string, log: WheelOptions["log"]): Promise<boolean> {
  const sdist = await findSdist(m, project, env);
  if (!sdist) return false;
  const file = path.posix.basename(sdist.path);
  const work = await mkdtemp(path.join(b.dir, ".build-"));
  try {
    const input = path.join(work, file);
    await fetchChecked(sdist.fetchUrl, input, sdist.sha256, env);
    const out = path.join(work, "out");
    const by = `pip wheel --no-deps (${(await exec(python, ["-c", "import sys; print('Python %d.%d.%d' % sys.version_info[:3])"])).stdout.trim()} on the bastion), SOURCE_DATE_EPOCH=${BUILD_EPOCH}`;
    try {
      await exec(python, ["-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--quiet", ...sourceArgs(m), "-w", out, input], {
        env: { ...pipEnv(env), SOURCE_DATE_EPOCH: BUILD_EPOCH },
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new WheelError(`${project} has no wheel for ${label} and building one from ${file} failed:\n  ${(e.stderr ?? e.message).trim().split("\n").slice(-4).join("\n  ")}`,
        `add a wheel of ${project} to the source (pypi.source.wheelhouse)`);
    }
    const [wheel] = readdirSync(out).filter((f) => f.endsWith(".whl"));
    if (!wheel || !PURE_WHEEL.test(wheel)) {
      throw new WheelError(`${project} has no wheel for ${label}, and its sdist ${file} builds ${wheel ?? "no wheel"}, not a pure-Python (py3-none-any) one: a wheel built on the bastion would not fit the index host`,
        `add a wheel of ${project} for the index host's Python and machine to the source (pypi.source.wheelhouse)`);
    }
    await copyFile(path.join(out, wheel), path.join(b.dir, wheel));
    const { sha256 } = await hashFile(path.join(b.dir, wheel));
    const built: BuiltFrom = { from: sdist.source, sha256: sdist.sha256, by };
    b.byFile.set(wheel, { kind: "wheel", name: sdist.name, version: sdist.version, source: sdist.source, path: `pypi/${sdist.name}/${wheel}`, sha256, fetchUrl: pathToFileURL(path.join(b.dir, wheel)).href, built });
    log.info(`python: ${project} has no wheel at ${describeSource(m)}: built ${wheel} from ${file} (sha256 ${sdist.sha256.slice(0, 16)}…) with ${by}`);
    return true;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Projects a failed resolution names as unsatisfiable: "No matching distribution found for X", "Y depends on X". */
function suspects(err: PipFailed): string[] {
  const names = [err.missing, ...[...`${err.message}\n${err.output}`.matchAll(/ depends on ([A-Za-z0-9][A-Za-z0-9._-]*)/g)].map((x) => x[1])];
  return [...new Set(names.filter((n): n is string => !!n).map(normalizeProject))];
}

/**
 * Resolves one target with pip against `m.source`; top-level requirements
 * without a wheel fall back to their sdist (or, with `b`, a wheel built from
 * it). Returns `wheel` artifacts at `pypi/<project>/<file>`; throws a
 * WheelError naming the target.
 */
export async function resolveTarget(t: WheelTarget, m: WheelSource, python: string, env: NodeJS.ProcessEnv, log: WheelOptions["log"], b?: BuiltWheels): Promise<Planned[]> {
  const label = `CPython ${t.python} ${MACHINE[t.arch]} (${t.hosts.join(", ")}${t.venv ? `, ${t.venv}'s venv` : ""})`;
  const binaryArgs = () => [
    "--only-binary=:all:", ...t.platforms.flatMap((p) => ["--platform", p]), "--python-version", t.python, "--implementation", "cp", ...sourceArgs(m),
    ...(b && b.byFile.size > 0 ? ["--find-links", b.dir] : []),
  ];
  const sdists: Planned[] = [];
  let requirements = [...t.requirements];
  for (;;) {
    try {
      const items = requirements.length ? await pipReport(python, [...binaryArgs(), ...requirements], env) : [];
      return [...items.map((i) => (b?.byFile.get(decodeURIComponent(path.posix.basename(new URL(i.download_info.url).pathname))) ?? plannedFrom(i, m))), ...sdists];
    } catch (err) {
      if (!(err instanceof PipFailed)) throw err;
      const missing = err.missing;
      const listed = requirements.find((r) => requirementName(r) === missing);
      // devpi-server or one of its dependencies (nothing the site listed).
      const forDevpi = t.venv === "devpi";
      if (forDevpi && b) {
        // A dependency with no wheel at all for this target, and an sdist: built here, then pip again.
        let built = false;
        for (const project of suspects(err)) {
          if (b.tried.has(project)) continue;
          b.tried.add(project);
          const hasWheel = await pipReport(python, [...binaryArgs(), "--no-deps", project], env).then(() => true, (e: unknown) => {
            if (e instanceof PipFailed) return false;
            throw e;
          });
          if (!hasWheel && (await buildFromSdist(project, m, python, env, b, label, log))) built = true;
        }
        if (built) continue;
      }
      if (forDevpi) {
        throw new WheelError(
          `devpi mode needs devpi-server and its dependencies as wheels for ${label}, and ${describeSource(m)} ${missing ? `has no ${missing}` : "cannot give them"}:\n  ${err.message.split("\n").slice(-2).join("\n  ")}`,
          'add them to the source (where PyPI is reachable: pip download devpi-server -d WHEELHOUSE, for the hosts\' Python and platform), or use mode: "static"',
        );
      }
      if (!missing || !listed) {
        throw new WheelError(`pip could not resolve the Python packages for ${label} from ${describeSource(m)}:\n  ${err.message.split("\n").slice(-4).join("\n  ")}`,
          missing ? `${missing} is a dependency with no wheel for CPython ${t.python} on ${MACHINE[t.arch]} there: add a wheel of it to the source, or list it in pypi.packages to carry its sdist` : undefined);
      }
      // No wheel for a listed requirement: carry its sdist (no dependency of it is resolved).
      const sdist = await findSdist(m, listed, env);
      if (!sdist) throw new WheelError(`${listed}: no wheel for ${label} and no sdist at ${describeSource(m)}:\n  ${err.message.split("\n").slice(-2).join("\n  ")}`);
      log.info(`warning: ${listed} has no wheel for ${label}: its sdist ${path.posix.basename(sdist.path)} is carried; pip builds it on each host, and its own dependencies must be listed in pypi.packages`);
      sdists.push(sdist);
      requirements = requirements.filter((r) => r !== listed);
    }
  }
}

/** Every Python package the bundle carries (kind `wheel`), resolved with pip. */
export async function planWheels(m: PypiModel | undefined, o: WheelOptions): Promise<Planned[]> {
  if (!m) return [];
  const env = o.env ?? process.env;
  const python = o.python ?? env.AIRGAP_PYTHON ?? "python3";
  if (m.source.dir !== undefined && !(existsSync(m.source.dir) && statSync(m.source.dir).isDirectory())) {
    throw new WheelError(`no such wheelhouse folder: ${m.source.dir} (pypi.source.wheelhouse)`, "the folder is relative to the site file");
  }
  const built: BuiltWheels | undefined = o.scratch ? { dir: await mkdtemp(path.join(os.tmpdir(), "airgap-built-wheels-")), byFile: new Map(), tried: new Set() } : undefined;
  try {
    const byPath = new Map<string, Planned>();
    for (const t of wheelTargets(m, o.controller)) {
      const started = Date.now();
      const list = await resolveTarget(t, m, python, env, o.log, built);
      for (const w of list) byPath.set(w.path, w);
      o.log.info(`python: CPython ${t.python} ${MACHINE[t.arch]} (${t.hosts.join(", ")}${t.venv ? `, ${t.venv}'s venv` : ""}): ${list.length} distributions from ${describeSource(m)}, resolved by pip in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    if (built) {
      if (built.byFile.size > 0) o.scratch!.push(built.dir);
      else await rm(built.dir, { recursive: true, force: true });
    }
    return [...byPath.values()];
  } catch (err) {
    if (built) await rm(built.dir, { recursive: true, force: true });
    throw err;
  }
}
