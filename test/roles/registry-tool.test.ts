/**
 * The registry role's tool on its own: the htpasswd file (bcrypt,
 * idempotent, exactly the given accounts, 0640 for the web server's group),
 * the configuration check that stands in for the `registry --check`
 * distribution lacks, and the store pruning of a registry-only host.
 */
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { ROOT } from "../helpers.js";
import { renderRole, sh, tempDir, TOOL } from "./registry-harness.js";

const ROLES = path.join(ROOT, "roles");

function tool(args: string[], input?: string) {
  const r = sh("python3", [TOOL, ...args], { input });
  return { ...r, json: r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
}

describe("registry tool", function () {
  this.timeout(120_000);
  let dir: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = tempDir("airgap-registry-tool-");
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  describe("htpasswd", () => {
    const file = () => path.join(dir, "htpasswd");
    const users = (push: string, pull: string) => JSON.stringify([
      { name: "pusher", access: "push", password: push },
      { name: "puller", access: "pull", password: pull },
    ]);
    const wwwData = () => Number(execFileSync("getent", ["group", "www-data"], { encoding: "utf8" }).split(":")[2]);

    it("writes bcrypt accounts, 0640 for the web server's group; a re-run changes nothing", () => {
      const first = tool(["htpasswd", file(), "5", "www-data"], users("p1-long-secret", "p2-long-secret"));
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(first.json, { changed: true, users: ["pusher", "puller"] });
      const text = readFileSync(file(), "utf8");
      assert.match(text, /^pusher:\$2y\$05\$.{53}\npuller:\$2y\$05\$.{53}\n$/);
      const st = statSync(file());
      assert.equal(st.mode & 0o777, 0o640);
      assert.equal(st.gid, wwwData());
      assert.equal(sh("htpasswd", ["-v", "-i", file(), "puller"], { input: "p2-long-secret" }).code, 0);
      assert.deepEqual(tool(["htpasswd", file(), "5", "www-data"], users("p1-long-secret", "p2-long-secret")).json, { changed: false, users: ["pusher", "puller"] });
      assert.equal(readFileSync(file(), "utf8"), text);
    });

    it("re-hashes only a changed password, and drops accounts no longer listed", () => {
      const before = readFileSync(file(), "utf8").split("\n");
      assert.equal(tool(["htpasswd", file(), "5", "www-data"], users("p1-long-secret", "new-pull-secret")).json?.changed, true);
      const after = readFileSync(file(), "utf8").split("\n");
      assert.equal(after[0], before[0], "pusher's hash kept");
      assert.notEqual(after[1], before[1]);
      assert.equal(tool(["htpasswd", file(), "5", "www-data"], JSON.stringify([{ name: "pusher", password: "p1-long-secret" }])).json?.changed, true);
      assert.match(readFileSync(file(), "utf8"), /^pusher:[^\n]+\n$/);
    });

    it("creates the file with its final mode and group, exclusively, never through a symbolic link planted at its path", () => {
      const target = path.join(dir, "not-the-htpasswd");
      writeFileSync(target, "keep me\n");
      const planted = path.join(dir, "htpasswd-planted");
      symlinkSync(target, planted);
      const r = tool(["htpasswd", planted, "5", "www-data"], users("p1-long-secret", "p2-long-secret"));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(target, "utf8"), "keep me\n", "the link's target is untouched");
      const st = lstatSync(planted);
      assert.ok(st.isFile() && (st.mode & 0o777) === 0o640 && st.gid === wwwData());
      // The new content's file has its final mode and group before it is renamed into place; create() never opens an existing name or a link.
      const probe = sh("python3", ["-c", [
        "import os, sys",
        "sys.path.insert(0, sys.argv[1])",
        "import airgap_store as s",
        "seen = []",
        "real = os.replace",
        "def replace(a, b):",
        "    st = os.lstat(a); seen.append('%o %d' % (st.st_mode & 0o7777, st.st_gid)); real(a, b)",
        "os.replace = replace",
        "s.write_if_changed(sys.argv[2], b'x\\n', 0o640, int(sys.argv[3]))",
        "for bad in (sys.argv[2], sys.argv[4]):",
        "    try:",
        "        s.create(bad, b'y', 0o600); seen.append('created ' + bad)",
        "    except OSError as e:",
        "        seen.append(type(e).__name__)",
        "print(' | '.join(seen))",
      ].join("\n"), path.join(ROLES, "store/files"), path.join(dir, "probe"), String(wwwData()), planted]);
      assert.equal(probe.code, 0, probe.stderr);
      assert.equal(probe.stdout.trim(), `640 ${wwwData()} | FileExistsError | FileExistsError`);
    });

    it("refuses an empty password or a bad name, without printing any password", () => {
      const r = tool(["htpasswd", file(), "5", "www-data"], JSON.stringify([{ name: "pusher", password: "" }, { name: "Bad Name", password: "visible-secret" }]));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /account pusher has an empty password/);
      assert.match(r.stderr, /'Bad Name' is not a valid account name/);
      assert.doesNotMatch(r.stderr + r.stdout, /visible-secret/);
    });
  });

  describe("check-config", () => {
    let config: string;
    before(() => {
      config = renderRole(dir, {
        airgap_registry_address: "10.1.0.10",
        airgap_registry_names: ["registry.test"],
        airgap_registry_users: [],
        airgap_registry_storage: "/srv/registry",
        airgap_registry_socket: "/run/airgap-registry/registry.sock",
      }).config;
    });
    const variant = (name: string, text: string) => {
      const f = path.join(dir, `${name}.yml`);
      writeFileSync(f, text);
      return tool(["check-config", f]);
    };

    it("accepts the role's configuration: a unix socket behind nginx, filesystem storage, no auth or TLS of its own", () => {
      const r = tool(["check-config", config]);
      assert.equal(r.code, 0, r.stderr);
      const text = readFileSync(config, "utf8");
      assert.match(text, /^ {2}addr: \/run\/airgap-registry\/registry\.sock$/m);
      assert.match(text, /^ {2}net: unix$/m);
      assert.match(text, /^ {4}rootdirectory: \/srv\/registry$/m);
    });

    it("refuses what would expose or break the registry, naming the key", () => {
      const base = readFileSync(config, "utf8");
      const cases: [string, string, RegExp][] = [
        ["public", base.replace("net: unix", "net: tcp").replace("/run/airgap-registry/registry.sock", "0.0.0.0:5001"), /http\.net must be unix/],
        ["loopback", base.replace("net: unix", "net: tcp").replace("/run/airgap-registry/registry.sock", "127.0.0.1:5001"), /a TCP port would let any local process push/],
        ["no-net", base.replace("  net: unix\n", ""), /http\.net must be unix/],
        ["auth", `${base}auth:\n  htpasswd: {realm: r, path: /etc/x}\n`, /auth: accounts are checked by nginx/],
        ["proxy", `${base}proxy:\n  remoteurl: https://registry-1.docker.io\n`, /proxy: a pull-through cache would reach outside/],
        ["typo", `${base}storgae: {}\n`, /unknown top-level keys: storgae/],
        ["version", base.replace("version: '0.1'", "version: '0.2'"), /version must be 0\.1/],
        ["s3", base.replace("storage:\n", "storage:\n  s3: {bucket: b}\n"), /exactly one storage driver, filesystem/],
        ["yaml", "version: [", /is not readable YAML/],
      ];
      for (const [name, text, message] of cases) {
        const r = variant(name, text);
        assert.equal(r.code, 1, `${name} must be refused`);
        assert.match(r.stderr, message, name);
      }
    });
  });

  it("prune removes only the blobs the manifest does not list, once its signature verifies", async () => {
    const store = path.join(dir, "store");
    mkdirSync(path.join(store, "blobs/sha256"), { recursive: true });
    const keep = "a".repeat(64);
    const drop = "b".repeat(64);
    for (const h of [keep, drop]) writeFileSync(path.join(store, "blobs/sha256", h), h);
    const manifest = path.join(dir, "manifest.json");
    const text = Buffer.from(JSON.stringify({ format: 1, site: "t", sequence: 1, created: "2026-11-30T12:00:00Z", repositories: [],
      artifacts: [{ kind: "image-blob", name: `sha256:${keep}`, source: "docker://x/y:1", path: `oci/blobs/sha256/${keep}`, size: 64, sha256: keep }] }));
    writeFileSync(manifest, text);
    const k = await keygen(path.join(dir, "keys"));
    writeFileSync(manifest + ".sig", signBytes(text, await readPrivateKey(k.privateKey)));
    const trust = ["--trusted-key", readFileSync(k.publicKey, "utf8"), "--site", "t"];
    // Unsigned, or signed by another key: refused, nothing removed.
    const other = await keygen(path.join(dir, "other"));
    const refused = tool(["prune", manifest, store, "--trusted-key", readFileSync(other.publicKey, "utf8")]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /signature does not verify/);
    assert.equal(readdirSync(path.join(store, "blobs/sha256")).length, 2);
    assert.deepEqual(tool(["prune", manifest, store, ...trust]).json, { changed: true, removed_blobs: 1 });
    assert.deepEqual(tool(["prune", manifest, store, ...trust]).json, { changed: false, removed_blobs: 0 });
    assert.equal(readFileSync(path.join(store, "blobs/sha256", keep), "utf8"), keep);
  });
});
