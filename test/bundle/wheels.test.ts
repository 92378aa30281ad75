/**
 * The bundle's Python packages, resolved by the machine's real pip against a
 * local wheelhouse (no network), and the index the pypi_server role builds
 * from them, checked with pip itself as the client (file:// index).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { packagesByHost } from "../../bundle/packages.js";
import { planWheels, platformTags, WheelError, wheelTargets } from "../../bundle/wheels.js";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import type { PypiModel } from "../../compile/components/pypi.js";
import { synth } from "../../compile/synth.js";
import { sha256, tempDir } from "./helpers.js";
import { ROOT } from "../helpers.js";
import { parse } from "yaml";

const MAKE_WHEELS = path.join(ROOT, "test/bundle/make_wheels.py");
const TOOL = path.join(ROOT, "roles/pypi_server/files/airgap_pypi.py");
const quiet = { log: { info: () => undefined } };

function site(dir: string, pypi: string, hosts = ""): string {
  const file = path.join(dir, "site.ts");
  writeFileSync(file, `import { defineSite, fromEnv } from "airgap";
export default defineSite({
  name: "py", domain: "py.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "n1", address: "10.20.0.11", os: "debian-12", arch: "arm64", roles: ["control-plane", "etcd", "worker"] },
    ${hosts}
  ],
  services: { repos: { on: "admin" }, pypi: ${pypi} },
});
`);
  return file;
}

async function model(file: string): Promise<PypiModel> {
  const r = await synth(file);
  assert.deepEqual(r.errors, []);
  return r.site!.models.pypi!;
}

describe("pypi: the bundle's Python packages", function () {
  this.timeout(120_000);
  let tmp: string;
  let wheelhouse: string;
  beforeEach(() => {
    tmp = tempDir("airgap-pypi-");
    wheelhouse = path.join(tmp, "wheels");
    execFileSync("python3", [MAKE_WHEELS, wheelhouse]);
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("asks pip for each host's CPython and manylinux platforms", async () => {
    const m = await model(site(tmp, `{ on: "admin", packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`,
      `{ name: "n2", address: "10.20.0.12", os: "ubuntu-24.04", roles: ["worker"], python: false },`));
    const targets = wheelTargets(m);
    assert.deepEqual(targets.map((t) => [t.python, t.arch, t.hosts.join(",")]), [["3.11", "amd64", "admin"], ["3.11", "arm64", "n1"]]);
    assert.equal(targets[1].platforms[0], "manylinux_2_36_aarch64");
    assert.ok(targets[1].platforms.includes("manylinux2014_aarch64"));
    assert.ok(!targets[1].platforms.some((p) => /manylinux_2_16_/.test(p)), "aarch64 manylinux starts at glibc 2.17");
    assert.deepEqual(platformTags([2, 36], "amd64").slice(-4), ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]);
  });

  it("carries pip and venv for the Python hosts only, and venv for the index host", async () => {
    const file = site(tmp, `{ on: "admin", packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`,
      `{ name: "n2", address: "10.20.0.12", os: "debian-12", roles: ["worker"], python: false },`);
    const r = await synth(file);
    assert.deepEqual(r.errors, []);
    const lists = new Map(packagesByHost(r.site!).map((h) => [h.host.name, h.packages]));
    for (const h of ["admin", "n1"]) assert.ok(["python3-pip", "python3-venv"].every((p) => lists.get(h)!.includes(p)), `${h}: ${lists.get(h)!.join(" ")}`);
    assert.ok(!lists.get("n2")!.includes("python3-pip"), "n2 has python: false");
    assert.ok(lists.get("admin")!.includes("nginx"));
  });

  it("carries what other services need in the index (Kubespray's controller kit) for the index host's CPython", async () => {
    const m = await model(site(tmp, `{ on: "admin", packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`));
    const targets = wheelTargets(m, ["airgap-lab-controller==1.0"]);
    assert.deepEqual(targets.map((t) => [t.python, t.arch, t.hosts.join(","), t.requirements.join(" ")]), [
      ["3.11", "amd64", "admin", "airgap-lab-top airgap-lab-controller==1.0"],
      ["3.11", "arm64", "n1", "airgap-lab-top"],
    ]);
    const planned = await planWheels(m, { ...quiet, controller: ["airgap-lab-controller==1.0"] });
    assert.ok(planned.some((p) => p.path === "pypi/airgap-lab-controller/airgap_lab_controller-1.0-py3-none-any.whl"), planned.map((p) => p.path).join(" "));
  });

  it("a Kubespray site's index carries the release's controller requirements (from its catalogue)", async () => {
    const text = readFileSync(site(tmp, `{ on: "admin", source: { wheelhouse: "wheels" } }`), "utf8")
      .replace("pypi: {", `kubespray: { version: "2.28.1", kubernetes: "1.32.8", containerRuntime: "crio" },
    registry: { on: "admin", users: [{ name: "p", password: fromEnv("P"), access: "push" }, { name: "q", password: fromEnv("Q"), access: "pull" }] },
    pypi: {`);
    writeFileSync(path.join(tmp, "site.ts"), text);
    const r = await synth(path.join(tmp, "site.ts"));
    assert.deepEqual(r.errors.map((e) => e.message), []);
    assert.deepEqual(r.site!.python, ["ansible==9.13.0", "cryptography==45.0.2", "jmespath==1.0.1", "netaddr==1.3.0"]);
    const vars = r.files.get("inventory/group_vars/airgap_pypi_servers/airgap.yml")!;
    assert.match(vars, /airgap_pypi_server_requirements:\n {2}- "?ansible==9\.13\.0"?\n/);
  });

  it("resolves the listed package with its dependency from a wheelhouse, with pip's digests, and nothing else", async () => {
    const m = await model(site(tmp, `{ on: "admin", packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`));
    const planned = await planWheels(m, quiet);
    assert.deepEqual(planned.map((p) => p.path).sort(), [
      "pypi/airgap-lab-base/airgap_lab_base-1.0-py3-none-any.whl",
      "pypi/airgap-lab-top/airgap_lab_top-1.0-py3-none-any.whl",
    ]);
    for (const p of planned) {
      assert.equal(p.kind, "wheel");
      assert.equal(p.sha256, sha256(readFileSync(path.join(wheelhouse, path.basename(p.path)))));
      assert.match(p.source, /^wheelhouse\/[^/]+\.whl$/, "no path of the bastion in the manifest");
    }
  });

  it("fails with pip's own reason, naming the target, for a package the source lacks", async () => {
    const m = await model(site(tmp, `{ on: "admin", packages: ["airgap-lab-top", "not-in-the-wheelhouse"], source: { wheelhouse: "wheels" } }`));
    await assert.rejects(planWheels(m, quiet), (e: WheelError) => {
      assert.ok(e instanceof WheelError);
      assert.match(e.message, /not-in-the-wheelhouse/);
      assert.match(e.message, /No matching distribution found/);
      return true;
    });
  });

  it("devpi mode without devpi-server in the source: says so and names the way out", async () => {
    const m = await model(site(tmp, `{ on: "admin", mode: "devpi", rootPassword: fromEnv("X"), packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`));
    await assert.rejects(planWheels(m, quiet), (e: WheelError) => {
      assert.match(e.message, /devpi mode needs devpi-server/);
      assert.match(e.hint ?? "", /mode: "static"/);
      assert.match(e.hint ?? "", /pip download devpi-server/);
      return true;
    });
  });

  it("devpi's venv with web: true: devpi-web too; a dependency of it with only an sdist is built here, and refused with the way out when it cannot be", async () => {
    // Stand-ins named as devpi's projects (no network here): devpi-web needs pyramid-chameleon, of which the wheelhouse has an sdist only.
    execFileSync("python3", ["-c", [
      "import sys; sys.path.insert(0, sys.argv[1]); import make_wheels as w",
      "w.write_wheel(sys.argv[2], 'devpi_server', '6.0', [], 'X = 1\\n')",
      "w.write_wheel(sys.argv[2], 'devpi_web', '5.0', ['pyramid-chameleon'], 'X = 1\\n')",
    ].join("\n"), path.dirname(MAKE_WHEELS), wheelhouse]);
    const src = path.join(tmp, "pyramid_chameleon-0.3");
    mkdirSync(src);
    writeFileSync(path.join(src, "setup.py"), 'from setuptools import setup\nsetup(name="pyramid_chameleon", version="0.3", py_modules=[])\n');
    writeFileSync(path.join(src, "PKG-INFO"), "Metadata-Version: 1.0\nName: pyramid_chameleon\nVersion: 0.3\n");
    execFileSync("tar", ["-czf", path.join(wheelhouse, "pyramid_chameleon-0.3.tar.gz"), "-C", tmp, "pyramid_chameleon-0.3"]);
    const m = await model(site(tmp, `{ on: "admin", mode: "devpi", web: true, rootPassword: fromEnv("X"), packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`));
    assert.equal(m.web, true);
    assert.deepEqual(wheelTargets(m).find((t) => t.venv === "devpi")?.requirements, ["devpi-server", "devpi-web"]);
    // The wheelhouse has no build backend (setuptools) for pip's isolated build: the build fails, named, with the way out.
    const scratch: string[] = [];
    // A temp folder of its own: other runs on the machine make and remove build folders in the shared one.
    const savedTmp = process.env.TMPDIR;
    const privateTmp = mkdtempSync(path.join(os.tmpdir(), "airgap-wheels-test-"));
    process.env.TMPDIR = privateTmp;
    try {
      await assert.rejects(planWheels(m, { ...quiet, scratch }), (e: WheelError) => {
        assert.ok(e instanceof WheelError);
        assert.match(e.message, /^pyramid-chameleon has no wheel for CPython 3\.11 x86_64 \(admin, devpi's venv\) and building one from pyramid_chameleon-0\.3\.tar\.gz failed/);
        assert.match(e.hint ?? "", /add a wheel of pyramid-chameleon to the source/);
        return true;
      });
      assert.deepEqual(scratch, []);
      assert.deepEqual(readdirSync(privateTmp).filter((f) => f.startsWith("airgap-built-wheels-")), [], "the build folder was left behind");
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      rmSync(privateTmp, { recursive: true, force: true });
    }
    // Without a scratch list to keep built wheels in, nothing is built: devpi's own refusal.
    await assert.rejects(planWheels(m, quiet), /devpi mode needs devpi-server and its dependencies as wheels/);
    // web: false (the default) plans devpi-server alone: devpi-web's dependency is never looked at.
    const plain = await model(site(tmp, `{ on: "admin", mode: "devpi", rootPassword: fromEnv("X"), packages: ["airgap-lab-top"], source: { wheelhouse: "wheels" } }`));
    assert.equal(plain.web, false);
    const planned = await planWheels(plain, { ...quiet, scratch });
    assert.ok(planned.some((w) => w.name === "devpi-server") && !planned.some((w) => w.name === "devpi-web" || w.name === "pyramid-chameleon"));
  });

  it("carries the sdist of a listed project that has no wheel", async () => {
    // A plain setup.py sdist, as old projects publish.
    const src = path.join(tmp, "airgap-lab-sdist-1.0");
    mkdirSync(src);
    writeFileSync(path.join(src, "setup.py"), 'from setuptools import setup\nsetup(name="airgap-lab-sdist", version="1.0", py_modules=[])\n');
    writeFileSync(path.join(src, "PKG-INFO"), "Metadata-Version: 1.0\nName: airgap-lab-sdist\nVersion: 1.0\n");
    execFileSync("tar", ["-czf", path.join(wheelhouse, "airgap-lab-sdist-1.0.tar.gz"), "-C", tmp, "airgap-lab-sdist-1.0"]);
    const m = await model(site(tmp, `{ on: "admin", packages: ["airgap-lab-top", "airgap-lab-sdist"], source: { wheelhouse: "wheels" } }`));
    const lines: string[] = [];
    const planned = await planWheels(m, { log: { info: (s) => lines.push(s) } });
    assert.ok(planned.some((p) => p.path === "pypi/airgap-lab-sdist/airgap-lab-sdist-1.0.tar.gz"), JSON.stringify(planned));
    assert.ok(planned.some((p) => p.name === "airgap-lab-base"));
    assert.ok(lines.some((l) => /airgap-lab-sdist has no wheel/.test(l)), lines.join("\n"));
  });
});

/**
 * Requires-Python is checked against each target's CPython (its hosts' OS),
 * not against the bastion's Python that runs pip: one bastion plans for
 * targets 3.10 (Ubuntu 22.04) and 3.11 (Debian 12) from one wheelhouse.
 */
describe("pypi: wheels per target interpreter (Requires-Python)", function () {
  this.timeout(120_000);
  let tmp: string;
  beforeEach(() => {
    tmp = tempDir("airgap-pypi-py-");
    const wheelhouse = path.join(tmp, "wheels");
    execFileSync("python3", [MAKE_WHEELS, wheelhouse]);
    // newer 2.0 needs 3.11, newer 1.0 runs on 3.8+; legacy runs only below 3.11.
    execFileSync("python3", ["-c", [
      "import sys; sys.path.insert(0, sys.argv[1]); import make_wheels as w",
      "w.write_wheel(sys.argv[2], 'airgap_lab_newer', '1.0', [], 'X = 1\\n', '>=3.8')",
      "w.write_wheel(sys.argv[2], 'airgap_lab_newer', '2.0', [], 'X = 2\\n', '>=3.11')",
      "w.write_wheel(sys.argv[2], 'airgap_lab_legacy', '1.0', [], 'X = 1\\n', '<3.11')",
    ].join("\n"), path.dirname(MAKE_WHEELS), wheelhouse]);
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  /** A site whose Python hosts run the given OS releases (the first is the admin). */
  function pySite(packages: string[], oses: string[]): string {
    const file = path.join(tmp, "site.ts");
    writeFileSync(file, `import { defineSite } from "airgap";
export default defineSite({
  name: "py", domain: "py.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
${oses.map((os, i) => `    { name: "${i === 0 ? "admin" : `n${i}`}", address: "10.20.0.${10 + i}", os: "${os}", roles: [${i === 0 ? '"admin"' : '"control-plane", "etcd", "worker"'}] },`).join("\n")}
  ],
  services: { repos: { on: "admin" }, pypi: { on: "admin", packages: ${JSON.stringify(packages)}, source: { wheelhouse: "wheels" } } },
});
`);
    return file;
  }

  it("carries, for targets 3.10 and 3.11, the newest release each can run", async () => {
    const m = await model(pySite(["airgap-lab-newer"], ["debian-12", "ubuntu-22.04"]));
    assert.deepEqual(wheelTargets(m).map((t) => [t.python, t.hosts.join(",")]), [["3.10", "n1"], ["3.11", "admin"]]);
    const planned = await planWheels(m, quiet);
    assert.deepEqual(planned.map((p) => p.path).sort(), [
      "pypi/airgap-lab-newer/airgap_lab_newer-1.0-py3-none-any.whl",
      "pypi/airgap-lab-newer/airgap_lab_newer-2.0-py3-none-any.whl",
    ]);
  });

  it("plans a package that supports only Python < 3.11 for 3.10 hosts, whatever the bastion's Python", async () => {
    const m = await model(pySite(["airgap-lab-legacy"], ["ubuntu-22.04", "ubuntu-22.04"]));
    const planned = await planWheels(m, quiet);
    assert.deepEqual(planned.map((p) => p.path), ["pypi/airgap-lab-legacy/airgap_lab_legacy-1.0-py3-none-any.whl"]);
  });

  it("refuses it for a 3.11 target, naming that target and its hosts, not the 3.10 one", async () => {
    const m = await model(pySite(["airgap-lab-legacy"], ["ubuntu-22.04", "debian-12"]));
    await assert.rejects(planWheels(m, quiet), (e: WheelError) => {
      assert.ok(e instanceof WheelError);
      assert.match(e.message, /CPython 3\.11 x86_64 \(n1\)/);
      assert.doesNotMatch(e.message, /CPython 3\.10/);
      assert.match(e.message, /airgap-lab-legacy/);
      return true;
    });
  });
});

describe("pypi: the index the role builds (roles/pypi_server/files/airgap_pypi.py)", function () {
  this.timeout(120_000);
  let tmp: string;
  let pem: string;
  let keyFile: string;
  beforeEach(async () => {
    tmp = tempDir("airgap-pypi-index-");
    const k = await keygen(path.join(tmp, "keys"));
    keyFile = k.privateKey;
    pem = readFileSync(k.publicKey, "utf8");
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));
  const trust = () => ["--trusted-key", pem, "--site", "py"];

  async function layOut(): Promise<{ manifest: string; packages: string; simple: string }> {
    const wheels = path.join(tmp, "wheels");
    execFileSync("python3", [MAKE_WHEELS, wheels]);
    const packages = path.join(tmp, "root/packages");
    const artifacts = ["airgap_lab_base-1.0-py3-none-any.whl", "airgap_lab_top-1.0-py3-none-any.whl"].map((f) => {
      const project = f.split("-")[0].replace(/_/g, "-");
      mkdirSync(path.join(packages, project), { recursive: true });
      copyFileSync(path.join(wheels, f), path.join(packages, project, f));
      const data = readFileSync(path.join(wheels, f));
      return { kind: "wheel", name: project, version: "1.0", source: `wheelhouse/${f}`, path: `pypi/${project}/${f}`, size: data.length, sha256: sha256(data) };
    });
    const manifest = path.join(tmp, "root/manifest.json");
    const text = Buffer.from(JSON.stringify({ format: 1, site: "py", sequence: 1, created: "2026-11-30T12:00:00Z", repositories: [], artifacts }));
    writeFileSync(manifest, text);
    writeFileSync(manifest + ".sig", signBytes(text, await readPrivateKey(keyFile)));
    return { manifest, packages, simple: path.join(tmp, "root/simple") };
  }

  function index(l: Awaited<ReturnType<typeof layOut>>, verify = true): { changed: boolean } {
    const r = spawnSync("python3", [TOOL, "index", l.manifest, l.packages, l.simple, ...trust(), ...(verify ? ["--verify"] : [])], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { changed: boolean };
  }

  it("writes PEP 503 pages with normalised names and #sha256= links; a second run changes nothing", async () => {
    const l = await layOut();
    assert.equal(index(l).changed, true);
    const root = readFileSync(path.join(l.simple, "index.html"), "utf8");
    assert.match(root, /<a href="airgap-lab-base\/">airgap-lab-base<\/a>/);
    const top = readFileSync(path.join(l.simple, "airgap-lab-top/index.html"), "utf8");
    const digest = sha256(readFileSync(path.join(l.packages, "airgap-lab-top/airgap_lab_top-1.0-py3-none-any.whl")));
    assert.ok(top.includes(`href="../../packages/airgap-lab-top/airgap_lab_top-1.0-py3-none-any.whl#sha256=${digest}"`), top);
    assert.equal(index(l).changed, false);
    assert.equal(index(l, false).changed, false);
  });

  it("pip installs the top package with its dependency from it, verifying hashes; refuses what it lacks", async () => {
    const l = await layOut();
    index(l);
    const url = `file://${l.simple}/`;
    const target = path.join(tmp, "target");
    const ok = spawnSync("python3", ["-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--index-url", url, "--target", target, "airgap-lab-top"], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /Successfully installed airgap-lab-base-1\.0 airgap-lab-top-1\.0/);
    const no = spawnSync("python3", ["-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--index-url", url, "--target", target, "airgap-lab-other"], { encoding: "utf8" });
    assert.notEqual(no.status, 0);
    assert.match(no.stderr, /No matching distribution found for airgap-lab-other/);
  });

  it("refuses a package whose bytes differ from the manifest, and changes nothing", async () => {
    const l = await layOut();
    const f = path.join(l.packages, "airgap-lab-base/airgap_lab_base-1.0-py3-none-any.whl");
    const data = readFileSync(f);
    data[data.length - 30] ^= 0xff;
    writeFileSync(f, data);
    const r = spawnSync("python3", [TOOL, "index", l.manifest, l.packages, l.simple, ...trust(), "--verify"], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /does not have the manifest's sha256/);
    assert.throws(() => readFileSync(path.join(l.simple, "index.html")));
  });

  it("refuses a manifest whose signature does not verify, or unsigned, before it reads any package", async () => {
    const l = await layOut();
    writeFileSync(l.manifest, readFileSync(l.manifest, "utf8").replace('"py"', '"px"'));
    const r = spawnSync("python3", [TOOL, "index", l.manifest, l.packages, l.simple, ...trust()], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /signature does not verify against the site's trusted key/);
    rmSync(l.manifest + ".sig");
    const u = spawnSync("python3", [TOOL, "index", l.manifest, l.packages, l.simple, ...trust()], { encoding: "utf8" });
    assert.equal(u.status, 1);
    assert.match(u.stderr, /the bundle is unsigned/);
    assert.throws(() => readFileSync(path.join(l.simple, "index.html")));
  });
});

describe("pypi: through the gateway", function () {
  this.timeout(120_000);
  let tmp: string;
  beforeEach(() => (tmp = tempDir("airgap-pypi-gw-")));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  for (const mode of ["static", "devpi"]) {
    it(`${mode}: the index's port is opened from the clients' network, devpi's loopback port never`, async () => {
      const file = path.join(tmp, "site.ts");
      writeFileSync(file, `import { defineSite, fromEnv } from "airgap";
export default defineSite({
  name: "pygw", domain: "pygw.internal",
  networks: [{ name: "site", cidr: "10.30.0.0/24" }, { name: "nodes", cidr: "10.31.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.30.0.1", interfaces: [{ network: "nodes", address: "10.31.0.1" }], os: "debian-12", roles: ["gateway"] },
    { name: "cp1", address: "10.31.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: { pypi: { on: "admin", mode: "${mode}", rootPassword: fromEnv("X") } },
});
`);
      const r = await synth(file);
      assert.deepEqual(r.errors, []);
      const flows = (parse(r.files.get("inventory/group_vars/airgap_gateways/airgap.yml")!) as { airgap_gateway_flows: { from: string; to: string; protocol: string; ports: string[] }[] }).airgap_gateway_flows;
      const rules = flows.map((f) => `${f.from} > ${f.to} ${f.protocol} ${f.ports.join(",")}`);
      assert.ok(rules.includes("10.31.0.0/24 > 10.30.0.10 tcp 3141"), rules.join("\n"));
      assert.ok(!rules.some((x) => /3142/.test(x)), rules.join("\n"));
    });
  }
});
