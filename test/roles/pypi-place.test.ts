/**
 * How the pypi_server role brings a bundle's packages to the index host
 * (issue 23: a rerun with nothing to place is one `missing` call, not a copy
 * task per wheel), without the lab and with real files: the role's tool
 * (`airgap_pypi.py missing`, `pack`, `place`) on a packages folder holding
 * one package right, one absent, one with other bytes of the same size;
 * then the role's own tasks/bundle.yml run by ansible-playbook (connection
 * local) into a temporary root: a first run places every package, a second
 * changes nothing and sends nothing, a damaged and a removed package are put
 * back alone, check mode says so and changes nothing. The packages are the
 * lab's test wheels (test/bundle/make_wheels.py) in a signed bundle.
 *
 * Needs python3, openssl and ansible-core; skipped with a plain message otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { keygen } from "../../bundle/sign.js";
import { makeBundle } from "../bundle/bundles.js";
import { sha256 } from "../bundle/helpers.js";
import { ROOT } from "../helpers.js";
import { must, sh, tempDir } from "./registry-harness.js";

const TOOL = path.join(ROOT, "roles/pypi_server/files/airgap_pypi.py");
const MAKE_WHEELS = path.join(ROOT, "test/bundle/make_wheels.py");
const ANSIBLE_ENV = { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0", ANSIBLE_ROLES_PATH: path.join(ROOT, "roles") };
const SITE = "py";
const FILES = ["airgap_lab_base-1.0-py3-none-any.whl", "airgap_lab_controller-1.0-py3-none-any.whl", "airgap_lab_top-1.0-py3-none-any.whl"];

/** The folder a wheel is served from: its normalised project name. */
const project = (f: string) => f.split("-")[0].replace(/_/g, "-");

/** The play recap's counts for localhost. */
function recap(out: string): { ok: number; changed: number; failed: number; skipped: number } {
  const m = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)/.exec(out);
  assert.ok(m, out);
  return { ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[3]), skipped: Number(m[4]) };
}

/** What ansible-playbook printed right after a task's header: "ok", "changed", "skipping"... */
function outcome(out: string, task: string): string {
  const at = out.indexOf(`${task}] *`);
  assert.ok(at >= 0, `no task ${task} in:\n${out}`);
  return /\n(\w+):/.exec(out.slice(at))![1];
}

describe("pypi_server: only the packages the index lacks travel (missing, pack, place; the role's bundle.yml)", function () {
  this.timeout(300_000);
  let work: string;
  let pem: string;
  let bundle: string;
  let wheels: string;
  const digests: Record<string, string> = {};
  const trust = () => ["--trusted-key", pem, "--site", SITE];
  const tool = (args: string[]) => sh("python3", [TOOL, ...args]);

  before(async function () {
    const absent = ["python3", "openssl", "ansible-playbook"].filter((t) => spawnSync("sh", ["-c", `command -v "${t}"`]).status !== 0);
    if (absent.length) {
      console.log(`      skipped: ${absent.join(", ")} not installed`);
      this.skip();
    }
    work = tempDir("airgap-pypi-place-");
    const keys = await keygen(path.join(work, "keys"));
    pem = readFileSync(keys.publicKey, "utf8");
    wheels = path.join(work, "wheels");
    must("python3", [MAKE_WHEELS, wheels]);
    bundle = path.join(work, "bundle");
    await makeBundle(
      bundle,
      FILES.map((f) => {
        const content = readFileSync(path.join(wheels, f));
        digests[f] = sha256(content);
        return { kind: "wheel" as const, path: `pypi/${project(f)}/${f}`, content, name: project(f), version: "1.0" };
      }),
      keys.privateKey,
      { site: SITE, sequence: 1 },
    );
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe("the tool, on real files", () => {
    let root: string;
    let packages: string;
    const served = (f: string) => path.join(packages, project(f), f);

    before(() => {
      root = path.join(work, "tool");
      packages = path.join(root, "packages");
      mkdirSync(path.join(root, "incoming"), { recursive: true });
      for (const f of FILES) mkdirSync(path.join(packages, project(f)), { recursive: true });
      // base: right; controller: absent; top: the same size, one byte other.
      writeFileSync(served(FILES[0]), readFileSync(path.join(wheels, FILES[0])));
      const top = readFileSync(path.join(wheels, FILES[2]));
      top[top.length - 30] ^= 0xff;
      writeFileSync(served(FILES[2]), top);
    });

    it("missing: the absent package and the one with other bytes (same size), not the right one", () => {
      const r = tool(["missing", path.join(bundle, "manifest.json"), packages, ...trust()]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { changed: false, missing: [digests[FILES[1]], digests[FILES[2]]].sort(), files: 2 });
    });

    it("missing: a symbolic link to the right bytes counts as missing (a served package is a file of its own)", () => {
      const link = served(FILES[0]);
      const target = path.join(root, "elsewhere.whl");
      writeFileSync(target, readFileSync(path.join(wheels, FILES[0])));
      rmSync(link);
      symlinkSync(target, link);
      const r = tool(["missing", path.join(bundle, "manifest.json"), packages, ...trust()]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).files, 3);
      rmSync(link);
      writeFileSync(link, readFileSync(path.join(wheels, FILES[0])));
    });

    it("missing: refuses a manifest whose signature does not verify, and one made for another site", () => {
      const altered = path.join(root, "altered.json");
      const m = JSON.parse(readFileSync(path.join(bundle, "manifest.json"), "utf8"));
      m.artifacts[0].version = "2.0";
      writeFileSync(altered, JSON.stringify(m, null, 2) + "\n");
      writeFileSync(`${altered}.sig`, readFileSync(path.join(bundle, "manifest.json.sig")));
      const r = tool(["missing", altered, packages, ...trust()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /signature does not verify against the site's trusted key/);
      const other = tool(["missing", path.join(bundle, "manifest.json"), packages, "--trusted-key", pem, "--site", "elsewhere"]);
      assert.equal(other.code, 1);
      assert.match(other.stderr, /the bundle was made for site 'py', this is site 'elsewhere'/);
    });

    it("place: refuses a transfer whose blob has other bytes than its name, and places nothing", () => {
      const fake = path.join(root, "fake");
      const name = path.join(fake, "blobs/sha256", digests[FILES[1]]);
      mkdirSync(path.dirname(name), { recursive: true });
      writeFileSync(name, readFileSync(path.join(wheels, FILES[0])));
      const tar = path.join(root, "incoming/fake.tar");
      must("tar", ["-cf", tar, "-C", fake, `blobs/sha256/${digests[FILES[1]]}`]);
      const r = tool(["place", tar, path.join(bundle, "manifest.json"), packages, ...trust()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`pypi/airgap-lab-controller|${digests[FILES[1]]}`));
      assert.match(r.stderr, /arrived with \d+ bytes and sha256 [0-9a-f]{64}; the manifest says/);
      assert.ok(!existsSync(served(FILES[1])));
      assert.deepEqual(readdirSync(path.join(root, "incoming")).filter((f) => f.startsWith(".place-")), [], "its scratch folder is removed");
    });

    it("pack + place: the two packages arrive, hashed; the right one is not rewritten; then nothing is missing", () => {
      const before = statSync(served(FILES[0]));
      const tar = path.join(root, "incoming/transfer.tar");
      const p = tool(["pack", bundle, tar, digests[FILES[1]], digests[FILES[2]]]);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(JSON.parse(p.stdout).blobs, 2);
      const r = tool(["place", tar, path.join(bundle, "manifest.json"), packages, ...trust()]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { changed: true, placed: 2 });
      for (const f of FILES) {
        assert.equal(sha256(readFileSync(served(f))), digests[f], f);
        assert.equal(statSync(served(f)).mode & 0o7777, 0o644, f);
      }
      const after = statSync(served(FILES[0]));
      assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
      const again = tool(["missing", path.join(bundle, "manifest.json"), packages, ...trust()]);
      assert.deepEqual(JSON.parse(again.stdout), { changed: false, missing: [], files: 0 });
    });

    it("pack + place: the same bytes under two names travel once and are placed at both", async () => {
      const twice = path.join(work, "twice");
      const content = readFileSync(path.join(wheels, FILES[0]));
      const keys = await keygen(path.join(twice, "keys"));
      await makeBundle(path.join(twice, "bundle"), [
        { kind: "wheel", path: `pypi/airgap-lab-base/${FILES[0]}`, content, name: "airgap-lab-base", version: "1.0" },
        { kind: "wheel", path: `pypi/airgap-lab-copy/${FILES[0]}`, content, name: "airgap-lab-copy", version: "1.0" },
      ], keys.privateKey, { site: SITE, sequence: 1 });
      const m = path.join(twice, "bundle/manifest.json");
      const args = ["--trusted-key", readFileSync(keys.publicKey, "utf8"), "--site", SITE];
      const dest = path.join(twice, "packages");
      mkdirSync(path.join(twice, "incoming"));
      assert.deepEqual(JSON.parse(tool(["missing", m, dest, ...args]).stdout), { changed: false, missing: [digests[FILES[0]]], files: 2 });
      const tar = path.join(twice, "incoming/transfer.tar");
      assert.equal(tool(["pack", path.join(twice, "bundle"), tar, digests[FILES[0]]]).code, 0);
      const r = tool(["place", tar, m, dest, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { changed: true, placed: 2 });
      for (const p of ["airgap-lab-base", "airgap-lab-copy"]) assert.equal(sha256(readFileSync(path.join(dest, p, FILES[0]))), digests[FILES[0]], p);
      assert.equal(JSON.parse(tool(["missing", m, dest, ...args]).stdout).files, 0);
    });

    it("place: refuses a blob the index does not lack (nothing to place from a transfer it did not ask for)", () => {
      const tar = path.join(root, "incoming/extra.tar");
      assert.equal(tool(["pack", bundle, tar, digests[FILES[0]]]).code, 0);
      const r = tool(["place", tar, path.join(bundle, "manifest.json"), packages, ...trust()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is not a package this index lacks/);
    });
  });

  describe("the role's tasks/bundle.yml (ansible-playbook, connection local)", () => {
    let root: string;
    const served = (f: string) => path.join(root, "packages", project(f), f);

    /** roles/pypi_server/tasks/bundle.yml into `root`, the tool run from the role's folder. */
    function run(extra: string[] = []): { ok: number; changed: number; failed: number; skipped: number; out: string } {
      const playbook = path.join(work, "bundle.yml");
      writeFileSync(playbook, JSON.stringify([{
        hosts: "localhost", gather_facts: true, gather_subset: ["!all", "min"],
        tasks: [{ name: "bundle", "ansible.builtin.include_role": { name: "pypi_server", tasks_from: "bundle" } }],
      }]));
      writeFileSync(path.join(work, "vars.json"), JSON.stringify({
        airgap_pypi_server_bundle: bundle, airgap_pypi_server_site: SITE, airgap_pypi_server_trusted_key: pem, airgap_pypi_server_root: root,
        airgap_pypi_server_tool: TOOL, airgap_pypi_server_requirements: ["airgap-lab-top"], airgap_pypi_server_controller_tmp: work,
      }));
      const r = sh("ansible-playbook", ["-i", "localhost,", "-c", "local", playbook, "-e", `@${path.join(work, "vars.json")}`, ...extra], { env: ANSIBLE_ENV });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return { ...recap(r.stdout), out: r.stdout };
    }

    before(() => {
      root = path.join(work, "role");
      for (const d of ["packages", "incoming"]) mkdirSync(path.join(root, d), { recursive: true });
      chmodSync(root, 0o755);
    });

    it("a first run places every package of the bundle, each with its bytes", () => {
      const first = run();
      assert.equal(first.failed, 0);
      assert.ok(first.changed > 0, first.out);
      assert.equal(outcome(first.out, "Verify each one and place it"), "changed");
      for (const f of FILES) assert.equal(sha256(readFileSync(served(f))), digests[f], f);
      assert.deepEqual(readdirSync(path.join(root, "incoming")).sort(), ["manifest.json", "manifest.json.sig"], "the transfer is removed");
      assert.deepEqual(readdirSync(work).filter((f) => f.endsWith(".tar")), [], "the controller's tar is removed");
    });

    it("a second run changes nothing and sends nothing", () => {
      const second = run();
      assert.deepEqual([second.changed, second.failed], [0, 0], second.out);
      for (const task of ["Make a temporary file on the controller", "Pack the missing packages on the controller", "Send them", "Verify each one and place it"]) {
        assert.equal(outcome(second.out, task), "skipping", task);
      }
    });

    it("a damaged and a removed package: check mode says a run would place them and changes nothing; the run puts them back alone", () => {
      const damaged = readFileSync(served(FILES[2]));
      damaged[damaged.length - 30] ^= 0xff;
      writeFileSync(served(FILES[2]), damaged);
      rmSync(served(FILES[1]));
      const untouched = statSync(served(FILES[0]));
      const check = run(["--check"]);
      assert.deepEqual([check.changed, check.failed], [1, 0], check.out);
      assert.match(check.out, /2 package\(s\) would be sent and placed/);
      assert.ok(!existsSync(served(FILES[1])));
      assert.notEqual(sha256(readFileSync(served(FILES[2]))), digests[FILES[2]]);
      const fix = run();
      assert.equal(fix.failed, 0);
      assert.equal(outcome(fix.out, "Verify each one and place it"), "changed");
      for (const f of FILES) assert.equal(sha256(readFileSync(served(f))), digests[f], f);
      const after = statSync(served(FILES[0]));
      assert.deepEqual([after.ino, after.mtimeMs], [untouched.ino, untouched.mtimeMs], "the right package is not sent again");
      assert.equal(run().changed, 0);
    });
  });
});
