import { SBOM_FILE, serializeSbom } from "../../bundle/sbom.js";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseManifest } from "../../bundle/manifest.js";
import { packagesByHost } from "../../bundle/packages.js";
import { hashFile } from "../../bundle/store.js";
import { synth } from "../../compile/synth.js";
import { CLI, EXAMPLES } from "../helpers.js";
import { listFiles, needDebianMirror, sha256, tempDir } from "./helpers.js";

function airgap(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0", ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const KUBECTL = "https://dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubectl";
const KUBECTL_CONTENT = "not really kubectl\n";

function smallSite(dir: string, extra = ""): string {
  const file = path.join(dir, "site.ts");
  writeFileSync(
    file,
    `import { defineSite } from "airgap";
export default defineSite({
  name: "small", domain: "small.internal",
  networks: [{ name: "site", cidr: "10.40.0.0/24" }],
  hosts: [${extra || `{ name: "admin", address: "10.40.0.10", os: "debian-12", roles: ["admin"] }`}],
  services: {
    repos: { on: "admin", tls: false, plainHttp: true, files: [{ url: "${KUBECTL}", sha256: "${sha256(KUBECTL_CONTENT)}" }] },
  },
});
`,
  );
  return file;
}

describe("bundle command", function () {
  this.timeout(300000);
  let tmp: string;
  beforeEach(() => (tmp = tempDir("airgap-bundle-cmd-")));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("exits 2 without a bundle folder, or with a bad --mirror", () => {
    smallSite(tmp);
    const r = airgap(["bundle", "site.ts"], tmp);
    assert.equal(r.code, 2);
    assert.match(r.err, /needs the bundle folder: -o DIR/);
    const m = airgap(["bundle", "site.ts", "-o", "b", "--mirror", "fedora=http://x/"], tmp);
    assert.equal(m.code, 2);
    assert.match(m.err, /--mirror fedora=http:\/\/x\/: write NAME=URL/);
    assert.equal(airgap(["bundle", "--help"], tmp).code, 0);
  });

  it("exits 2 on --since or --split without --export, or a malformed size; 1 on an unreadable signing key", () => {
    smallSite(tmp);
    const since = airgap(["bundle", "site.ts", "-o", "b", "--since", "old.json"], tmp);
    assert.equal(since.code, 2);
    assert.match(since.err, /--since and --split shape the transfer file: give it with --export FILE/);
    const split = airgap(["bundle", "site.ts", "-o", "b", "--export", "t.tar", "--split", "lots"], tmp);
    assert.equal(split.code, 2);
    assert.match(split.err, /--split lots: write a size such as 700M or 4G/);
    const key = airgap(["bundle", "site.ts", "-o", "b", "--key", "no-such.key"], tmp);
    assert.equal(key.code, 1);
    assert.match(key.err, /cannot read the signing key no-such\.key/);
    assert.ok(!existsSync(path.join(tmp, "b")));
  });

  it("exits 1 on an invalid site, with its diagnostics, and creates nothing", () => {
    writeFileSync(path.join(tmp, "site.ts"), readFileSync(path.join(EXAMPLES, "site.ts"), "utf8").replace('"10.20.0.31"', '"10.99.0.31"'));
    const r = airgap(["bundle", "site.ts", "-o", "b"], tmp);
    assert.equal(r.code, 1);
    assert.match(r.err, /AG033/);
    assert.ok(!existsSync(path.join(tmp, "b")));
  });

  it("exits 1 naming the mirror when it is unreachable, and writes no manifest", () => {
    smallSite(tmp);
    const r = airgap(
      ["bundle", "site.ts", "-o", "b", "--cache", "cache", "--mirror", "debian=http://127.0.0.1:9/debian", "--mirror", "debian-security=http://127.0.0.1:9/debian-security"],
      tmp,
    );
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /mirror debian: http:\/\/127\.0\.0\.1:9\/debian \(option\)/);
    assert.match(r.err, /error: debian-12 \(amd64\): could not fetch the package indexes from http:\/\/127\.0\.0\.1:9\/debian bookworm main/);
    assert.match(r.err, /hint: check that the mirror is reachable from here, or choose another one with --mirror debian=URL/);
    assert.ok(!existsSync(path.join(tmp, "b", "manifest.json")));
  });

  it("refuses RHEL-family hosts clearly until the RPM path is built", () => {
    // The repository server's role runs on Debian and Ubuntu only: the compiler refuses it at the host.
    smallSite(tmp, `{ name: "admin", address: "10.40.0.10", os: "rocky-9", roles: ["admin"] }`);
    const admin = airgap(["bundle", "site.ts", "-o", "b"], tmp);
    assert.equal(admin.code, 1);
    assert.match(admin.err, /site\.ts:5:\d+ - error AG039: host "admin" runs rocky-9, which the repo_server role placed on it does not support/);
    // A RHEL-family node is valid, but its packages cannot be bundled yet.
    smallSite(tmp, `{ name: "admin", address: "10.40.0.10", os: "debian-12", roles: ["admin"] }, { name: "n1", address: "10.40.0.11", os: "rocky-9", roles: ["control-plane", "etcd", "worker"] }`);
    const node = airgap(["bundle", "site.ts", "-o", "b"], tmp);
    assert.equal(node.code, 1);
    assert.match(node.err, /RPM bundles are designed \(docs\/bundle\.md, "RHEL"\) but not implemented yet: rocky-9 amd64 \(n1\)/);
  });

  describe("a real debian-12 bundle @network", () => {
    let dir: string;
    // The controller's kit has its own test (kit.test.ts).
    const args = ["bundle", "site.ts", "-o", "b", "--cache", "cache", "--files-from", "files-mirror", "--no-kit"];
    let dry: ReturnType<typeof airgap>;
    let first: ReturnType<typeof airgap>;
    let text: string;
    let dryCreatedBundle: boolean;

    before(async function () {
      await needDebianMirror(this);
      dir = tempDir("airgap-bundle-real-");
      smallSite(dir);
      const mirror = path.join(dir, "files-mirror");
      mkdirSync(path.join(mirror, "dl.k8s.io/release/v1.32.8/bin/linux/amd64"), { recursive: true });
      writeFileSync(path.join(mirror, "dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubectl"), KUBECTL_CONTENT);
      dry = airgap([...args, "--dry-run"], dir);
      dryCreatedBundle = existsSync(path.join(dir, "b"));
      first = airgap(args, dir);
      text = readFileSync(path.join(dir, "b", "manifest.json"), "utf8");
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    it("--dry-run prints what it would fetch per kind and writes nothing", () => {
      assert.equal(dry.code, 0, dry.err);
      assert.match(dry.out, /would fetch:\n/);
      assert.match(dry.out, /^ {2}deb +\d+ +\d+ +[\d.]+ [kM]B/m);
      assert.match(dry.out, /^ {2}file +1 +1 +19 B/m);
      assert.ok(!dryCreatedBundle, "the dry run did not create the bundle folder");
    });

    it("bundles the site's packages and files, with a plain line per artifact when not on a terminal", () => {
      assert.equal(first.code, 0, first.err);
      assert.match(first.err, /debian-12 amd64: \d+ packages/);
      assert.match(first.err, /\[1\/\d+\] fetched /);
      assert.match(first.out, /fetched \d+ \(.*\), 0 already in the store; manifest written/);
      const m = parseManifest(text);
      assert.equal(m.site, "small");
      // The SBOM beside the manifest, made from its bytes: one component per artifact.
      assert.equal(readFileSync(path.join(dir, "b", SBOM_FILE), "utf8"), serializeSbom(m, Buffer.from(text)));
      assert.equal((JSON.parse(readFileSync(path.join(dir, "b", SBOM_FILE), "utf8")) as { components: unknown[] }).components.length, m.artifacts.length);
      assert.deepEqual(m.repositories, [{ kind: "apt", release: "debian-12", path: "debian", suite: "bookworm", pool: "pool/bookworm", architectures: ["amd64"] }]);
      const names = m.artifacts.filter((a) => a.kind === "deb").map((a) => a.name);
      // What the roles on the admin install (repo_server, the nginx role it includes, and ca for nginx's certificate).
      for (const n of ["nginx", "apt-utils", "gnupg", "python3-apt", "python3-cryptography", "openssl"]) assert.ok(names.includes(n), n);
      assert.ok(!names.includes("libc6"), "libc6 is on the minimal host");
      assert.deepEqual(
        m.artifacts.find((a) => a.kind === "file"),
        {
          kind: "file",
          name: "kubectl",
          source: KUBECTL,
          path: "files/dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubectl",
          size: KUBECTL_CONTENT.length,
          sha256: sha256(KUBECTL_CONTENT),
        },
      );
    });

    it("holds every blob the manifest lists, with its size and digest, and nothing half-written", async () => {
      const m = parseManifest(text);
      for (const a of m.artifacts) {
        assert.deepEqual(await hashFile(path.join(dir, "b", "blobs", "sha256", a.sha256)), { sha256: a.sha256, size: a.size }, a.path);
      }
      assert.deepEqual(listFiles(path.join(dir, "b")).filter((f) => !f.startsWith("blobs/sha256/")), ["manifest.json", SBOM_FILE]);
    });

    it("is complete: on a minimal host, the bundle alone installs the host's packages", async function () {
      if (spawnSync("apt-ftparchive", ["--version"]).error) {
        process.stderr.write("      skipped: apt-ftparchive (apt-utils) is not installed\n");
        this.skip();
      }
      const m = parseManifest(text);
      const web = path.join(dir, "web");
      for (const a of m.artifacts) {
        mkdirSync(path.dirname(path.join(web, a.path)), { recursive: true });
        linkSync(path.join(dir, "b", "blobs", "sha256", a.sha256), path.join(web, a.path));
      }
      const pool = path.join(web, "debian", "pool", "bookworm");
      writeFileSync(path.join(pool, "Packages"), execFileSync("apt-ftparchive", ["packages", "."], { cwd: pool, stdio: ["ignore", "pipe", "ignore"] }));
      const root = path.join(dir, "check");
      for (const d of ["etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial"]) mkdirSync(path.join(root, d), { recursive: true });
      writeFileSync(path.join(root, "sources.list"), `deb [trusted=yes] file:${pool} ./\n`);
      const o = Object.entries({
        "Dir::State": path.join(root, "state"),
        "Dir::State::status": path.join(dir, "cache", "apt", "debian-12-amd64", "status.minimal"),
        "Dir::Cache": path.join(root, "cache"),
        "Dir::Etc::SourceList": path.join(root, "sources.list"),
        "Dir::Etc::SourceParts": path.join(root, "etc/sources.list.d"),
        "Dir::Etc::PreferencesParts": path.join(root, "etc/preferences.d"),
        "APT::Architecture": "amd64",
        "APT::Architectures": "amd64",
        "Debug::NoLocking": "true",
      }).flatMap(([k, v]) => ["-o", `${k}=${v}`]);
      execFileSync("apt-get", [...o, "update", "-qq"], { stdio: "ignore" });
      const site = (await synth(path.join(dir, "site.ts"))).site!;
      for (const { host, packages } of packagesByHost(site)) {
        const r = spawnSync("apt-get", [...o, "install", "-s", "--no-install-recommends", ...packages], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
        assert.equal(r.status, 0, `${host.name}: ${r.stdout.slice(-2000)}${r.stderr}`);
      }
    });

    it("finds nothing to do on a second run, and writes the same manifest bytes", () => {
      const second = airgap(args, dir);
      assert.equal(second.code, 0, second.err);
      assert.match(second.out, /nothing to download: all \d+ artifacts were already in the store; manifest unchanged/);
      assert.doesNotMatch(second.err, /fetched /);
      assert.equal(readFileSync(path.join(dir, "b", "manifest.json"), "utf8"), text);
      const dryAgain = airgap([...args, "--dry-run"], dir);
      assert.match(dryAgain.out, /would fetch nothing: the store holds every artifact/);
    });
  });
});
