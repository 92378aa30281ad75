/**
 * Go modules inside the site (issue 20), without the lab, with the real go
 * command at both ends: a site file with a goproxy service (modules and a
 * project's go.mod) → `planGoModules` on this machine as on the bastion
 * (go get / go mod download from the Go module proxy with GOSUMDB on,
 * bundle/gosumdb completing the checksum database's tiles) → a signed
 * bundle → the goproxy role's own place.yml run by ansible-playbook
 * (connection local) into a temporary root (check, accept, missing, pack,
 * place, index; a second run changes nothing) → nginx with the role's
 * template (TLS from a throwaway site CA) on 127.0.0.1 → `go build` of a
 * program requiring three real modules (one with dependencies, one with an
 * upper-case path), with a fresh GOPATH, GOPROXY the site's proxy only,
 * GOSUMDB=sum.golang.org read through it, GOFLAGS=-mod=mod and no
 * GONOSUMDB; a module not carried fails at once with go's own message; a
 * tampered .zip is refused (checksum mismatch); a new bundle adding a version
 * adds it to @v/list. Then the go_client role, run the same way into
 * temporary files: what it writes is what `go env` reads.
 *
 * Needs go (AIRGAP_GO), the Go module proxy (as the bastion does), nginx,
 * openssl, python3 and ansible-core; skipped with a plain message otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { planGoModules, type PlannedGoModules } from "../../bundle/gomodules.js";
import { keygen } from "../../bundle/sign.js";
import type { GoproxyModel } from "../../compile/components/goproxy.js";
import { synth } from "../../compile/synth.js";
import { makeBundle } from "../bundle/bundles.js";
import { ROOT } from "../helpers.js";
import { freePort, issue, makeCa, must, sh, startNginx, tempDir, type Ca, type Proc } from "./registry-harness.js";

const GO = process.env.AIRGAP_GO ?? "go";
const TOOL = path.join(ROOT, "roles/goproxy/files/airgap_goproxy.py");
const ANSIBLE_ENV = { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0", ANSIBLE_ROLES_PATH: path.join(ROOT, "roles") };

/** The play recap's counts for localhost. */
function recap(out: string): { ok: number; changed: number; failed: number } {
  const m = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(out);
  assert.ok(m, out);
  return { ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[3]) };
}

describe("Go modules: bundled with go, placed by the goproxy role, served by nginx, built with go (GOSUMDB on)", function () {
  this.timeout(600_000);
  let work: string;
  let pem: string;
  let key: string;
  let ca: Ca;
  let root: string;
  let port: number;
  let url: string;
  let nginx: Proc | undefined;
  let plan: PlannedGoModules;
  let model: GoproxyModel;
  let bundleDir: string;
  let conf: string;

  /** A site file carrying `modules` and one project's go.mod; its goproxy model. */
  async function siteModel(dir: string, modules: string[]): Promise<GoproxyModel> {
    mkdirSync(path.join(dir, "project"), { recursive: true });
    writeFileSync(path.join(dir, "project/go.mod"), "module example.internal/project\n\ngo 1.19\n\nrequire github.com/BurntSushi/toml v1.4.0\n");
    writeFileSync(path.join(dir, "site.ts"), `import { defineSite } from "airgap";
export default defineSite({
  name: "gosite", domain: "gosite.internal",
  networks: [{ name: "site", cidr: "10.60.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.60.0.10", os: "debian-12", roles: ["admin"] },
    { name: "build", address: "10.60.0.20", os: "debian-12", go: true },
  ],
  services: { goproxy: { on: "admin", modules: ${JSON.stringify(modules)}, goMod: ["project/go.mod"] } },
});
`);
    const r = await synth(path.join(dir, "site.ts"));
    assert.deepEqual(r.errors.map((e) => e.message), []);
    return r.site!.models.goproxy!;
  }

  /** A signed bundle of a plan's files. */
  async function bundleOf(p: PlannedGoModules, dir: string): Promise<void> {
    rmSync(dir, { recursive: true, force: true });
    await makeBundle(dir, p.artifacts.map((a) => ({ kind: "file" as const, path: a.path, content: readFileSync(new URL(a.fetchUrl)), name: a.name, version: a.version })), key, { site: "gosite" });
  }

  /** roles/goproxy/tasks/place.yml, run by ansible-playbook on this machine into `root`. */
  function placeRole(bundle: string): { ok: number; changed: number; failed: number; out: string } {
    const playbook = path.join(work, "place.yml");
    writeFileSync(playbook, JSON.stringify([{
      hosts: "localhost", gather_facts: true, gather_subset: ["!all", "min"],
      tasks: [{ name: "place", "ansible.builtin.include_role": { name: "goproxy", tasks_from: "place" } }],
    }]));
    writeFileSync(path.join(work, "place-vars.json"), JSON.stringify({
      airgap_goproxy_bundle: bundle, airgap_goproxy_site: "gosite", airgap_goproxy_trusted_key: pem, airgap_goproxy_root: root,
      airgap_goproxy_tool: TOOL, airgap_goproxy_modules: model.modules, airgap_goproxy_controller_tmp: work,
    }));
    const r = sh("ansible-playbook", ["-i", "localhost,", "-c", "local", playbook, "-e", `@${path.join(work, "place-vars.json")}`], { env: ANSIBLE_ENV });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return { ...recap(r.stdout), out: r.stdout };
  }

  /** go, as a client inside: the site's proxy only, GOSUMDB through it, a fresh module cache, the site CA. */
  function goEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(GO|HTTPS?_PROXY|NO_PROXY|ALL_PROXY)/i.test(k)) env[k] = v;
    return {
      ...env,
      HOME: home, GOPATH: path.join(home, "gopath"), GOMODCACHE: path.join(home, "gopath/pkg/mod"), GOCACHE: path.join(home, "gocache"),
      GOENV: "off", GOPROXY: url, GOSUMDB: "sum.golang.org", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local", SSL_CERT_FILE: ca.crt, ...extra,
    };
  }

  /** A program requiring rsc.io/quote (with dependencies), google/uuid and BurntSushi/toml; no go.sum. */
  function program(dir: string): string {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "go.mod"), "module example.internal/hello\n\ngo 1.19\n\nrequire (\n\tgithub.com/BurntSushi/toml v1.4.0\n\tgithub.com/google/uuid v1.6.0\n\trsc.io/quote v1.5.2\n)\n");
    writeFileSync(path.join(dir, "main.go"), `package main

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
`);
    return dir;
  }

  before(async function () {
    this.timeout(900_000);
    const missing = [GO, "nginx", "openssl", "python3", "ansible-playbook"].filter((t) => spawnSync("sh", ["-c", `command -v "${t}"`]).status !== 0);
    if (missing.length) {
      console.log(`      skipped: ${missing.join(", ")} not installed`);
      this.skip();
    }
    work = tempDir("airgap-goproxy-test-");
    const keys = await keygen(path.join(work, "keys"));
    key = keys.privateKey;
    pem = readFileSync(keys.publicKey, "utf8");
    model = await siteModel(path.join(work, "site"), ["rsc.io/quote@v1.5.2", "github.com/google/uuid@v1.6.0"]);
    const log: string[] = [];
    try {
      plan = (await planGoModules(model, { log: { info: (s) => log.push(s) } }))!;
    } catch (err) {
      const m = (err as Error).message;
      if (/dial tcp|no such host|connection refused|i\/o timeout|network is unreachable/.test(m)) {
        console.log(`      skipped: the Go module proxy cannot be reached from here (${m.slice(0, 200)})`);
        this.skip();
      }
      throw err;
    }
    console.log(`      ${log.join("\n      ")}`);
    bundleDir = path.join(work, "bundle");
    await bundleOf(plan, bundleDir);
    root = path.join(work, "root");
    mkdirSync(path.join(root, "incoming"), { recursive: true });
    mkdirSync(path.join(root, "proxy"), { recursive: true });
    ca = makeCa(path.join(work, "ca"), "goproxy test site CA");
    port = await freePort();
    url = `https://127.0.0.1:${port}`;
    // The role's nginx file, rendered by Ansible with the role's defaults.
    const cert = issue(ca, "goproxy", ["goproxy.gosite.internal"]);
    conf = path.join(work, "nginx");
    mkdirSync(conf, { recursive: true });
    const playbook = path.join(conf, "render.yml");
    writeFileSync(playbook, JSON.stringify([{
      hosts: "localhost", gather_facts: false,
      vars_files: [path.join(ROOT, "roles/goproxy/defaults/main.yml"), path.join(ROOT, "roles/nginx/defaults/main.yml"), path.join(ROOT, "roles/nginx/vars/main.yml")],
      tasks: [
        { name: "tls", "ansible.builtin.template": { src: path.join(ROOT, "roles/nginx/templates/tls.conf.j2"), dest: path.join(conf, "tls.conf"), mode: "0644" } },
        { name: "nginx", "ansible.builtin.template": { src: path.join(ROOT, "roles/goproxy/templates/airgap-goproxy.conf.j2"), dest: path.join(conf, "goproxy.conf"), mode: "0644" } },
      ],
    }]));
    writeFileSync(path.join(conf, "vars.json"), JSON.stringify({
      airgap_nginx_tls_profile: path.join(conf, "tls.conf"), airgap_nginx_log_dir: conf,
      airgap_goproxy_address: "127.0.0.1", airgap_goproxy_port: port, airgap_goproxy_names: ["goproxy.gosite.internal"],
      airgap_goproxy_allow: [], airgap_goproxy_root: root, airgap_goproxy_certificate: cert.crt, airgap_goproxy_certificate_key: cert.key,
    }));
    must("ansible-playbook", ["-i", "localhost,", "-c", "local", playbook, "-e", `@${path.join(conf, "vars.json")}`], { env: ANSIBLE_ENV });
  });

  after(async () => {
    await nginx?.stop();
    if (plan) rmSync(plan.scratch, { recursive: true, force: true });
  });

  it("carries each module's .info/.mod/.zip, sum.golang.org's answers and tiles, and the go.sum lines the database vouches for", () => {
    const paths = new Set(plan.artifacts.map((a) => a.path));
    for (const p of [
      "goproxy/rsc.io/quote/@v/v1.5.2.zip", "goproxy/rsc.io/quote/@v/v1.5.2.info", "goproxy/rsc.io/quote/@v/v1.5.2.mod",
      "goproxy/rsc.io/sampler/@v/v1.3.0.zip", "goproxy/github.com/google/uuid/@v/v1.6.0.zip",
      "goproxy/github.com/!burnt!sushi/toml/@v/v1.4.0.zip", "goproxy/sumdb/sum.golang.org/lookup/rsc.io/quote@v1.5.2",
      "goproxy/sumdb/sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.4.0", "goproxy/go.sum",
    ]) assert.ok(paths.has(p), `${p} not carried`);
    assert.ok([...paths].some((p) => p.startsWith("goproxy/sumdb/sum.golang.org/tile/8/")), "no tile carried");
    assert.ok(![...paths].some((p) => /\.(lock|ziphash|partial)$|\/@v\/list$/.test(p)), "the module cache's own files are not served");
    // The project's own module is not carried; the lines are the database's.
    assert.ok(![...paths].some((p) => p.includes("example.internal")));
    assert.ok(plan.sums.includes("rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y="), plan.sums.join("\n"));
    const lookup = readFileSync(new URL(plan.artifacts.find((a) => a.path === "goproxy/sumdb/sum.golang.org/lookup/rsc.io/quote@v1.5.2")!.fetchUrl), "utf8");
    assert.match(lookup, /^\d+\nrsc\.io\/quote v1\.5\.2 h1:w5fcysjrx7yqtD\/aO\+QwRjYZOKnaM9Uh2b40tElTs3Y=\n/);
    assert.match(lookup, /\n— sum\.golang\.org /);
  });

  it("the role's place.yml places every file, checked against the signed manifest; a second run changes nothing", async () => {
    const first = placeRole(bundleDir);
    assert.ok(first.changed > 0, first.out);
    for (const a of plan.artifacts) {
      const served = path.join(root, "proxy", a.path.slice("goproxy/".length));
      assert.ok(existsSync(served), served);
    }
    assert.equal(readFileSync(path.join(root, "proxy/rsc.io/quote/@v/list"), "utf8"), "v1.5.2\n");
    // The 2017 x/text pseudo-version is served but never listed (the protocol's rule).
    assert.equal(readFileSync(path.join(root, "proxy/golang.org/x/text/@v/list"), "utf8"), "");
    assert.match(readFileSync(path.join(root, "proxy/golang.org/x/text/@latest"), "utf8"), /v0\.0\.0-20170915032832-14c0d48ead0c/);
    assert.ok(existsSync(path.join(root, "proxy/sumdb/sum.golang.org/supported")));
    const second = placeRole(bundleDir);
    assert.equal(second.changed, 0, second.out);
    assert.equal(second.failed, 0);
    nginx = await startNginx(path.join(conf, "run"), path.join(conf, "goproxy.conf"), port);
  });

  it("go build works with GOPROXY the site only and GOSUMDB=sum.golang.org, read through the proxy", () => {
    const home = path.join(work, "client1");
    const dir = program(path.join(work, "hello"));
    const started = Date.now();
    const r = sh(GO, ["build", "-o", path.join(home, "hello"), "."], { cwd: dir, env: goEnv(home) });
    assert.equal(r.code, 0, r.stderr);
    console.log(`      go build: ${Date.now() - started} ms`);
    // rsc.io/sampler picks its greeting from LANG.
    assert.match(must(path.join(home, "hello"), []), /^\S+, world[.!] inside 36\n$/);
    // go verified each module with the database's answers, asked through the site's proxy.
    const access = readFileSync(path.join(conf, "airgap-goproxy.access.log"), "utf8");
    assert.match(access, /GET \/sumdb\/sum\.golang\.org\/supported HTTP\/[\d.]+" 200/);
    assert.match(access, /GET \/sumdb\/sum\.golang\.org\/lookup\/rsc\.io\/quote@v1\.5\.2 HTTP\/[\d.]+" 200/);
    assert.match(access, /GET \/sumdb\/sum\.golang\.org\/tile\/8\//);
    const sum = readFileSync(path.join(dir, "go.sum"), "utf8").trim().split("\n");
    for (const line of sum) assert.ok(plan.sums.includes(line), `${line} is not a line the bundle carries`);
    // Without the site CA, TLS is refused.
    const bare = sh(GO, ["mod", "download", "github.com/google/uuid@v1.6.0"], { cwd: dir, env: goEnv(path.join(work, "client-noca"), { SSL_CERT_FILE: path.join(work, "keys", "none.crt") }) });
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /certificate|x509/);
  });

  it("a module the site does not carry fails at once with go's own message", () => {
    const home = path.join(work, "client2");
    const dir = program(path.join(work, "hello2"));
    const started = Date.now();
    const r = sh(GO, ["get", "github.com/pkg/errors@v0.9.1"], { cwd: dir, env: goEnv(home) });
    const ms = Date.now() - started;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /github\.com\/pkg\/errors@v0\.9\.1: reading https:\/\/127\.0\.0\.1:\d+\/github\.com\/pkg\/errors\/@v\/v0\.9\.1\.(info|mod): 404 Not Found/);
    assert.ok(ms < 20_000, `took ${ms} ms`);
  });

  it("a tampered .zip is refused: checksum mismatch against sum.golang.org's answer", () => {
    const served = path.join(root, "proxy/github.com/google/uuid/@v/v1.6.0.zip");
    const saved = path.join(work, "uuid.zip");
    copyFileSync(served, saved);
    try {
      // One source file changed inside a valid zip: the module's h1: hash (over the files) changes.
      must("python3", ["-c", [
        "import sys, zipfile",
        "src, dst = sys.argv[1], sys.argv[2]",
        "zin = zipfile.ZipFile(src)",
        "zout = zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED)",
        "for i in zin.infolist():",
        "    data = zin.read(i.filename)",
        "    if i.filename.endswith('/uuid.go'): data += b'\\n// tampered\\n'",
        "    zout.writestr(i, data)",
        "zout.close()",
      ].join("\n"), saved, served]);
      const home = path.join(work, "client3");
      const dir = program(path.join(work, "hello3"));
      const r = sh(GO, ["build", "-o", path.join(home, "hello"), "."], { cwd: dir, env: goEnv(home) });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /github\.com\/google\/uuid@v1\.6\.0: verifying module: checksum mismatch\n\tdownloaded: h1:\S+\n\tsum\.golang\.org: h1:\S+\n\nSECURITY ERROR/);
      // The hash go compared with is the line the bundle carries, from the database.
      const line = plan.sums.find((l) => l.startsWith("github.com/google/uuid v1.6.0 h1:"))!;
      assert.ok(r.stderr.includes(`\tsum.golang.org: ${line.split(" ")[2]}\n`), line);
      // The role puts the signed bytes back on its next run.
      copyFileSync(saved, served);
      writeFileSync(served, Buffer.concat([readFileSync(saved), Buffer.from("again")]));
      const fix = placeRole(bundleDir);
      assert.equal(fix.failed, 0);
      assert.ok(fix.changed > 0, fix.out);
      assert.deepEqual(readFileSync(served), readFileSync(saved));
    } finally {
      copyFileSync(saved, served);
    }
  });

  it("refuses writes and addresses outside the allowed networks (403)", () => {
    const put = sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.crt, "-X", "PUT", "--data-binary", "x", `${url}/rsc.io/quote/@v/v9.9.9.zip`]);
    assert.equal(put.stdout, "403");
    const outsider = sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.crt, "--interface", "127.0.0.2", `${url}/rsc.io/quote/@v/list`]);
    assert.equal(outsider.stdout, "403", outsider.stderr);
    assert.equal(sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.crt, `${url}/rsc.io/quote/@v/list`]).stdout, "200");
  });

  it("a new bundle adding a version adds it to @v/list; the older version stays served", async () => {
    const dir = path.join(work, "site2");
    const m2 = await siteModel(dir, ["rsc.io/quote@v1.5.2", "github.com/google/uuid@v1.6.0", "github.com/google/uuid@v1.5.0"]);
    // As bundle() does from the bundle folder: the previous bundle's answers and tiles.
    const earlier = new Map(plan.artifacts.filter((a) => a.path.startsWith("goproxy/sumdb/")).map((a) => [a.path, fileURLToPath(a.fetchUrl)] as [string, string]));
    const log: string[] = [];
    const p2 = (await planGoModules(m2, { log: { info: (s) => log.push(s) }, earlier }))!;
    // (The proxy may still serve the first bundle's tree heads a minute later: then none is "earlier".)
    console.log(`      ${log.at(-1)}`);
    const b2 = path.join(work, "bundle2");
    await bundleOf(p2, b2);
    model = m2;
    const r = placeRole(b2);
    assert.ok(r.changed > 0);
    assert.equal(readFileSync(path.join(root, "proxy/github.com/google/uuid/@v/list"), "utf8"), "v1.5.0\nv1.6.0\n");
    assert.match(readFileSync(path.join(root, "proxy/github.com/google/uuid/@latest"), "utf8"), /"v1\.6\.0"/);
    // The first client, whose latest tree head is the first bundle's, proves the new answers from it.
    const again = sh(GO, ["get", "github.com/google/uuid@v1.5.0"], { cwd: path.join(work, "hello"), env: goEnv(path.join(work, "client1")) });
    assert.equal(again.code, 0, again.stderr);
    // A fresh client resolves it through the site: @latest and a query both answer.
    const home = path.join(work, "client4");
    const hello = program(path.join(work, "hello4"));
    const got = sh(GO, ["get", "github.com/google/uuid@v1.5.0"], { cwd: hello, env: goEnv(home) });
    assert.equal(got.code, 0, got.stderr);
    const list = must(GO, ["list", "-m", "-versions", "github.com/google/uuid"], { cwd: hello, env: goEnv(home) });
    assert.equal(list.trim(), "github.com/google/uuid v1.5.0 v1.6.0");
    assert.equal(placeRole(b2).changed, 0);
    rmSync(p2.scratch, { recursive: true, force: true });
  });

  it("the go_client role writes GOPROXY and GOSUMDB where go env reads them; a second run changes nothing", () => {
    const etc = path.join(work, "etc");
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, "environment"), 'LANG="C.UTF-8"\n');
    const playbook = path.join(work, "client.yml");
    writeFileSync(playbook, JSON.stringify([{ hosts: "localhost", gather_facts: true, gather_subset: ["!all", "min"], roles: ["go_client"] }]));
    writeFileSync(path.join(work, "client-vars.json"), JSON.stringify({
      airgap_go_proxy_url: "https://goproxy.gosite.internal:8444", airgap_go_client_packages: [],
      airgap_go_client_profile: path.join(etc, "airgap-go.sh"), airgap_go_client_environment: path.join(etc, "environment"),
    }));
    const run = () => {
      const r = sh("ansible-playbook", ["-i", "localhost,", "-c", "local", playbook, "-e", `@${path.join(work, "client-vars.json")}`], { env: ANSIBLE_ENV });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return recap(r.stdout);
    };
    assert.ok(run().changed > 0);
    assert.equal(run().changed, 0);
    assert.equal(readFileSync(path.join(etc, "environment"), "utf8"), 'LANG="C.UTF-8"\nGOPROXY=https://goproxy.gosite.internal:8444\nGOSUMDB=sum.golang.org\n');
    // What a login shell's go reads, with no other Go setting around.
    const env = goEnv(path.join(work, "client5"));
    delete env.GOPROXY;
    delete env.GOSUMDB;
    const out = must("sh", ["-c", `. "${path.join(etc, "airgap-go.sh")}" && "${GO}" env GOPROXY GOSUMDB GONOSUMDB GOPRIVATE`], { env });
    assert.equal(out, "https://goproxy.gosite.internal:8444\nsum.golang.org\n\n\n");
  });
});
