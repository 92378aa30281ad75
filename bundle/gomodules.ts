/**
 * The Go modules of the bundle (issue 20): what the site's `goproxy` service
 * lists, resolved and downloaded on the bastion by the real go command, and
 * carried as `file` artifacts under `goproxy/`, laid out as the Go module
 * proxy protocol serves them (docs/goproxy.md):
 *
 *   goproxy/<escaped module>/@v/<escaped version>.mod    every go.mod the module graph read
 *   goproxy/<escaped module>/@v/<escaped version>.info   {"Version", "Time"} of each downloaded version
 *   goproxy/<escaped module>/@v/<escaped version>.zip    each module of a build list
 *   goproxy/sumdb/sum.golang.org/lookup/<module>@<version>  the checksum database's answer
 *                                                          (go.sum lines + a signed tree head)
 *   goproxy/sumdb/sum.golang.org/tile/8/…                 the tiles that prove those answers
 *   goproxy/go.sum                                        every go.sum line carried, sorted
 *
 * How: a fresh module cache in a scratch folder (GOPATH, GOMODCACHE), the
 * bastion's own GOPROXY, GOFLAGS, GOENV and HTTPS_PROXY kept, GOSUMDB
 * required to be sum.golang.org and GONOSUMDB, GONOSUMCHECK, GOPRIVATE,
 * GOINSECURE emptied, so every module is checked against the checksum
 * database while it downloads; GOTOOLCHAIN=local (a go.mod asking for a
 * newer Go fails with go's message instead of fetching a toolchain into the
 * bundle). For each `modules` entry a throwaway module runs `go get
 * <module>@<version>` then `go mod download -json all` (its own build list:
 * a program requiring only that module builds inside); for each `goMod`
 * file, a copy of it (and its go.sum) runs `go mod download -json all`.
 * The module cache's download folder is then the proxy tree (the go command
 * documents it as serving GOPROXY). bundle/gosumdb completes the checksum
 * database's tiles so that a client inside proves every answer in any
 * order. Checks: every carried version has the database's answer, and the
 * `Sum`/`GoModSum` the go command computed equal the database's lines.
 *
 * The go binary: `$AIRGAP_GO`, else `go` on PATH.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { GO_SUMDB, type GoproxyModel } from "../compile/components/goproxy.js";
import { compareText } from "../compile/model/context.js";
import type { Planned } from "./bundle.js";
import { httpFetch } from "./http.js";
import { hashFile } from "./store.js";

const exec = promisify(execFile);

/** Where the bundle keeps the proxy tree. */
export const GOPROXY_PREFIX = "goproxy";
/** The folder of bundle/gosumdb's Go source, in the installed package. */
const GOSUMDB_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bundle/gosumdb");

/** A module cannot be carried: what and why, and what to do. */
export class GoModuleError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface GoModuleOptions {
  env?: NodeJS.ProcessEnv;
  log: { info(s: string): void };
  /** The go binary. @default $AIRGAP_GO, else "go" */
  go?: string;
  /**
   * The bundle folder's current manifest's `goproxy/sumdb/` files (path →
   * blob file): earlier bundles' answers, so the tiles also prove a client
   * that saw an earlier bundle's tree head (docs/goproxy.md).
   */
  earlier?: Map<string, string>;
}

/** The planned proxy files and the scratch folder holding them until the store has them (remove it when done). */
export interface PlannedGoModules {
  artifacts: Planned[];
  scratch: string;
  /** The go.sum lines carried (`<module> <version>[/go.mod] h1:…`), sorted. */
  sums: string[];
}

/** One object of `go mod download -json`'s output. */
interface Downloaded {
  Path: string;
  Version: string;
  Error?: string;
  Info?: string;
  GoMod?: string;
  Zip?: string;
  Sum?: string;
  GoModSum?: string;
}

/** The objects of a stream of indented JSON objects, as go prints them one after another. */
export function parseJsonStream(text: string): Downloaded[] {
  const out: Downloaded[] = [];
  for (const chunk of text.split(/^}\s*$/m)) {
    const t = chunk.trim();
    if (t) out.push(JSON.parse(`${t}\n}`) as Downloaded);
  }
  return out;
}

/** The go.sum lines of a checksum database answer (the record before its blank line). */
export function lookupLines(answer: string): string[] {
  const end = answer.indexOf("\n\n");
  return (end < 0 ? answer : answer.slice(0, end)).split("\n").filter((l) => /^\S+ \S+ h1:[A-Za-z0-9+/=]+$/.test(l));
}

async function go(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): Promise<string> {
  try {
    const { stdout } = await exec(bin, args, { cwd, env, maxBuffer: 256 << 20 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (e.code === "ENOENT") {
      throw new GoModuleError(`the go command (${bin}) is not installed on this machine: the bundle downloads the site's Go modules with it`,
        "install Go (Debian: apt install golang-go; or https://go.dev/dl), or name it with AIRGAP_GO=/path/to/go");
    }
    // go mod download -json reports a module's failure in its JSON, with exit 1.
    const failed = e.stdout ? parseJsonStream(e.stdout).filter((d) => d.Error).map((d) => `${d.Path}@${d.Version}: ${d.Error}`) : [];
    throw new GoModuleError(`${what}: go ${args.join(" ")} failed: ${[...failed, (e.stderr ?? e.message).trim()].filter(Boolean).join("; ")}`);
  }
}

/** Every file under `dir`, as paths relative to it with forward slashes. */
async function walk(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/**
 * Where the go command reads the checksum database through (cmd/go's rule):
 * the first GOPROXY entry whose `<proxy>/sumdb/sum.golang.org/supported`
 * answers 200, trying the next on 404 or 410; `direct`/`off`, or none left:
 * the database itself.
 */
export async function sumdbBase(goproxy: string, env: NodeJS.ProcessEnv): Promise<string> {
  for (const entry of goproxy.split(/[,|]/).map((x) => x.trim()).filter(Boolean)) {
    if (entry === "direct" || entry === "off") break;
    if (!/^https?:\/\//.test(entry)) continue;
    const base = `${entry.replace(/\/+$/, "")}/sumdb/${GO_SUMDB}`;
    const res = await httpFetch(`${base}/supported`, {}, env).catch(() => undefined);
    if (res?.ok) return base;
    if (res && res.status !== 404 && res.status !== 410) break;
  }
  return `https://${GO_SUMDB}`;
}

/** Builds bundle/gosumdb (golang.org/x/mod's checksum database client) into `dir`, with the bastion's own module cache. */
async function buildGosumdb(bin: string, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const out = path.join(dir, "gosumdb");
  await go(bin, ["build", "-o", out, "."], GOSUMDB_SRC, { ...env, GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local", CGO_ENABLED: "0" }, "building bundle/gosumdb");
  return out;
}

/**
 * Downloads and checks the Go modules of the site; undefined when the site
 * has no goproxy service or it lists nothing. Throws a GoModuleError when
 * the go command fails (its own message), when the bastion's Go settings
 * would skip the checksum database, or when a carried version lacks the
 * database's answer or differs from it.
 */
export async function planGoModules(m: GoproxyModel | undefined, o: GoModuleOptions): Promise<PlannedGoModules | undefined> {
  if (!m || (m.modules.length === 0 && m.goMods.length === 0)) return undefined;
  const base = o.env ?? process.env;
  const bin = o.go ?? base.AIRGAP_GO ?? "go";
  const scratch = await mkdtemp(path.join(os.tmpdir(), "airgap-gomodules-"));
  try {
    const started = Date.now();
    const settings = JSON.parse(await go(bin, ["env", "-json", "GOSUMDB", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GOINSECURE"], scratch, base, "reading the bastion's Go settings")) as Record<string, string>;
    // "sum.golang.org", its "name+key" form, or either with the URL of a mirror of it.
    if (!/^sum\.golang\.org(\+033de0ae\+\S+)?( https?:\/\/\S+)?$/.test(settings.GOSUMDB ?? "")) {
      throw new GoModuleError(`GOSUMDB is "${settings.GOSUMDB ?? ""}" on this machine: the site serves ${GO_SUMDB}'s answers and its clients verify with them`,
        `unset GOSUMDB (go env -u GOSUMDB) or set GOSUMDB=${GO_SUMDB} for airgap bundle`);
    }
    if (/(^|\s)-insecure(\s|$)/.test(settings.GOFLAGS ?? "")) throw new GoModuleError("GOFLAGS has -insecure on this machine: modules would not be verified", "remove -insecure from GOFLAGS");
    const gopath = path.join(scratch, "gopath");
    const env: NodeJS.ProcessEnv = {
      ...base,
      GOPATH: gopath,
      GOMODCACHE: path.join(gopath, "pkg", "mod"),
      GOFLAGS: [settings.GOFLAGS ?? "", "-modcacherw"].join(" ").trim(),
      GOSUMDB: settings.GOSUMDB,
      GONOSUMDB: "",
      GONOSUMCHECK: "",
      GOPRIVATE: "",
      GOINSECURE: "",
      GOTOOLCHAIN: "local",
      GOWORK: "off",
    };
    const downloaded: Downloaded[] = [];
    for (const [i, mod] of m.modules.entries()) {
      const dir = path.join(scratch, "work", `module-${i}`);
      await mkdir(dir, { recursive: true });
      const what = `module ${mod.path}@${mod.version}`;
      await writeFile(path.join(dir, "go.mod"), "module airgap.invalid/carry\n");
      await go(bin, ["get", `${mod.path}@${mod.version}`], dir, env, what);
      const list = parseJsonStream(await go(bin, ["mod", "download", "-json", "all"], dir, env, what));
      if (!list.some((d) => d.Path === mod.path && d.Version === mod.version)) {
        throw new GoModuleError(`${what}: go get selected ${list.filter((d) => d.Path === mod.path).map((d) => d.Version).join(", ") || "nothing"} instead`, "a module of its own build list requires a newer version of it: list that one");
      }
      downloaded.push(...list);
      o.log.info(`${what}: ${list.length} module${list.length === 1 ? "" : "s"} in its build list`);
    }
    for (const [i, g] of m.goMods.entries()) {
      const dir = path.join(scratch, "work", `gomod-${i}`);
      await mkdir(dir, { recursive: true });
      await copyFile(g.file, path.join(dir, "go.mod"));
      const sum = path.join(path.dirname(g.file), "go.sum");
      if (existsSync(sum)) await copyFile(sum, path.join(dir, "go.sum"));
      const list = parseJsonStream(await go(bin, ["mod", "download", "-json", "all"], dir, env, `${g.name} (${g.module})`));
      downloaded.push(...list.filter((d) => d.Path !== g.module));
      o.log.info(`${g.name} (${g.module}): ${list.length} module${list.length === 1 ? "" : "s"} in its build list`);
    }
    const tree = path.join(gopath, "pkg", "mod", "cache", "download");
    const sumdb = path.join(tree, "sumdb", GO_SUMDB);
    // Earlier bundles' answers and tiles: carried again where this bundle has
    // none for the path (the role keeps serving them), and all their answers
    // given to gosumdb apart, as tree heads a client inside may hold.
    const earlierDir = path.join(scratch, "earlier");
    for (const [rel, blob] of o.earlier ?? []) {
      const sub = rel.slice(`${GOPROXY_PREFIX}/`.length);
      if (sub.startsWith(`sumdb/${GO_SUMDB}/lookup/`)) {
        await mkdir(path.dirname(path.join(earlierDir, sub)), { recursive: true });
        await copyFile(blob, path.join(earlierDir, sub));
      }
      const dest = path.join(tree, sub);
      if (existsSync(dest)) continue;
      await mkdir(path.dirname(dest), { recursive: true });
      await copyFile(blob, dest);
    }
    const gosumdb = await buildGosumdb(bin, scratch, base);
    const baseUrl = await sumdbBase(settings.GOPROXY ?? "", base);
    let tiles: { lookups: number; trees: number; earlier: number; fetched: string[] };
    try {
      const { stdout } = await exec(gosumdb, ["tiles", tree, baseUrl, ...(existsSync(earlierDir) ? [earlierDir] : [])], { env: base, maxBuffer: 64 << 20 });
      tiles = JSON.parse(stdout) as typeof tiles;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new GoModuleError(`the checksum database's answers could not be completed from ${baseUrl}: ${(e.stderr ?? e.message).trim()}`);
    }
    // What the proxy serves: the cache's files but its locks, hashes of extracted trees and partial lists.
    const files = (await walk(tree)).filter((f) => !/\.(lock|ziphash|partial)$|\/@v\/list$|\.tmp/.test(f)).sort(compareText);
    const sums = new Map<string, string>();
    const problems: string[] = [];
    for (const f of files.filter((x) => x.startsWith(`sumdb/${GO_SUMDB}/lookup/`))) {
      for (const line of lookupLines(await readFile(path.join(tree, f), "utf8"))) sums.set(line.slice(0, line.lastIndexOf(" ")), line);
    }
    for (const f of files.filter((x) => /\/@v\/[^/]+\.(mod|zip)$/.test(x))) {
      const [mod, file] = f.split("/@v/");
      const version = file.replace(/\.(mod|zip)$/, "");
      const key = `${unescapeModule(mod)} ${unescapeModule(version)}${f.endsWith(".mod") ? "/go.mod" : ""}`;
      if (!sums.has(key)) problems.push(`${key}: ${GO_SUMDB} gave no answer for it (a GONOSUMDB-style setting, or a private module): the site cannot verify it`);
    }
    for (const d of downloaded) {
      if (d.Error) problems.push(`${d.Path}@${d.Version}: ${d.Error}`);
      if (d.Sum && sums.get(`${d.Path} ${d.Version}`) !== `${d.Path} ${d.Version} ${d.Sum}`) problems.push(`${d.Path}@${d.Version}: go computed ${d.Sum}, ${GO_SUMDB} says ${sums.get(`${d.Path} ${d.Version}`) ?? "nothing"}`);
      if (d.GoModSum && sums.get(`${d.Path} ${d.Version}/go.mod`) !== `${d.Path} ${d.Version}/go.mod ${d.GoModSum}`) problems.push(`${d.Path}@${d.Version}/go.mod: go computed ${d.GoModSum}, ${GO_SUMDB} says otherwise`);
    }
    if (problems.length) throw new GoModuleError(`Go modules the site could not verify:\n  ${[...new Set(problems)].join("\n  ")}`);
    const sumLines = [...sums.values()].sort(compareText);
    const sumFile = path.join(scratch, "go.sum");
    await writeFile(sumFile, sumLines.join("\n") + "\n");
    const artifacts: Planned[] = [];
    const entry = async (abs: string, rel: string, name: string, version: string | undefined, source: string): Promise<void> => {
      const { sha256, size } = await hashFile(abs);
      artifacts.push({ kind: "file", name, ...(version ? { version } : {}), source, path: `${GOPROXY_PREFIX}/${rel}`, size, sha256, fetchUrl: pathToFileURL(abs).href });
    };
    for (const f of files) {
      if (f.startsWith("sumdb/")) await entry(path.join(tree, f), f, f.slice(f.lastIndexOf("/") + 1), undefined, `${baseUrl}/${f.slice(`sumdb/${GO_SUMDB}/`.length)}`);
      else {
        const [mod, file] = f.split("/@v/");
        const version = unescapeModule(file.replace(/\.(mod|zip|info)$/, ""));
        await entry(path.join(tree, f), f, unescapeModule(mod), version, `go mod download ${unescapeModule(mod)}@${version} (${settings.GOPROXY})`);
      }
    }
    await entry(sumFile, "go.sum", "go.sum", undefined, `${GO_SUMDB} (the lookups carried)`);
    const zips = files.filter((f) => f.endsWith(".zip")).length;
    o.log.info(`Go modules: ${zips} module zip${zips === 1 ? "" : "s"}, ${files.filter((f) => f.endsWith(".mod")).length} go.mod files, ${tiles.lookups} ${GO_SUMDB} answers over ${tiles.trees} tree head${tiles.trees === 1 ? "" : "s"}${tiles.earlier ? ` and ${tiles.earlier} earlier one${tiles.earlier === 1 ? "" : "s"}` : ""} (${tiles.fetched.length} tiles more for any order), ${Date.now() - started} ms`);
    return { artifacts, scratch, sums: sumLines };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}

/** The inverse of escapeModule: `!x` → `X`. */
function unescapeModule(s: string): string {
  return s.replace(/!([a-z])/g, (_, c: string) => c.toUpperCase());
}
