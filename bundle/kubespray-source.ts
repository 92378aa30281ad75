/**
 * The Kubespray release's source in the bundle (artifact kind `file`, at
 * `files/kubespray/kubespray-<release>.tar.gz`): `git archive` of the
 * catalogue's `commit`, made on the bastion from a Kubespray checkout (GitHub's
 * own tarballs are not reachable from every bastion, and their bytes are not
 * pinned anywhere), so that the controller inside runs exactly the release the
 * site's lists were made from.
 *
 * The archive is deterministic: the same commit gives the same bytes whatever
 * the checkout (a clone, a worktree, a bare repository, files touched or
 * edited in the work tree: only the commit's tree is read). git writes the
 * tar (entries in tree order, the commit time as every mtime, the commit id
 * in a pax header); the settings that could change it are fixed on the
 * command line (`tar.umask`, end-of-line conversion); Node's zlib compresses
 * it (level 9, no name, mtime 0 in the gzip header).
 */
import { execFile, spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { pipeline } from "node:stream/promises";
import { createGzip, constants as zlib } from "node:zlib";
import type { KubesprayModel } from "../compile/components/kubespray.js";
import { sourceCommit, sourcePath, sourcePrefix } from "../compile/kubespray/source.js";
import type { Planned } from "./bundle.js";
import { hashFile } from "./store.js";

const exec = promisify(execFile);

/** The source cannot be carried: what and why, and what to do. */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** git settings that would change the archive's bytes, fixed. */
const GIT_FIXED = ["-c", "tar.umask=0002", "-c", "core.autocrlf=false", "-c", "core.eol=lf"];

/** Whether `dir` (a work tree or a bare repository) has the commit `commit`. */
export async function hasCommit(dir: string, commit: string): Promise<boolean> {
  try {
    await exec("git", ["-C", dir, "cat-file", "-e", `${commit}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the gzip'd tar of `commit`'s tree, every entry under `prefix/`, to
 * `out`; returns its SHA-256 and size. Throws a SourceError when `dir` is no
 * git repository or lacks the commit.
 */
export async function archiveCommit(dir: string, commit: string, prefix: string, out: string): Promise<{ sha256: string; size: number }> {
  if (!existsSync(dir)) throw new SourceError(`the Kubespray checkout ${dir} does not exist`);
  try {
    await exec("git", ["-C", dir, "rev-parse", "--git-dir"]);
  } catch {
    throw new SourceError(`${dir} is not a git repository (a Kubespray checkout is needed to archive its commit)`, "clone kubernetes-sigs/kubespray and name that folder");
  }
  if (!(await hasCommit(dir, commit))) {
    throw new SourceError(`the Kubespray checkout ${dir} does not have the commit ${commit}`, "fetch it there (git fetch --tags, or the release's tag), then bundle again");
  }
  const git = spawn("git", [...GIT_FIXED, "-C", dir, "archive", "--format=tar", `--prefix=${prefix}/`, commit], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  git.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    git.on("error", reject);
    git.on("close", (code) => resolve(code ?? -1));
  });
  await pipeline(git.stdout, createGzip({ level: zlib.Z_BEST_COMPRESSION }), createWriteStream(out));
  const code = await exited;
  if (code !== 0) throw new SourceError(`git archive ${commit} in ${dir} failed (exit ${code}): ${stderr.trim()}`);
  return hashFile(out);
}

export interface SourceOptions {
  /** The checkout named on the command line (`--kubespray DIR`); else the site's `kubespray.checkout`, else `$KUBESPRAY_DIR`. */
  checkout?: string;
  /** Bundle without the source (`--no-kubespray-source`). @default false */
  skip?: boolean;
  env?: NodeJS.ProcessEnv;
  log: { info(s: string): void };
}

/** The planned archive and the scratch folder holding it until the store has it (remove it when done). */
export interface PlannedSource {
  artifact: Planned;
  scratch: string;
}

/**
 * Plans the release's source archive for a site with Kubespray: archives the
 * catalogue's commit from the checkout into a scratch folder and returns it as
 * a `file` artifact (its SHA-256 known). Undefined when the site has no
 * Kubespray, when `skip`, or when the catalogue pins no commit (a stand-in's;
 * said on the log). Throws a SourceError when no checkout is named, or the
 * named one lacks the commit.
 */
export async function planKubespraySource(m: KubesprayModel | undefined, o: SourceOptions): Promise<PlannedSource | undefined> {
  if (!m) return undefined;
  if (o.skip) {
    o.log.info(`note: --no-kubespray-source: the bundle does not carry Kubespray ${m.version}'s source; the controller inside needs it from elsewhere`);
    return undefined;
  }
  const commit = sourceCommit(m.catalogue);
  if (!commit) {
    o.log.info(`note: the Kubespray ${m.version} catalogue pins no git commit (${JSON.stringify(m.catalogue.commit ?? null)}): the bundle carries no Kubespray source`);
    return undefined;
  }
  const env = o.env ?? process.env;
  const dir = o.checkout ?? m.checkoutDir ?? env.KUBESPRAY_DIR;
  if (!dir) {
    throw new SourceError(
      `the bundle carries Kubespray ${m.version}'s source (commit ${commit}), archived from a Kubespray checkout, and none is named`,
      `give a checkout holding that commit: --kubespray DIR, kubespray.checkout in the site file, or KUBESPRAY_DIR=DIR (git clone https://github.com/kubernetes-sigs/kubespray; the tag is v${m.version}); or --no-kubespray-source`,
    );
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), "airgap-kubespray-source-"));
  const prefix = sourcePrefix(m.version);
  const file = path.join(scratch, `${prefix}.tar.gz`);
  const started = Date.now();
  try {
    const { sha256, size } = await archiveCommit(path.resolve(dir), commit, prefix, file);
    o.log.info(`Kubespray ${m.version}: git archive ${commit.slice(0, 12)} from ${dir}, ${size} bytes, sha256 ${sha256} (${Date.now() - started} ms)`);
    return {
      scratch,
      artifact: {
        kind: "file",
        name: `${prefix}.tar.gz`,
        version: m.version,
        source: `git archive ${commit} (kubernetes-sigs/kubespray v${m.version})`,
        path: sourcePath(m.version),
        size,
        sha256,
        fetchUrl: pathToFileURL(file).href,
      },
    };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}
