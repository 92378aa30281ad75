/**
 * devpi mode's seeding tool (`airgap_pypi.py devpi-seed`) against a real
 * devpi-server on this machine's loopback, started as the role starts it
 * (devpi-init --no-root-pypi with root's password in DEVPISERVER_ROOT_PASSWD,
 * devpi-server --restrict-modify root). devpi-server (pinned) is installed
 * from PyPI into a venv under the temp folder once per machine; the packages
 * are the lab's test wheels (test/bundle/make_wheels.py).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { ROOT } from "../helpers.js";
import { freePort, must, sh, tempDir } from "./registry-harness.js";

const TOOL = path.join(ROOT, "roles/pypi_server/files/airgap_pypi.py");
const MAKE_WHEELS = path.join(ROOT, "test/bundle/make_wheels.py");
const DEVPI_SERVER = "devpi-server==6.20.3";
const VENV = path.join(os.tmpdir(), "airgap-test-devpi-6.20.3");
const ROOT_PASSWORD = "root-password-for-the-test";
const UPLOAD_PASSWORD = "upload-password-for-the-test";

/** devpi-server in its own venv, from PyPI (once per machine). */
function devpiVenv(): string {
  if (!existsSync(path.join(VENV, "bin/devpi-server"))) {
    rmSync(VENV, { recursive: true, force: true });
    must("python3", ["-m", "venv", VENV]);
    must(path.join(VENV, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", DEVPI_SERVER], { env: { ...process.env, PIP_FIND_LINKS: "" } });
  }
  return VENV;
}

interface Wheel {
  kind: "wheel";
  name: string;
  version: string;
  path: string;
  sha256: string;
  size: number;
}

/** The lab's test wheels as manifest entries, placed under PACKAGES/<project>/ as the role places them. */
function wheels(dir: string, packages: string): Wheel[] {
  const out: Wheel[] = [];
  for (const f of readdirSync(dir).sort()) {
    const [dist, version] = f.split("-");
    const project = dist.replace(/[-_.]+/g, "-").toLowerCase();
    const data = readFileSync(path.join(dir, f));
    mkdirSync(path.join(packages, project), { recursive: true });
    writeFileSync(path.join(packages, project, f), data);
    out.push({ kind: "wheel", name: project, version, path: `pypi/${project}/${f}`, sha256: createHash("sha256").update(data).digest("hex"), size: data.length });
  }
  return out;
}

describe("pypi devpi mode: the seeding tool against a real devpi-server (loopback)", function () {
  this.timeout(5 * 60_000);
  let dir: string;
  let server: ChildProcess;
  let url: string;
  let manifest: string;
  let packages: string;
  let pem: string;
  let keyFile: string;

  /** Writes a signed format-1 manifest of these wheels (the tool checks the signature with the site's key). */
  const writeManifest = async (file: string, artifacts: Wheel[], sequence: number) => {
    const text = Buffer.from(JSON.stringify({ format: 1, site: "plant", sequence, created: "2026-11-30T12:00:00Z", repositories: [], artifacts }));
    writeFileSync(file, text);
    writeFileSync(`${file}.sig`, signBytes(text, await readPrivateKey(keyFile)));
  };

  const seed = (passwords: Record<string, string>, extra: string[] = ["--uploader", "ci"], m = manifest) => {
    const r = sh("python3", [TOOL, "devpi-seed", m, packages, url, "plant/prod", "--trusted-key", pem, "--site", "plant", ...extra], { input: JSON.stringify(passwords) });
    return { ...r, json: r.code === 0 ? (JSON.parse(r.stdout) as { changed: boolean; changes: string[]; uploaded: string[] }) : undefined };
  };
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const r = await fetch(url + p, { headers: { Accept: "application/json", ...headers } });
    return { status: r.status, body: await r.text() };
  };
  const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
  const uploadOther = (headers: Record<string, string>) => {
    const form = new FormData();
    form.set(":action", "file_upload");
    form.set("name", "airgap-lab-other");
    form.set("version", "1.0");
    form.set("content", new Blob([readFileSync(path.join(dir, "other", "airgap_lab_other-1.0-py3-none-any.whl"))]), "airgap_lab_other-1.0-py3-none-any.whl");
    return fetch(`${url}/plant/prod/`, { method: "POST", body: form, headers }).then((r) => r.status);
  };

  before(async function () {
    const venv = devpiVenv();
    dir = tempDir("airgap-devpi-");
    const wheelhouse = path.join(dir, "wheelhouse");
    must("python3", [MAKE_WHEELS, wheelhouse]);
    mkdirSync(path.join(dir, "other"));
    for (const f of readdirSync(wheelhouse)) if (f.startsWith("airgap_lab_other")) writeFileSync(path.join(dir, "other", f), readFileSync(path.join(wheelhouse, f)));
    for (const f of readdirSync(path.join(dir, "other"))) rmSync(path.join(wheelhouse, f));
    packages = path.join(dir, "packages");
    manifest = path.join(dir, "manifest.json");
    const keys = await keygen(path.join(dir, "keys"));
    keyFile = keys.privateKey;
    pem = readFileSync(keys.publicKey, "utf8");
    await writeManifest(manifest, wheels(wheelhouse, packages), 1);
    const serverdir = path.join(dir, "server");
    must(path.join(venv, "bin/devpi-init"), ["--serverdir", serverdir, "--no-root-pypi"], { env: { ...process.env, DEVPISERVER_ROOT_PASSWD: ROOT_PASSWORD } });
    must(path.join(venv, "bin/devpi-gen-secret"), ["--secretfile", path.join(serverdir, ".secret")]);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(path.join(venv, "bin/devpi-server"), ["--serverdir", serverdir, "--secretfile", path.join(serverdir, ".secret"), "--host", "127.0.0.1", "--port", String(port), "--restrict-modify", "root"], { stdio: "ignore" });
    for (let i = 0; i < 120; i++) {
      if ((await fetch(`${url}/+api`).catch(() => undefined))?.ok) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error("devpi-server did not answer within 60 s");
  });

  after(() => {
    server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("creates the index (no base, non-volatile, uploads by root and the uploader) and uploads every package", async () => {
    const r = seed({ root: ROOT_PASSWORD, uploader: UPLOAD_PASSWORD });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json!.changes, ["user plant created", "user ci created", "index plant/prod created"]);
    assert.deepEqual(r.json!.uploaded, ["airgap_lab_base-1.0-py3-none-any.whl", "airgap_lab_controller-1.0-py3-none-any.whl", "airgap_lab_top-1.0-py3-none-any.whl"]);
    const ix = JSON.parse((await get("/plant/prod")).body).result;
    assert.deepEqual([ix.bases, ix.volatile, ix.acl_upload, ix.acl_toxresult_upload], [[], false, ["root", "ci"], ["root", "ci"]]);
    const top = JSON.parse(readFileSync(manifest, "utf8")).artifacts.find((a: Wheel) => a.name === "airgap-lab-top") as Wheel;
    const page = (await get("/plant/prod/+simple/airgap-lab-top/", { Accept: "text/html" })).body;
    assert.ok(page.includes(`airgap_lab_top-1.0-py3-none-any.whl#sha256=${top.sha256}`), page);
    assert.equal((await get("/root/pypi")).status, 404, "no mirror of PyPI");
  });

  it("a second run changes nothing", () => {
    const r = seed({ root: ROOT_PASSWORD, uploader: UPLOAD_PASSWORD });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { changed: false, changes: [], uploaded: [] });
  });

  it("anonymous uploads and user creation are refused; the uploader's upload works", async () => {
    assert.equal(await uploadOther({}), 401);
    assert.equal(await uploadOther(basic("ci", "not-its-password")), 401);
    const mkuser = await fetch(`${url}/intruder`, { method: "PUT", body: JSON.stringify({ password: "x".repeat(16) }), headers: { "Content-Type": "application/json", Accept: "application/json" } });
    assert.equal(mkuser.status, 403);
    assert.equal(await uploadOther(basic("ci", UPLOAD_PASSWORD)), 200);
  });

  it("sets the uploader's password again when devpi refuses it, and the index's upload list when it drifted", async () => {
    const newPassword = "another-upload-password";
    const login = (password: string) => fetch(`${url}/+login`, { method: "POST", body: JSON.stringify({ user: "ci", password }), headers: { Accept: "application/json" } }).then((r) => r.status);
    // Someone took the uploader off the list.
    const token = JSON.parse(await (await fetch(`${url}/+login`, { method: "POST", body: JSON.stringify({ user: "root", password: ROOT_PASSWORD }) })).text()).result.password;
    const auth = { "X-Devpi-Auth": Buffer.from(`root:${token}`).toString("base64"), "Content-Type": "application/json", Accept: "application/json" };
    assert.equal((await fetch(`${url}/plant/prod`, { method: "PATCH", body: JSON.stringify({ acl_upload: ["root"] }), headers: auth })).status, 200);
    const r = seed({ root: ROOT_PASSWORD, uploader: newPassword });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json!.changes, ["password of ci set", "index plant/prod: acl_upload set"]);
    assert.equal(await login(newPassword), 200);
    assert.equal(await login(UPLOAD_PASSWORD), 401);
    assert.deepEqual(seed({ root: ROOT_PASSWORD, uploader: newPassword }).json?.changed, false);
  });

  it("a newer bundle without a package: nothing is removed (the index is non-volatile)", async () => {
    const m = JSON.parse(readFileSync(manifest, "utf8"));
    m.artifacts = m.artifacts.filter((a: Wheel) => a.name !== "airgap-lab-controller");
    const next = path.join(dir, "manifest-next.json");
    await writeManifest(next, m.artifacts, 2);
    const r = seed({ root: ROOT_PASSWORD, uploader: "another-upload-password" }, ["--uploader", "ci"], next);
    assert.deepEqual(r.json, { changed: false, changes: [], uploaded: [] });
    assert.equal((await get("/plant/prod/+simple/airgap-lab-controller/", { Accept: "text/html" })).status, 200);
  });

  it("a newer bundle with a package the index lacks: that package alone is uploaded, and pip finds it", async () => {
    const extra = path.join(dir, "extra");
    mkdirSync(extra);
    must("python3", ["-c", "import sys; sys.path.insert(0, sys.argv[1]); import make_wheels as w; w.write_wheel(sys.argv[2], 'airgap_lab_added', '1.0', ['airgap-lab-base'], 'X = 1\\n')", path.dirname(MAKE_WHEELS), extra]);
    const m = JSON.parse(readFileSync(manifest, "utf8"));
    const next = path.join(dir, "manifest-added.json");
    await writeManifest(next, [...m.artifacts, ...wheels(extra, packages)], 3);
    const r = seed({ root: ROOT_PASSWORD, uploader: "another-upload-password" }, ["--uploader", "ci"], next);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { changed: true, changes: [], uploaded: ["airgap_lab_added-1.0-py3-none-any.whl"] });
    const page = (await get("/plant/prod/+simple/airgap-lab-added/", { Accept: "text/html" })).body;
    assert.match(page, /airgap_lab_added-1\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}/, page);
    const target = path.join(dir, "pip-target");
    const pip = sh("python3", ["-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--target", target, "--index-url", `${url}/plant/prod/+simple/`, "airgap-lab-added"], { env: { ...process.env, PIP_FIND_LINKS: "" } });
    assert.equal(pip.code, 0, pip.stdout + pip.stderr);
    assert.match(pip.stdout, /Successfully installed airgap-lab-added-1\.0 airgap-lab-base-1\.0/, pip.stdout);
    assert.deepEqual(seed({ root: ROOT_PASSWORD, uploader: "another-upload-password" }, ["--uploader", "ci"], next).json, { changed: false, changes: [], uploaded: [] });
  });

  it("refuses root's wrong password with the way out, and never prints a password", () => {
    const r = seed({ root: "not-the-root-password", uploader: "another-upload-password" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /devpi refused root's password: it was set when devpi's server folder was first initialised/);
    assert.ok(!(r.stdout + r.stderr).includes("not-the-root-password") && !(r.stdout + r.stderr).includes("another-upload-password"));
    const missing = seed({ root: ROOT_PASSWORD });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no password for the uploader ci on stdin/);
  });
});
