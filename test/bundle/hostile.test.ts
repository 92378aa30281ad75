/**
 * Hostile bundles, on the loopback (no lab): rollback, replay, another site's
 * bundle signed by the same key, `..` in every path-like field of the
 * manifest, a junk 1 GiB manifest member, a planted blob, an unsigned folder.
 * Each goes through the real consumers: `airgap import` (the CLI) into a
 * store, and the repository server's tool (roles/repo_server/files/
 * airgap_bundle.py: check on the controller, accept, missing, pack, ingest,
 * build on the "host") as the role runs it; the registry's and the index's
 * tools check and accept too. Each is refused, and the store and the served
 * release stay byte for byte as they were.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, writeSync, ftruncateSync, chmodSync } from "node:fs";
import path from "node:path";
import { keygen, readPrivateKey } from "../../bundle/sign.js";
import { padding, TAR_END, tarHeader } from "../../bundle/tar.js";
import { CLI, ROOT } from "../helpers.js";
import { makeBundle, tinyDeb, treeHash, type BundleSpec, type Item } from "./bundles.js";
import { sha256, tempDir } from "./helpers.js";

const BUNDLE_TOOL = path.join(ROOT, "roles/repo_server/files/airgap_bundle.py");
const REGISTRY_TOOL = path.join(ROOT, "roles/registry/files/airgap_registry.py");
const PYPI_TOOL = path.join(ROOT, "roles/pypi_server/files/airgap_pypi.py");
const SITE = "t";
const REPO = { kind: "apt" as const, release: "debian-12" as const, path: "debian", suite: "bookworm", pool: "pool/bookworm", architectures: ["amd64"] };

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], opts: { input?: string } = {}): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: opts.input, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Peak resident set size (kB) of a command, from GNU time. */
function peakRss(cmd: string, args: string[]): Run & { rssKb: number } {
  const r = sh("/usr/bin/time", ["-f", "airgap-peak-rss %M", cmd, ...args]);
  const m = /airgap-peak-rss (\d+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { ...r, rssKb: Number(m[1]) };
}

describe("hostile bundles: each refused, the store and the served release unchanged", function () {
  this.timeout(180_000);
  let tmp: string;
  let keyFile: string;
  let pubFile: string;
  let pem: string;
  const deb = (dir: string, name: string): Item => ({
    kind: "deb", name, version: "1.0", arch: "amd64", release: "debian-12", path: `debian/pool/bookworm/${name}_1.0_amd64.deb`, content: tinyDeb(dir, name),
  });
  const file = (name: string, content: Buffer = randomBytes(4000)): Item => ({ kind: "file", path: `files/up.example/${name}`, content });
  let v1: Item[];
  let v2: Item[];
  /** Bundle folders by name, made in the order the test needs (their sequences follow). */
  const bundles = new Map<string, string>();
  const transfers = new Map<string, string>();

  async function bundle(name: string, items: Item[], spec: BundleSpec = {}): Promise<string> {
    const dir = path.join(tmp, "bundles", name);
    rmSync(dir, { recursive: true, force: true });
    await makeBundle(dir, items, keyFile, { repositories: [REPO], ...spec });
    bundles.set(name, dir);
    const t = path.join(tmp, "transfers", `${name}.tar`);
    mkdirSync(path.dirname(t), { recursive: true });
    writeTransfer(dir, t);
    transfers.set(name, t);
    return dir;
  }

  /** The transfer file of a bundle folder, written here (airgap export refuses hostile manifests on the bastion already). */
  function writeTransfer(dir: string, file: string): void {
    const parts: Buffer[] = [];
    const member = (name: string, data: Buffer) => parts.push(tarHeader(name, data.length), data, Buffer.alloc(padding(data.length)));
    member("manifest.json", readFileSync(path.join(dir, "manifest.json")));
    if (existsSync(path.join(dir, "manifest.json.sig"))) member("manifest.json.sig", readFileSync(path.join(dir, "manifest.json.sig")));
    for (const h of readdirSync(path.join(dir, "blobs/sha256")).sort()) member(`blobs/sha256/${h}`, readFileSync(path.join(dir, "blobs/sha256", h)));
    parts.push(TAR_END);
    writeFileSync(file, Buffer.concat(parts));
  }

  // ------------------------------------------------------------ airgap import (the CLI)
  let store: string;
  const importCli = (name: string, extra: string[] = []) =>
    sh(process.execPath, [CLI, "import", transfers.get(name)!, "--store", store, "--trust", pubFile, ...extra]);
  /** The store without the staging folder (a refusal removes it). */
  const storeState = () => treeHash(store).split("\n").filter((l) => !l.startsWith(".import/")).join("\n");

  // ------------------------------------------------------------ the repository server's tool, as the role runs it
  let admin: string;
  const hostStore = () => path.join(admin, "store");
  const current = () => path.join(hostStore(), "manifest.json");
  const tool = (args: string[], input?: string) => sh("python3", [BUNDLE_TOOL, ...args], { input });
  const trust = () => ["--trusted-key", pem, "--site", SITE];
  /** What the admin serves and keeps: the www link, every release, the store (its incoming folder aside). */
  const served = () =>
    [
      existsSync(path.join(admin, "www")) ? readlinkSync(path.join(admin, "www")) : "(no www)",
      treeHash(path.join(admin, "releases")),
      treeHash(hostStore()).split("\n").filter((l) => !l.startsWith("incoming/")).join("\n"),
    ].join("\n--\n");

  /** The role's steps for one bundle folder; stops at the first refusal, as the play does. */
  function deliver(dir: string, o: { allowRollback?: boolean } = {}): { step: string; run: Run } {
    const log: string[] = [];
    const tool = (args: string[]) => {
      const r = sh("python3", [BUNDLE_TOOL, ...args]);
      log.push(r.stderr);
      return { ...r, stderr: log.join("") };
    };
    const check = tool(["check", dir, ...trust()]);
    if (check.status !== 0) return { step: "check", run: check };
    const incoming = path.join(hostStore(), "incoming");
    mkdirSync(incoming, { recursive: true });
    for (const f of ["manifest.json", "manifest.json.sig"]) copyFileSync(path.join(dir, f), path.join(incoming, f));
    const accept = tool(["accept", path.join(incoming, "manifest.json"), path.join(incoming, "manifest.json.sig"), current(), ...trust(), ...(o.allowRollback ? ["--allow-rollback"] : [])]);
    if (accept.status !== 0) return { step: "accept", run: accept };
    const missing = tool(["missing", current(), hostStore(), ...trust()]);
    if (missing.status !== 0) return { step: "missing", run: missing };
    const hexes = (JSON.parse(missing.stdout) as { missing: string[] }).missing;
    if (hexes.length) {
      const tar = path.join(tmp, "transfer.tar");
      const pack = tool(["pack", dir, tar, ...hexes]);
      if (pack.status !== 0) return { step: "pack", run: pack };
      const ingest = tool(["ingest", tar, current(), hostStore(), ...trust()]);
      rmSync(tar, { force: true });
      if (ingest.status !== 0) return { step: "ingest", run: ingest };
    }
    const build = tool(["build", current(), hostStore(), path.join(admin, "releases"), path.join(admin, "gnupg"), path.join(admin, "cache"),
      path.join(admin, "keyring.gpg"), path.join(admin, "keyring.asc"), ...trust()]);
    if (build.status !== 0) return { step: "build", run: build };
    const release = (JSON.parse(build.stdout) as { release: string }).release;
    rmSync(path.join(admin, "www"), { force: true });
    symlinkSync(`releases/${release}`, path.join(admin, "www"));
    return { step: "served", run: build };
  }

  function mustServe(dir: string): void {
    const d = deliver(dir);
    assert.equal(d.step, "served", `${d.step}: ${d.run.stderr}`);
  }

  before(async () => {
    tmp = tempDir("airgap-hostile-");
    ({ privateKey: keyFile, publicKey: pubFile } = await keygen(path.join(tmp, "keys")));
    pem = readFileSync(pubFile, "utf8");
    const debs = path.join(tmp, "debs");
    mkdirSync(debs);
    v1 = [deb(debs, "alpha"), file("tool")];
    v2 = [deb(debs, "alpha"), deb(debs, "beta"), file("tool"), file("next")];
    await bundle("v1", v1, { sequence: 1 });
    await bundle("v2", v2, { sequence: 2 });
    store = path.join(tmp, "store");
    for (const n of ["v1", "v2"]) {
      const r = importCli(n);
      assert.equal(r.status, 0, r.stderr);
    }
    admin = path.join(tmp, "admin");
    mkdirSync(path.join(admin, "releases"), { recursive: true });
    const key = tool(["signing-key", path.join(admin, "gnupg"), "airgap t test key", path.join(admin, "keyring.gpg"), path.join(admin, "keyring.asc")]);
    assert.equal(key.status, 0, key.stderr);
    mustServe(bundles.get("v1")!);
    mustServe(bundles.get("v2")!);
    // The served release is v2's, with a signed Release carrying Valid-Until.
    const release = readFileSync(path.join(admin, "www/debian/dists/bookworm/Release"), "utf8");
    assert.match(release, /^Valid-Until: /m);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  let storeBefore: string;
  let servedBefore: string;
  beforeEach(() => {
    storeBefore = storeState();
    servedBefore = served();
  });
  afterEach(function () {
    if (this.currentTest?.title.startsWith("(changes)")) return;
    assert.equal(storeState(), storeBefore, "the store is unchanged");
    assert.equal(served(), servedBefore, "the served release and the host's store are unchanged");
  });

  it("rollback: the older bundle (sequence 1) after sequence 2 is refused by import and by the admin", () => {
    const r = importCli("v1");
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /sequence 1 \(created [^)]+\) is older than the store's current 2 .*--allow-rollback/);
    const d = deliver(bundles.get("v1")!);
    assert.equal(d.step, "accept", d.run.stderr);
    assert.match(d.run.stderr, /the bundle is refused: sequence 1 .* is older than the current 2 .*airgap_allow_rollback=true/);
  });

  it("replay: another bundle under the current sequence (2) is refused by import and by the admin", async () => {
    await bundle("replay", [...v2, file("extra")], { sequence: 2 });
    const r = importCli("replay");
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /sequence 2 .* is the store's current one's .* with other content: a replay/);
    const d = deliver(bundles.get("replay")!);
    assert.equal(d.step, "accept", d.run.stderr);
    assert.match(d.run.stderr, /with other content: a replay/);
  });

  it("the current bundle again changes nothing (a re-run), and says so", () => {
    const r = importCli("v2");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /already holds this bundle .*sequence 2.*nothing changed/);
    const d = deliver(bundles.get("v2")!);
    assert.equal(d.step, "served", d.run.stderr);
    assert.equal((JSON.parse(d.run.stdout) as { changed: boolean }).changed, false);
  });

  it("another site's bundle signed by the same key is refused: by import (the store's site, and --site), the admin's check and accept, the registry's and the index's", async () => {
    const dir = await bundle("other-site", v2, { site: "u", sequence: 50 });
    const r = importCli("other-site");
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /made for site "u"; the store holds site "t"/);
    const fresh = path.join(tmp, "fresh-store");
    const f = sh(process.execPath, [CLI, "import", transfers.get("other-site")!, "--store", fresh, "--trust", pubFile, "--site", SITE]);
    assert.equal(f.status, 1, f.stdout);
    assert.match(f.stderr, /made for site "u", this is site "t" \(--site\)/);
    assert.ok(!existsSync(path.join(fresh, "manifest.json")));
    const d = deliver(dir);
    assert.equal(d.step, "check");
    assert.match(d.run.stderr, /made for site 'u', this is site 't'/);
    // The host's accept refuses it on its own, even without --site (the current manifest binds the site).
    const incoming = path.join(dir, "manifest.json");
    const accept = tool(["accept", incoming, incoming + ".sig", current(), "--trusted-key", pem]);
    assert.equal(accept.status, 1);
    assert.match(accept.stderr, /made for site 'u'; this host serves site 't'/);
    for (const [t, extra] of [[REGISTRY_TOOL, ["--images", "[]"]], [PYPI_TOOL, ["--packages", "[]"]]] as const) {
      const c = sh("python3", [t, "check", dir, ...trust(), ...extra]);
      assert.equal(c.status, 1, `${t}: ${c.stdout}`);
      assert.match(c.stderr, /made for site 'u', this is site 't'/);
    }
  });

  // Every field of the manifest a tool may turn into a path, one hostile bundle each.
  const evil: [string, (m: Record<string, any>) => void][] = [
    ["artifacts[].path", (m) => (m.artifacts[0].path = "debian/pool/bookworm/../../../../etc/cron.d/x")],
    ["repositories[].path", (m) => (m.repositories[0].path = "../../outside")],
    ["repositories[].pool", (m) => (m.repositories[0].pool = "pool/../../../outside")],
    ["repositories[].suite", (m) => (m.repositories[0].suite = "../../../../outside")],
    ["repositories[].architectures", (m) => (m.repositories[0].architectures = ["amd64", "../../../../outside"])],
    ["repositories[].release", (m) => (m.repositories[0].release = "../debian-12")],
    ["artifacts[].arch", (m) => (m.artifacts[0].arch = "..")],
    ["artifacts[].release", (m) => (m.artifacts[0].release = "../../x")],
    ["site", (m) => (m.site = "../t")],
  ];
  for (const [field, edit] of evil) {
    it(`'..' in ${field}: refused by import, the admin's check, accept and build, naming the field`, async () => {
      const name = `evil-${field.replace(/\W+/g, "-")}`;
      const dir = await bundle(name, v2, { edit, sequence: 100 });
      const key = field.split(".").pop()!.replace("[]", "");
      const r = importCli(name);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`\\b${key}\\b.*(not a safe relative path|not a plain name|must be relative|list of plain names)`));
      const d = deliver(dir);
      assert.equal(d.step, "check", d.run.stderr);
      assert.match(d.run.stderr, new RegExp(`\\b${key}\\b.*(not a safe relative path|not a plain name|list of plain names)`));
      const incoming = path.join(dir, "manifest.json");
      const accept = tool(["accept", incoming, incoming + ".sig", current(), ...trust()]);
      assert.equal(accept.status, 1);
      // build, given the hostile manifest directly (as if accept had been skipped), refuses it too: it checks what it reads.
      const build = tool(["build", incoming, hostStore(), path.join(admin, "releases"), path.join(admin, "gnupg"), path.join(admin, "cache"),
        path.join(admin, "keyring.gpg"), path.join(admin, "keyring.asc"), ...trust()]);
      assert.equal(build.status, 1, build.stdout);
      assert.ok(!existsSync(path.join(tmp, "outside")) && !existsSync(path.join(admin, "outside")), "nothing written outside");
    });
  }

  it("a junk 1 GiB manifest member is refused unread: import's peak RSS stays under 100 MB; so does the admin tool's on a 1 GiB manifest.json", () => {
    const junk = path.join(tmp, "transfers", "junk.tar");
    const fd = openSync(junk, "w");
    writeSync(fd, tarHeader("manifest.json", 1 << 30));
    ftruncateSync(fd, 512 + (1 << 30) + 1024); // sparse: reads as zeros
    closeSync(fd);
    transfers.set("junk", junk);
    const r = peakRss(process.execPath, [CLI, "import", junk, "--store", store, "--trust", pubFile]);
    console.log(`      peak RSS of airgap import refusing a 1 GiB manifest member: ${(r.rssKb / 1024).toFixed(1)} MB`);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /manifest\.json in the transfer is 1073741824 bytes, more than the 33554432 it may have; refused unread/);
    assert.ok(r.rssKb < 100 * 1024, `peak RSS ${r.rssKb} kB`);
    const dir = path.join(tmp, "bundles", "junk");
    mkdirSync(path.join(dir, "blobs/sha256"), { recursive: true });
    const m = openSync(path.join(dir, "manifest.json"), "w");
    ftruncateSync(m, 1 << 30);
    closeSync(m);
    writeFileSync(path.join(dir, "manifest.json.sig"), randomBytes(64));
    const p = peakRss("python3", [BUNDLE_TOOL, "check", dir, ...trust()]);
    console.log(`      peak RSS of airgap_bundle.py check refusing a 1 GiB manifest.json: ${(p.rssKb / 1024).toFixed(1)} MB`);
    assert.equal(p.status, 1);
    assert.match(p.stderr, /manifest .* has 1073741824 bytes, more than the 33554432 a manifest may have; refused unread/);
    assert.ok(p.rssKb < 100 * 1024, `peak RSS ${p.rssKb} kB`);
  });

  it("a planted staged blob (right size, other bytes) is refused by import, naming it; the staging goes", async () => {
    await bundle("v3", [...v2, file("planted-target")], { sequence: 3 });
    const newBlob = readdirSync(path.join(bundles.get("v3")!, "blobs/sha256")).find((h) => !existsSync(path.join(store, "blobs/sha256", h)))!;
    assert.ok(newBlob);
    const staged = path.join(store, ".import/blobs");
    mkdirSync(staged, { recursive: true });
    const size = readFileSync(path.join(bundles.get("v3")!, "blobs/sha256", newBlob)).length;
    writeFileSync(path.join(staged, newBlob), randomBytes(size));
    const r = importCli("v3");
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`the staged blob \\.import/blobs/${newBlob} has ${size} bytes and sha256 [0-9a-f]{64}, not the manifest's .*planted or damaged`));
    assert.ok(!existsSync(path.join(store, ".import")), "the staging folder is removed");
    // A planted blob in the store itself is refused the same way.
    const planted = path.join(store, "blobs/sha256", newBlob);
    writeFileSync(planted, randomBytes(size));
    const again = importCli("v3");
    rmSync(planted);
    assert.equal(again.status, 1, again.stdout);
    assert.match(again.stderr, new RegExp(`the store's blob ${newBlob} has ${size} bytes and sha256 [0-9a-f]{64}`));
  });

  it("(changes) a planted blob in the admin's store (right size, other bytes) is refused by build, removed, and sent again by the next run", () => {
    const dir = bundles.get("v3")!;
    const newBlob = readdirSync(path.join(dir, "blobs/sha256")).find((h) => !existsSync(path.join(hostStore(), "blobs/sha256", h)))!;
    const size = readFileSync(path.join(dir, "blobs/sha256", newBlob)).length;
    const planted = path.join(hostStore(), "blobs/sha256", newBlob);
    writeFileSync(planted, randomBytes(size));
    chmodSync(planted, 0o644);
    const www = readlinkSync(path.join(admin, "www"));
    const d = deliver(dir);
    assert.equal(d.step, "build", d.run.stderr);
    assert.match(d.run.stderr, new RegExp(`files/up\\.example/planted-target: its blob blobs/sha256/${newBlob} has sha256 [0-9a-f]{64}, the manifest says ${newBlob} \\(removed from the store`));
    assert.ok(!existsSync(planted), "the planted blob is out of the store");
    assert.equal(readlinkSync(path.join(admin, "www")), www, "still serving the same release");
    assert.equal(served().split("\n--\n")[1], servedBefore.split("\n--\n")[1], "no release changed");
    // The next run with the bundle sends the blob again, and serves v3.
    const next = deliver(dir);
    assert.equal(next.step, "served", next.run.stderr);
    assert.notEqual(readlinkSync(path.join(admin, "www")), www);
    assert.equal(sha256(readFileSync(path.join(admin, "www/files/up.example/planted-target"))), newBlob);
  });

  it("(changes) the served Release files are signed again when fewer than --renew-days of validity are left, not before", () => {
    const releaseFile = path.join(admin, "www/debian/dists/bookworm/Release");
    const buildArgs = (renew: string) => ["build", current(), hostStore(), path.join(admin, "releases"), path.join(admin, "gnupg"), path.join(admin, "cache"),
      path.join(admin, "keyring.gpg"), path.join(admin, "keyring.asc"), ...trust(), "--valid-days", "30", "--renew-days", renew];
    const before = readFileSync(releaseFile, "utf8");
    const keep = tool(buildArgs("10"));
    assert.equal(keep.status, 0, keep.stderr);
    assert.deepEqual((JSON.parse(keep.stdout) as { changed: boolean }).changed, false);
    assert.equal(readFileSync(releaseFile, "utf8"), before);
    spawnSync("sleep", ["1.1"]);
    // Check mode's plan (--mode plan) says a build would sign again, and writes nothing.
    const plan = tool([...buildArgs("31"), "--mode", "plan"]);
    assert.equal(plan.status, 0, plan.stderr);
    assert.deepEqual(JSON.parse(plan.stdout), { changed: true, release: path.basename(readlinkSync(path.join(admin, "www"))),
      path: path.join(admin, "releases", path.basename(readlinkSync(path.join(admin, "www")))), renewed: ["debian/bookworm"], planned: true });
    assert.equal(readFileSync(releaseFile, "utf8"), before);
    const quiet = tool([...buildArgs("10"), "--mode", "plan"]);
    assert.deepEqual((JSON.parse(quiet.stdout) as { changed: boolean }).changed, false);
    const renewed = tool(buildArgs("31"));
    assert.equal(renewed.status, 0, renewed.stderr);
    assert.deepEqual((JSON.parse(renewed.stdout) as { renewed: string[] }).renewed, ["debian/bookworm"]);
    const after = readFileSync(releaseFile, "utf8");
    const field = (text: string, name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(text)?.[1];
    assert.notEqual(field(after, "Valid-Until"), field(before, "Valid-Until"));
    const days = (Date.parse(field(after, "Valid-Until")!) - Date.parse(field(after, "Date")!)) / 86_400_000;
    assert.equal(days, 30);
    // gpg verifies the new InRelease with the site's key.
    const v = sh("gpgv", ["--keyring", path.join(admin, "keyring.gpg"), path.join(admin, "www/debian/dists/bookworm/InRelease")]);
    assert.equal(v.status, 0, v.stderr);
  });

  it("an unsigned bundle folder is refused by every consumer's check and accept: repository server, registry, index", async () => {
    const dir = await bundle("unsigned", v2, { sequence: 60 });
    rmSync(path.join(dir, "manifest.json.sig"));
    const incoming = path.join(dir, "manifest.json");
    for (const [t, extra] of [[BUNDLE_TOOL, []], [REGISTRY_TOOL, ["--images", "[]"]], [PYPI_TOOL, ["--packages", "[]"]]] as const) {
      const c = sh("python3", [t, "check", dir, ...trust(), ...extra]);
      assert.equal(c.status, 1, `${t} check: ${c.stdout}`);
      assert.match(c.stderr, /the bundle is unsigned/);
      const a = sh("python3", [t, "accept", incoming, incoming + ".sig", path.join(tmp, `current-${path.basename(t)}.json`), ...trust()]);
      assert.equal(a.status, 1, `${t} accept: ${a.stdout}`);
      assert.match(a.stderr, /the bundle is unsigned/);
      assert.ok(!existsSync(path.join(tmp, `current-${path.basename(t)}.json`)));
    }
  });

  it("(changes) --allow-rollback takes the older bundle on purpose, and the import log says so", () => {
    const r = importCli("v1", ["--allow-rollback"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: rollback accepted on purpose \(--allow-rollback\): sequence 1 .* is older than the store's current/);
    const log = readFileSync(path.join(store, "import.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { sequence: number; rollback?: string });
    assert.equal(log[log.length - 1].sequence, 1);
    assert.match(log[log.length - 1].rollback ?? "", /older than the store's current 2/);
    assert.equal(readFileSync(path.join(store, "manifest.json"), "utf8"), readFileSync(path.join(bundles.get("v1")!, "manifest.json"), "utf8"));
  });

  it("a store, or a host, filled before bundles were numbered takes the next bundle (its manifest counts as sequence 0), for its own site only", () => {
    const legacy = (dir: string, site: string) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ format: 1, site, repositories: [], artifacts: [] }, null, 2) + "\n");
    };
    const old = path.join(tmp, "legacy-store");
    legacy(old, SITE);
    const r = sh(process.execPath, [CLI, "import", transfers.get("v1")!, "--store", old, "--trust", pubFile]);
    assert.equal(r.status, 0, r.stderr);
    const other = path.join(tmp, "legacy-other");
    legacy(other, "u");
    const o = sh(process.execPath, [CLI, "import", transfers.get("v1")!, "--store", other, "--trust", pubFile]);
    assert.equal(o.status, 1);
    assert.match(o.stderr, /made for site "t"; the store holds site "u"/);
    const host = path.join(tmp, "legacy-host");
    legacy(host, SITE);
    const incoming = path.join(bundles.get("v1")!, "manifest.json");
    const a = tool(["accept", incoming, incoming + ".sig", path.join(host, "manifest.json"), ...trust()]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(readFileSync(path.join(host, "manifest.json"), "utf8"), readFileSync(incoming, "utf8"));
  });

  it("the signing key is refused when group- or world-readable (as ssh refuses such keys)", async () => {
    const loose = path.join(tmp, "loose.key");
    copyFileSync(keyFile, loose);
    for (const mode of [0o640, 0o604, 0o660]) {
      chmodSync(loose, mode);
      await assert.rejects(readPrivateKey(loose), new RegExp(`has mode 0${mode.toString(8)}: other users may read or change it; refused`));
    }
    const r = sh(process.execPath, [CLI, "export", bundles.get("v2")!, path.join(tmp, "x.tar"), "--key", loose]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /other users may read or change it; refused/);
    chmodSync(loose, 0o600);
    await readPrivateKey(loose);
  });
});
