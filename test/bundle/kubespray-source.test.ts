/**
 * The Kubespray release's source in the bundle: `git archive` of the
 * catalogue's commit from a checkout on the bastion, the same bytes for the
 * same commit whatever the checkout, refused clearly when the checkout lacks
 * the commit or none is named, and put into the store like every file.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import type { KubesprayModel } from "../../compile/components/kubespray.js";
import { sourceCommit, sourcePath } from "../../compile/kubespray/source.js";
import { fetchAll } from "../../bundle/bundle.js";
import { archiveCommit, planKubespraySource, SourceError } from "../../bundle/kubespray-source.js";
import { BLOB_DIR, Store } from "../../bundle/store.js";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_DATE: "2025-01-02T03:04:05Z", GIT_COMMITTER_DATE: "2025-01-02T03:04:05Z" },
  }).trim();

/** A model as the kubespray component makes it, with what the source planner reads. */
function model(commit: string | undefined, checkoutDir?: string): KubesprayModel {
  return { version: "2.99.0", catalogue: { commit }, checkoutDir } as unknown as KubesprayModel;
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("bundle: Kubespray's source archive", () => {
  let tmp: string;
  let repo: string;
  let commit: string;
  let second: string;
  const said: string[] = [];
  const log = { info: (s: string) => void said.push(s) };

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-kssrc-"));
    repo = path.join(tmp, "kubespray");
    execFileSync("git", ["init", "-q", "-b", "master", repo]);
    writeFileSync(path.join(repo, "requirements.txt"), "ansible==10.7.0\njmespath==1.1.0\n");
    writeFileSync(path.join(repo, "cluster.yml"), "---\n- name: Stand-in\n  hosts: all\n");
    writeFileSync(path.join(repo, "run.sh"), "#!/bin/sh\necho ok\r\n");
    chmodSync(path.join(repo, "run.sh"), 0o755);
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "release");
    commit = git(repo, "rev-parse", "HEAD");
    writeFileSync(path.join(repo, "later.txt"), "after the release\n");
    git(repo, "add", ".");
    git(repo, "commit", "-q", "-m", "later");
    second = git(repo, "rev-parse", "HEAD");
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("a catalogue pins a source only by a full commit id; its path is under files/kubespray/", () => {
    assert.equal(sourceCommit({ commit: "f4ccdb5e72395eaf9f3444056ebd1a6625ddb89a" }), "f4ccdb5e72395eaf9f3444056ebd1a6625ddb89a");
    assert.equal(sourceCommit({ commit: "lab stand-in" }), undefined);
    assert.equal(sourceCommit({ commit: "f4ccdb5e" }), undefined);
    assert.equal(sourceCommit({}), undefined);
    assert.equal(sourcePath("2.30.0"), "files/kubespray/kubespray-2.30.0.tar.gz");
  });

  it("gives the same bytes for the same commit from a clone, a bare clone and an edited work tree with other git settings", async () => {
    const a = await archiveCommit(repo, commit, "kubespray-2.99.0", path.join(tmp, "a.tar.gz"));
    // A clone whose work tree is at another commit, edited, touched, and whose
    // git settings would change a work-tree archive.
    const clone = path.join(tmp, "clone");
    execFileSync("git", ["clone", "-q", "--no-hardlinks", repo, clone]);
    git(clone, "config", "core.autocrlf", "true");
    git(clone, "config", "tar.umask", "0077");
    writeFileSync(path.join(clone, "cluster.yml"), "edited in the work tree\n");
    utimesSync(path.join(clone, "requirements.txt"), new Date(0), new Date(0));
    const bare = path.join(tmp, "bare.git");
    execFileSync("git", ["clone", "-q", "--bare", repo, bare]);
    const b = await archiveCommit(clone, commit, "kubespray-2.99.0", path.join(tmp, "b.tar.gz"));
    const c = await archiveCommit(bare, commit, "kubespray-2.99.0", path.join(tmp, "c.tar.gz"));
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
    assert.equal(sha256(path.join(tmp, "b.tar.gz")), a.sha256);
    // Another commit, or another prefix, is other bytes.
    const d = await archiveCommit(repo, second, "kubespray-2.99.0", path.join(tmp, "d.tar.gz"));
    assert.notEqual(d.sha256, a.sha256);
    // The commit's tree, under its prefix, modes kept, nothing of the work tree.
    const list = execFileSync("tar", ["-tvzf", path.join(tmp, "b.tar.gz")], { encoding: "utf8" });
    assert.deepEqual(list.split("\n").filter(Boolean).map((l) => l.split(/\s+/).pop()).sort(),
      ["kubespray-2.99.0/", "kubespray-2.99.0/cluster.yml", "kubespray-2.99.0/requirements.txt", "kubespray-2.99.0/run.sh"]);
    assert.match(list, /^-rwxrwxr-x .* kubespray-2\.99\.0\/run\.sh$/m);
    const out = path.join(tmp, "unpacked");
    execFileSync("mkdir", ["-p", out]);
    execFileSync("tar", ["-xzf", path.join(tmp, "b.tar.gz"), "-C", out]);
    assert.equal(readFileSync(path.join(out, "kubespray-2.99.0/cluster.yml"), "utf8"), "---\n- name: Stand-in\n  hosts: all\n");
    assert.equal(readFileSync(path.join(out, "kubespray-2.99.0/run.sh"), "utf8"), "#!/bin/sh\necho ok\r\n");
  });

  it("refuses a checkout that lacks the commit, and a folder that is no git repository", async () => {
    const missing = "0123456789abcdef0123456789abcdef01234567";
    await assert.rejects(archiveCommit(repo, missing, "p", path.join(tmp, "x.tar.gz")), (e: SourceError) => {
      assert.ok(e instanceof SourceError);
      assert.equal(e.message, `the Kubespray checkout ${repo} does not have the commit ${missing}`);
      assert.match(e.hint ?? "", /git fetch --tags/);
      return true;
    });
    const plain = mkdtempSync(path.join(tmp, "plain-"));
    await assert.rejects(archiveCommit(plain, commit, "p", path.join(tmp, "y.tar.gz")), /is not a git repository/);
  });

  it("plans the archive from --kubespray, the site's checkout or KUBESPRAY_DIR, in that order", async () => {
    const fromEnv = await planKubespraySource(model(commit), { env: { KUBESPRAY_DIR: repo }, log });
    assert.ok(fromEnv);
    assert.equal(fromEnv.artifact.path, "files/kubespray/kubespray-2.99.0.tar.gz");
    assert.equal(fromEnv.artifact.kind, "file");
    assert.equal(fromEnv.artifact.version, "2.99.0");
    assert.equal(fromEnv.artifact.source, `git archive ${commit} (kubernetes-sigs/kubespray v2.99.0)`, "no path of the bastion in the manifest");
    const a = await archiveCommit(repo, commit, "kubespray-2.99.0", path.join(tmp, "ref.tar.gz"));
    assert.equal(fromEnv.artifact.sha256, a.sha256);
    assert.equal(fromEnv.artifact.size, a.size);
    // The site's checkout wins over the environment; --kubespray over both.
    const empty = mkdtempSync(path.join(tmp, "empty-"));
    await assert.rejects(planKubespraySource(model(commit, empty), { env: { KUBESPRAY_DIR: repo }, log }), /is not a git repository/);
    const cli = await planKubespraySource(model(commit, empty), { checkout: repo, env: {}, log });
    assert.equal(cli?.artifact.sha256, a.sha256);
    for (const p of [fromEnv, cli!]) rmSync(p.scratch, { recursive: true, force: true });
  });

  it("refuses when no checkout is named, says why; --no-kubespray-source and a stand-in catalogue carry none", async () => {
    await assert.rejects(planKubespraySource(model(commit), { env: {}, log }), (e: SourceError) => {
      assert.equal(e.message, `the bundle carries Kubespray 2.99.0's source (commit ${commit}), archived from a Kubespray checkout, and none is named`);
      assert.match(e.hint ?? "", /--kubespray DIR, kubespray\.checkout in the site file, or KUBESPRAY_DIR=DIR .*the tag is v2\.99\.0.*--no-kubespray-source/);
      return true;
    });
    said.length = 0;
    assert.equal(await planKubespraySource(model(commit), { env: {}, skip: true, log }), undefined);
    assert.match(said.join("\n"), /--no-kubespray-source: the bundle does not carry Kubespray 2\.99\.0's source/);
    assert.equal(await planKubespraySource(model("lab stand-in"), { env: { KUBESPRAY_DIR: repo }, log }), undefined);
    assert.match(said.join("\n"), /catalogue pins no git commit \("lab stand-in"\)/);
    assert.equal(await planKubespraySource(undefined, { env: {}, log }), undefined);
  });

  it("goes into the store like every file, and unpacks from there", async () => {
    const p = await planKubespraySource(model(commit), { env: { KUBESPRAY_DIR: repo }, log });
    const store = new Store(path.join(tmp, "store"));
    await store.open();
    const r = await fetchAll(store, [p!.artifact], { stderr: { write: () => true } as unknown as NodeJS.WriteStream });
    await store.close();
    rmSync(p!.scratch, { recursive: true, force: true });
    assert.deepEqual(r.failures, []);
    assert.equal(r.sizes.get("files/kubespray/kubespray-2.99.0.tar.gz"), p!.artifact.size);
    const blob = path.join(tmp, "store", BLOB_DIR, p!.artifact.sha256);
    assert.equal(sha256(blob), p!.artifact.sha256);
    assert.match(execFileSync("tar", ["-xzOf", blob, "kubespray-2.99.0/requirements.txt"], { encoding: "utf8" }), /^ansible==10\.7\.0$/m);
  });
});
