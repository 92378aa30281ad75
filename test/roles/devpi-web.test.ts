/**
 * devpi-web (`pypi.web: true`), the whole way on this machine's loopback:
 * the bundle's planner resolves devpi-server and devpi-web from PyPI for the
 * admin's CPython (devpi-web's pyramid-chameleon is an sdist only there, so
 * the planner builds its wheel and records that), the planned files are
 * fetched and checked, the index tool builds the bundle's simple index from
 * them, devpi's venv is installed from that index alone (the role's own pip
 * command, file:// URL), devpi-server starts as the role starts it, the seeding
 * tool fills the site index, and devpi-web's pages answer: the front page
 * and the index's project page, in HTML.
 *
 * Needs PyPI (as the bastion does), like test/roles/devpi-seed.test.ts; the
 * downloads are kept under the temp folder by SHA-256 between runs.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { BUILD_EPOCH, planWheels } from "../../bundle/wheels.js";
import type { Planned } from "../../bundle/bundle.js";
import type { PypiModel } from "../../compile/components/pypi.js";
import { ROOT } from "../helpers.js";
import { freePort, must, sh, tempDir } from "./registry-harness.js";

const TOOL = path.join(ROOT, "roles/pypi_server/files/airgap_pypi.py");
const MAKE_WHEELS = path.join(ROOT, "test/bundle/make_wheels.py");
const CACHE = path.join(os.tmpdir(), "airgap-test-devpi-web-files");
const ROOT_PASSWORD = "root-password-for-the-web-test";

/** The role's install command (roles/pypi_server/tasks/devpi.yml), for a venv and a simple index folder. */
function rolePip(venv: string, simple: string, requirements: string[]): string[] {
  return [path.join(venv, "bin/python"), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--no-input", "--upgrade",
    "--upgrade-strategy", "only-if-needed", "--index-url", `file://${simple}/`, ...requirements];
}

/** A planned file, fetched once per machine (kept by SHA-256), checked. */
async function fetchPlanned(w: Planned): Promise<Buffer> {
  const cached = path.join(CACHE, w.sha256);
  if (existsSync(cached)) return readFileSync(cached);
  const data = w.fetchUrl.startsWith("file:")
    ? readFileSync(new URL(w.fetchUrl))
    : Buffer.from(await (await fetch(w.fetchUrl)).arrayBuffer());
  assert.equal(createHash("sha256").update(data).digest("hex"), w.sha256, `${w.path}: not the planned sha256`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(cached, data);
  return data;
}

describe("pypi devpi mode, web: true: devpi-web from the bundle's index, its pages on the loopback", function () {
  this.timeout(8 * 60_000);
  let dir: string;
  let server: ChildProcess | undefined;
  let url: string;
  let planned: Planned[];
  let install: string;

  before(async function () {
    dir = tempDir("airgap-devpi-web-");
    const scratch: string[] = [];
    const host = { name: "admin", os: { release: "debian-12" }, arch: os.arch() === "arm64" ? "arm64" : "amd64" } as PypiModel["host"];
    const m = { host, mode: "devpi", web: true, packages: [], clients: [], source: { url: "https://pypi.org/simple/" } } as unknown as PypiModel;
    try {
      planned = await planWheels(m, { log: { info: () => undefined }, scratch, env: { ...process.env, PIP_FIND_LINKS: "" } });
      // The lab's test wheels too: what the seeding tool puts into the site index.
      const wheelhouse = path.join(dir, "wheelhouse");
      must("python3", [MAKE_WHEELS, wheelhouse]);
      const site = readdirSync(wheelhouse).filter((f) => !f.startsWith("airgap_lab_other")).map((f) => {
        const data = readFileSync(path.join(wheelhouse, f));
        const project = f.split("-")[0].replace(/_/g, "-");
        return { kind: "wheel", name: project, version: "1.0", source: `wheelhouse/${f}`, path: `pypi/${project}/${f}`, sha256: createHash("sha256").update(data).digest("hex"), fetchUrl: `file://${path.join(wheelhouse, f)}` } as Planned;
      });
      // Placed as the role places the bundle's packages: packages/<project>/<file>.
      const packages = path.join(dir, "packages");
      const artifacts = [];
      for (const w of [...planned, ...site]) {
        const data = await fetchPlanned(w);
        const [, project, file] = w.path.split("/");
        mkdirSync(path.join(packages, project), { recursive: true });
        writeFileSync(path.join(packages, project, file), data);
        const { fetchUrl: _, ...a } = w;
        artifacts.push({ ...a, size: data.length });
      }
      const keys = await keygen(path.join(dir, "keys"));
      const pem = readFileSync(keys.publicKey, "utf8");
      const manifest = path.join(dir, "manifest.json");
      const text = Buffer.from(JSON.stringify({ format: 1, site: "plant", sequence: 1, created: "2026-12-01T00:00:00Z", repositories: [], artifacts }));
      writeFileSync(manifest, text);
      writeFileSync(`${manifest}.sig`, signBytes(text, await readPrivateKey(keys.privateKey)));
      const simple = path.join(dir, "simple");
      must("python3", [TOOL, "index", manifest, packages, simple, "--verify", "--trusted-key", pem, "--site", "plant"]);
      // devpi's venv from the bundle's index alone, as the role makes it.
      const venv = path.join(dir, "venv");
      must("python3", ["-m", "venv", venv]);
      install = must(rolePip(venv, simple, [])[0], rolePip(venv, simple, ["devpi-server", "devpi-web"]).slice(1), { env: { ...process.env, PIP_FIND_LINKS: "" } });
      const serverdir = path.join(dir, "server");
      must(path.join(venv, "bin/devpi-init"), ["--serverdir", serverdir, "--no-root-pypi"], { env: { ...process.env, DEVPISERVER_ROOT_PASSWD: ROOT_PASSWORD } });
      must(path.join(venv, "bin/devpi-gen-secret"), ["--secretfile", path.join(serverdir, ".secret")]);
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      server = spawn(path.join(venv, "bin/devpi-server"), ["--serverdir", serverdir, "--secretfile", path.join(serverdir, ".secret"), "--host", "127.0.0.1", "--port", String(port), "--restrict-modify", "root"], { stdio: "ignore" });
      let up = false;
      for (let i = 0; i < 120 && !up; i++) {
        up = !!(await fetch(`${url}/+api`).catch(() => undefined))?.ok;
        if (!up) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(up, "devpi-server did not answer within 60 s");
      const seed = sh("python3", [TOOL, "devpi-seed", manifest, packages, url, "plant/prod", "--trusted-key", pem, "--site", "plant"], { input: JSON.stringify({ root: ROOT_PASSWORD }) });
      assert.equal(seed.code, 0, seed.stderr);
      // The same command again installs nothing (the role reports changed=0).
      const again = must(rolePip(venv, simple, [])[0], rolePip(venv, simple, ["devpi-server", "devpi-web"]).slice(1), { env: { ...process.env, PIP_FIND_LINKS: "" } });
      assert.doesNotMatch(again, /^Successfully installed /m, again);
    } finally {
      for (const d of scratch) rmSync(d, { recursive: true, force: true });
    }
  });

  after(() => {
    server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("pyramid-chameleon, an sdist only on PyPI, is carried as a pure-Python wheel built on the bastion, the manifest says from which sdist", () => {
    const pc = planned.find((w) => w.name === "pyramid-chameleon");
    assert.ok(pc, "pyramid-chameleon is not planned");
    assert.match(pc.path, /^pypi\/pyramid-chameleon\/pyramid_chameleon-[0-9.]+-py3-none-any\.whl$/);
    assert.ok(pc.built, "no built record");
    assert.match(pc.built.from, /^https:\/\/files\.pythonhosted\.org\/.*\/pyramid_chameleon-[0-9.]+\.tar\.gz$/);
    assert.equal(pc.source, pc.built.from);
    assert.match(pc.built.sha256, /^[0-9a-f]{64}$/);
    assert.notEqual(pc.built.sha256, pc.sha256);
    assert.match(pc.built.by, new RegExp(`^pip wheel --no-deps \\(Python 3\\.[0-9]+\\.[0-9]+ on the bastion\\), SOURCE_DATE_EPOCH=${BUILD_EPOCH}$`));
    // Everything else came from PyPI as it is, not built.
    for (const w of planned.filter((x) => x !== pc)) {
      assert.equal(w.built, undefined, `${w.path} says it was built`);
      assert.match(w.source, /^https:\/\/files\.pythonhosted\.org\/.*\.whl$/, w.path);
    }
    assert.ok(planned.some((w) => w.name === "devpi-web") && planned.some((w) => w.name === "devpi-server"));
  });

  it("devpi's venv installs devpi-server and devpi-web from the bundle's index alone", () => {
    assert.match(install, /^Successfully installed .*\bdevpi-server-[0-9.]+\b/m, install);
    assert.match(install, /^Successfully installed .*\bdevpi-web-[0-9.]+\b/m, install);
    assert.match(install, /^Successfully installed .*\bpyramid[-_]chameleon-[0-9.]+\b/m, install);
    assert.match(install, /Looking in indexes: file:\/\//, install);
  });

  it("devpi-web serves its web view: the front page lists the site index, the project page its file", async () => {
    const front = await fetch(`${url}/`, { headers: { Accept: "text/html" } });
    const html = await front.text();
    assert.equal(front.status, 200, html.slice(0, 500));
    assert.match(front.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(html, /<html/i);
    assert.match(html, /href="[^"]*\/plant\/prod"/, html.slice(0, 2000));
    const project = await fetch(`${url}/plant/prod/airgap-lab-top`, { headers: { Accept: "text/html" } });
    const page = await project.text();
    assert.equal(project.status, 200, page.slice(0, 500));
    assert.match(page, /href="[^"]*\/plant\/prod\/airgap-lab-top\/1\.0"/, page.slice(0, 3000));
    const version = await fetch(`${url}/plant/prod/airgap-lab-top/1.0`, { headers: { Accept: "text/html" } });
    const files = await version.text();
    assert.equal(version.status, 200, files.slice(0, 500));
    assert.match(files, /airgap_lab_top-1\.0-py3-none-any\.whl/, files.slice(0, 3000));
    // Without devpi-web, devpi-server answers HTML requests with its JSON API or nothing: this search page is devpi-web's.
    // devpi-web indexes uploads in a background thread: the search finds the project once that thread has run (seconds; longer under load).
    let status = 0;
    let found = "";
    for (let i = 0; i < 60; i++) {
      const search = await fetch(`${url}/+search?query=airgap`, { headers: { Accept: "text/html" } });
      status = search.status;
      found = await search.text();
      if (status === 200 && /airgap-lab-top|airgap_lab_top/.test(found)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(status, 200, found.slice(0, 500));
    assert.match(found, /airgap-lab-top|airgap_lab_top/, found.slice(0, 2000));
  });
});
