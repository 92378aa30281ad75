/**
 * @lab goproxy: Go modules inside the site (issue 20), with the network cut.
 *
 * The lab site plus a `goproxy` service on admin carrying rsc.io/quote v1.5.2
 * (with its own dependencies, rsc.io/sampler and golang.org/x/text),
 * github.com/google/uuid v1.6.0, and a project's go.mod requiring
 * github.com/BurntSushi/toml v1.4.0, and node1 with `go: true`, is bundled on
 * the bastion (this machine: its go command and the Go module proxy) into a
 * bundle folder of its own, compiled, and its site.yml run with that bundle.
 * Then, on node1, which has no route out: Debian's golang-go is the bundled
 * one; the go_client role's settings are what `go env` reads in an SSH
 * session; a program requiring the three modules builds and runs, every module
 * verified against sum.golang.org's answers served by the site (GOSUMDB on,
 * nothing in the environment turns verification off; the go.sum lines are the
 * bundle's); a module not carried fails with go's own 404 in under a few
 * seconds; a module zip rewritten on the server (a file inside changed: go's
 * h1: hash is over the files, so appended bytes would not do) is refused with
 * a checksum mismatch by a client with a clean module cache; the outsider gets
 * 403. A second site.yml changes nothing on any host; a new bundle adding
 * github.com/google/uuid v1.5.0 adds it to `@v/list`, and go fetches it (a
 * fresh client, and the first one, whose checksum database state is the first
 * bundle's).
 *
 * The goproxy bundles go to a folder of their own (hard links from the lab's
 * bundle, so nothing is fetched twice): later files read the lab's bundle. At
 * the end the lab's own site runs again from the store (an older bundle than
 * the goproxy ones, so taken back on purpose), as the files after this one
 * expect.
 *
 * Runs by name only (a whole-suite run, `npm test`, skips it: CI's time is
 * near its limit and this file bundles Debian's Go and runs site.yml four
 * times):
 *   flock /tmp/airgap-lab.lock npx mocha --no-config --timeout 60000 dist/test/e2e/goproxy.test.js
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE, FILES_MIRROR, formatRecap, KEYS, labBefore, phase, run, SITE, STORE, WORK, type LabRunResult } from "./fixture.js";
import { startLabUpstream } from "./upstream.js";
import { CLI } from "../helpers.js";

const DOMAIN = "lab.airgap.internal";
const PROXY = `https://goproxy.${DOMAIN}:8444`;
/** The served tree on admin (roles/goproxy's airgap_goproxy_root + /proxy). */
const SERVED = "/srv/airgap-goproxy/proxy";
/** node1's work folder for the go projects and their module caches. */
const NODE_DIR = "/root/go-e2e";
/** The go.mod of the site's project whose build list the bundle carries (relative to the site file). */
const PROJECT_GOMOD = "goproxy/project/go.mod";

/** A shell-quoted word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Whether this mocha process was given this file by name. */
function namedOnCommandLine(): boolean {
  return process.argv.slice(2).some((a) => path.basename(a).startsWith("goproxy.test."));
}

interface Manifest {
  artifacts: { kind: string; name: string; version?: string; path: string; sha256: string }[];
}

/** The program: rsc.io/quote (with its dependencies), google/uuid and BurntSushi/toml; no go.sum. */
const GO_MOD = "module example.internal/hello\n\ngo 1.19\n\nrequire (\n\tgithub.com/BurntSushi/toml v1.4.0\n\tgithub.com/google/uuid v1.6.0\n\trsc.io/quote v1.5.2\n)\n";
const MAIN_GO = `package main

import (
	"fmt"

	"github.com/BurntSushi/toml"
	"github.com/google/uuid"
	"rsc.io/quote"
)

func main() {
	var v struct{ Site string }
	if _, err := toml.Decode("Site = \\"inside\\"", &v); err != nil {
		panic(err)
	}
	fmt.Println(quote.Hello(), v.Site, len(uuid.NewString()))
}
`;

describe("@lab goproxy: Go modules from the bundle, built on a node with go's checksum verification on", function () {
  let site: LabRunResult;
  let manifest: Manifest;
  let project: string;
  let work: string;
  /** The goproxy bundles' folder (the fixture's BUNDLE stays the lab's own). */
  let bundle: string;

  /** The lab site with node1 building Go and a goproxy service carrying `modules` and the project's go.mod, written beside SITE. */
  function goSite(name: string, modules: string[]): string {
    const lab = readFileSync(SITE, "utf8");
    let out = lab.replace(`{ name: "node1", address: "10.215.0.11", os: "debian-12", roles: ["control-plane", "etcd"] }`,
      `{ name: "node1", address: "10.215.0.11", os: "debian-12", roles: ["control-plane", "etcd"], go: true }`);
    assert.notEqual(out, lab, `${SITE} has no node1 line as the test expects it`);
    const before = out;
    out = out.replace("    registry: {", `goproxy: { on: "admin", modules: ${JSON.stringify(modules)}, goMod: [${JSON.stringify(PROJECT_GOMOD)}] },
    registry: {`);
    assert.notEqual(out, before, `${SITE} has the "    registry: {" line the test adds the goproxy service before`);
    const file = path.join(path.dirname(SITE), `lab-${name}.ts`);
    writeFileSync(file, out);
    return file;
  }

  /** Bundles `siteFile` into the goproxy bundles' folder (the upstream up for the lab's images), compiles it, runs its site.yml with that bundle. */
  async function deliver(siteFile: string, name: string): Promise<{ recap: string; code: number; log: string }> {
    const upstream = await startLabUpstream(path.join(WORK, "upstream"));
    let b;
    try {
      b = await run(process.execPath, [CLI, "bundle", siteFile, "-o", bundle, "--include-base", "--files-from", FILES_MIRROR, "--cert-dir", upstream.certDir,
        "--key", path.join(KEYS, "airgap-bundle.key")], { log: path.join(WORK, `${name}-bundle.log`) });
    } finally {
      await upstream.stop();
    }
    phase(`${name}: airgap bundle`, b.ms);
    assert.equal(b.code, 0, b.stderr.slice(-3000));
    manifest = JSON.parse(readFileSync(path.join(bundle, "manifest.json"), "utf8"));
    project = path.join(WORK, `project-${name}`);
    const c = await run(process.execPath, [CLI, "compile", siteFile, "-o", project]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    const r = await site.lab.playbook(`${name}-site`, "site.yml", [], bundle, project);
    phase(`${name}: site.yml`, r.ms);
    return { recap: formatRecap(r.recap), code: r.code, log: r.log };
  }

  const bundled = (p: string) => manifest.artifacts.find((a) => a.path === p);
  /** The go.sum lines the bundle carries (goproxy/go.sum: sum.golang.org's lines for every module). */
  const bundledSums = () => {
    const a = bundled("goproxy/go.sum");
    assert.ok(a, "goproxy/go.sum not carried");
    return readFileSync(path.join(bundle, "blobs/sha256", a.sha256), "utf8").trim().split("\n");
  };

  /** Writes a go project on node1 (fresh): its go.mod and, when given, main.go. */
  async function nodeProject(name: string, goMod: string, main?: string): Promise<string> {
    const dir = `${NODE_DIR}/${name}`;
    await site.lab.sh("node1", `rm -rf ${dir} ${dir}-gopath && mkdir -p ${dir}`);
    assert.equal((await site.lab.ssh("node1", `cat > ${dir}/go.mod`, goMod)).code, 0);
    if (main) assert.equal((await site.lab.ssh("node1", `cat > ${dir}/main.go`, main)).code, 0);
    return dir;
  }

  /**
   * go on node1 as a user of the site runs it: the SSH session's environment
   * (the go_client role's /etc/environment), in `dir`, with a module cache of
   * the project's own (`<dir>-gopath`, empty at first: nothing is verified
   * from an earlier download). Also its time on the node, in ms.
   */
  async function nodeGo(dir: string, args: string): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const r = await site.lab.ssh("node1",
      `cd ${dir} && export GOPATH=${dir}-gopath && s=$(date +%s%N) && { go ${args}; rc=$?; } && e=$(date +%s%N) && echo "go-e2e-ms $(( (e - s) / 1000000 ))" >&2 && exit $rc`);
    const m = /go-e2e-ms (\d+)\n?$/.exec(r.stderr);
    assert.ok(m, `no time: ${r.stdout}${r.stderr}`);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr.slice(0, m.index), ms: Number(m[1]) };
  }

  before(async function () {
    // By name only: a whole-suite run (no file named) skips it, before the lab comes up.
    if (!namedOnCommandLine()) this.skip();
    site = await labBefore(this);
    this.timeout(60 * 60_000);
    work = path.join(WORK, "goproxy");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(path.join(work, "project"), { recursive: true });
    writeFileSync(path.join(work, "project/go.mod"), "module example.internal/tools\n\ngo 1.19\n\nrequire github.com/BurntSushi/toml v1.4.0\n");
    assert.equal(path.join(path.dirname(SITE), PROJECT_GOMOD), path.join(work, "project/go.mod"));
    bundle = path.join(work, "bundle");
    const cp = await run("cp", ["-al", BUNDLE, bundle]);
    assert.equal(cp.code, 0, cp.stderr);
    const first = await deliver(goSite("go-1", ["rsc.io/quote@v1.5.2", "github.com/google/uuid@v1.6.0"]), "go-1");
    console.log(`      e2e recap, goproxy site: ${first.recap}`);
    assert.equal(first.code, 0, `site.yml with the goproxy service failed; log ${first.log}`);
  });

  after(async function () {
    if (!site) return;
    this.timeout(15 * 60_000);
    const back = await site.lab.playbook("go-back-to-lab", "site.yml", ["-e", "airgap_allow_rollback=true"], STORE);
    phase("goproxy: back to the lab site (site.yml)", back.ms);
    assert.equal(back.code, 0, `log: ${back.log}`);
  });

  it("the bundle carries Debian's Go, the modules with their dependencies and sum.golang.org's answers", () => {
    for (const name of ["golang-go", "golang-1.19-go", "golang-1.19-src"]) {
      assert.ok(manifest.artifacts.some((a) => a.kind === "deb" && a.name === name), `${name} not carried`);
    }
    for (const p of [
      "goproxy/rsc.io/quote/@v/v1.5.2.zip", "goproxy/rsc.io/quote/@v/v1.5.2.info", "goproxy/rsc.io/quote/@v/v1.5.2.mod",
      // quote's own dependencies.
      "goproxy/rsc.io/sampler/@v/v1.3.0.zip", "goproxy/golang.org/x/text/@v/v0.0.0-20170915032832-14c0d48ead0c.zip",
      "goproxy/github.com/google/uuid/@v/v1.6.0.zip",
      // The project's go.mod's build list (an upper-case letter: escaped as the protocol says).
      "goproxy/github.com/!burnt!sushi/toml/@v/v1.4.0.zip",
      "goproxy/sumdb/sum.golang.org/lookup/rsc.io/quote@v1.5.2", "goproxy/go.sum",
    ]) assert.ok(bundled(p), `${p} not carried`);
    assert.ok(bundledSums().includes("rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y="));
  });

  it("node1 has no way out, Debian's go from the bundle, and the site's GOPROXY/GOSUMDB in every session", async () => {
    // No default route (the lab's hosts have none; the site's gateway adds none).
    const routes = await site.lab.sh("node1", "cat /proc/net/route");
    assert.ok(!routes.split("\n").slice(1).some((l) => l.split(/\s+/)[1] === "00000000"), routes);
    for (const name of ["golang-go", "golang-1.19-go"]) {
      const installed = (await site.lab.sh("node1", `dpkg-query -W -f '\${Status} \${Version}' ${name}`)).trim();
      const deb = manifest.artifacts.find((a) => a.kind === "deb" && a.name === name);
      assert.equal(installed, `install ok installed ${deb?.version}`, name);
    }
    assert.match(await site.lab.sh("node1", "go version"), /^go version go1\.19\./);
    // What go reads in a plain SSH session (pam_env: /etc/environment), nothing set by the test.
    const env = await site.lab.sh("node1", "go env GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE GOFLAGS GONOSUMCHECK");
    assert.equal(env, `${PROXY}\nsum.golang.org\n\n\n\n\n\n`);
    // And in a login shell (/etc/profile.d).
    assert.equal(await site.lab.sh("node1", "env -i HOME=/root PATH=/usr/bin:/bin sh -lc 'go env GOPROXY GOSUMDB'"), `${PROXY}\nsum.golang.org\n`);
  });

  let buildDir: string;

  it("go build of a program requiring three carried modules (one with dependencies), each verified against sum.golang.org's answer", async function () {
    this.timeout(10 * 60_000);
    buildDir = await nodeProject("build", GO_MOD, MAIN_GO);
    // -mod=mod: the program comes without a go.sum; go adds the lines it verified.
    const b = await nodeGo(buildDir, "build -mod=mod -o hello .");
    console.log(`      go build on node1: ${b.ms} ms`);
    assert.equal(b.code, 0, b.stderr);
    // rsc.io/sampler picks its greeting from LANG ("Hello, world." or "Ahoy, world!").
    assert.match(await site.lab.sh("node1", `${buildDir}/hello`), /^\S+, world[.!] inside 36\n$/);
    // The lines go wrote are lines the bundle carries (sum.golang.org's).
    const sums = bundledSums();
    const written = (await site.lab.sh("node1", `cat ${buildDir}/go.sum`)).trim().split("\n");
    assert.ok(written.length >= 10, written.join("\n"));
    for (const line of written) assert.ok(sums.includes(line), `${line} is not a line the bundle carries`);
    // go asked the site's proxy for the checksum database's answers and tiles.
    const access = await site.lab.sh("admin", "cat /var/log/nginx/airgap-goproxy.access.log");
    assert.match(access, /GET \/sumdb\/sum\.golang\.org\/supported HTTP\/[\d.]+" 200/);
    for (const m of ["rsc.io/quote@v1.5.2", "rsc.io/sampler@v1.3.0", "github.com/google/uuid@v1.6.0", "github.com/!burnt!sushi/toml@v1.4.0"]) {
      assert.match(access, new RegExp(`GET /sumdb/sum\\.golang\\.org/lookup/${m.replace(/[.!]/g, "\\$&")} HTTP/[\\d.]+" 200`), m);
    }
    assert.match(access, /GET \/sumdb\/sum\.golang\.org\/tile\/8\/\S+ HTTP\/[\d.]+" 200/);
  });

  it("a module the site does not carry fails with go's own 404, at once", async () => {
    const dir = await nodeProject("missing", "module example.internal/missing\n\ngo 1.19\n");
    const r = await nodeGo(dir, "get github.com/pkg/errors@v0.9.1");
    console.log(`      go get of a module not carried: ${r.ms} ms`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`github\\.com/pkg/errors@v0\\.9\\.1: reading ${PROXY.replace(/\./g, "\\.")}/github\\.com/pkg/errors/@v/v0\\.9\\.1\\.(info|mod): 404 Not Found`));
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  });

  it("a module zip changed on the server is refused: checksum mismatch against sum.golang.org's answer", async function () {
    this.timeout(10 * 60_000);
    const served = `${SERVED}/github.com/google/uuid/@v/v1.6.0.zip`;
    const saved = "/root/go-e2e-uuid-v1.6.0.zip";
    const sha = bundled("goproxy/github.com/google/uuid/@v/v1.6.0.zip")!.sha256;
    assert.equal((await site.lab.sh("admin", `sha256sum ${served}`)).split(/\s+/)[0], sha);
    await site.lab.sh("admin", `cp ${served} ${saved}`);
    try {
      // One source file changed inside a valid zip, written over the served file (its owner and mode kept).
      const py = [
        "import io, sys, zipfile",
        "src, dst = sys.argv[1], sys.argv[2]",
        "buf = io.BytesIO()",
        "zin = zipfile.ZipFile(src)",
        "zout = zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED)",
        "n = 0",
        "for i in zin.infolist():",
        "    data = zin.read(i.filename)",
        "    if i.filename.endswith('/uuid.go'):",
        "        data += b'\\n// tampered\\n'",
        "        n += 1",
        "    zout.writestr(i, data)",
        "zout.close()",
        "assert n == 1, n",
        "with open(dst, 'wb') as f:",
        "    f.write(buf.getvalue())",
      ].join("\n");
      const t = await site.lab.ssh("admin", `python3 - ${saved} ${served}`, py);
      assert.equal(t.code, 0, t.stderr);
      assert.notEqual((await site.lab.sh("admin", `sha256sum ${served}`)).split(/\s+/)[0], sha);
      // A client with a clean module cache (nothing downloaded or verified before).
      const dir = await nodeProject("tampered", GO_MOD, MAIN_GO);
      const r = await nodeGo(dir, "build -mod=mod -o hello .");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /github\.com\/google\/uuid@v1\.6\.0: verifying module: checksum mismatch\n\tdownloaded: h1:\S+\n\tsum\.golang\.org: h1:\S+\n\nSECURITY ERROR/);
      // The hash go compared with is sum.golang.org's line, as the bundle carries it.
      const line = bundledSums().find((l) => l.startsWith("github.com/google/uuid v1.6.0 h1:"));
      assert.ok(line && r.stderr.includes(`\tsum.golang.org: ${line.split(" ")[2]}\n`), `${line}\n${r.stderr}`);
    } finally {
      await site.lab.sh("admin", `cat ${saved} > ${served} && rm -f ${saved}`);
    }
    assert.equal((await site.lab.sh("admin", `sha256sum ${served}`)).split(/\s+/)[0], sha);
  });

  it("the outsider is refused (403)", async () => {
    const admin = site.lab.address("admin");
    assert.equal(await site.lab.httpsStatus("outsider", `https://${admin}:8444/rsc.io/quote/@v/list`), 403);
    assert.equal(await site.lab.httpsStatus("outsider", `https://${admin}:8444/sumdb/sum.golang.org/supported`), 403);
  });

  it("a second site.yml changes nothing", async function () {
    this.timeout(20 * 60_000);
    const again = await site.lab.playbook("go-2-site", "site.yml", [], bundle, project);
    console.log(`      e2e recap, goproxy second run: ${formatRecap(again.recap)}`);
    assert.equal(again.code, 0, again.log);
    for (const [host, r] of again.recap) assert.equal(r.changed, 0, `${host} changed ${r.changed} (log ${again.log})`);
  });

  it("a new bundle adding github.com/google/uuid v1.5.0 adds it to @v/list; go fetches it", async function () {
    this.timeout(30 * 60_000);
    const bump = await deliver(goSite("go-bump", ["rsc.io/quote@v1.5.2", "github.com/google/uuid@v1.6.0", "github.com/google/uuid@v1.5.0"]), "go-bump");
    console.log(`      e2e recap, goproxy bump: ${bump.recap}`);
    assert.equal(bump.code, 0, bump.log);
    assert.equal(await site.lab.sh("admin", `cat ${SERVED}/github.com/google/uuid/@v/list`), "v1.5.0\nv1.6.0\n");
    assert.match(await site.lab.sh("admin", `cat ${q(`${SERVED}/github.com/google/uuid/@latest`)}`), /"Version":\s*"v1\.6\.0"/);
    // A fresh client: the new version, verified.
    const dir = await nodeProject("bump", "module example.internal/bump\n\ngo 1.19\n");
    const got = await nodeGo(dir, "get github.com/google/uuid@v1.5.0");
    assert.equal(got.code, 0, got.stderr);
    const versions = await nodeGo(dir, "list -m -versions github.com/google/uuid");
    assert.equal(versions.code, 0, versions.stderr);
    assert.equal(versions.stdout.trim(), "github.com/google/uuid v1.5.0 v1.6.0");
    // The first client, whose checksum database state (its latest tree head) is the first bundle's.
    const again = await nodeGo(buildDir, "get github.com/google/uuid@v1.5.0");
    assert.equal(again.code, 0, again.stderr);
  });
});
