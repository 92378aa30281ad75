/**
 * @lab pypi: the site's Python package index (static mode), filled from the
 * bundle's wheels (tiny test wheels from a wheelhouse, test/bundle/make_wheels.py),
 * checked with pip itself on the nodes: in a venv, `pip install
 * airgap-lab-top` pulls airgap-lab-base from the site index over TLS verified
 * with the site CA (pip.conf written by the pip_client role, no other index),
 * with the index's sha256 checked; a package the bundle lacks fails with
 * pip's own "No matching distribution"; the outsider is refused; another run
 * changes nothing.
 *
 * devpi mode (the second suite): the lab site in devpi mode, bundled on the
 * bastion (this machine) with devpi-server, devpi-client and their
 * dependencies resolved by pip from PyPI, the lab's test wheels from the
 * wheelhouse; the lab itself has no route to PyPI. Then site.yml, and from
 * the nodes pip, the devpi client and curl check the index; the lab goes back
 * to static mode at the end.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI } from "../helpers.js";
import { BUNDLE, FILES_MIRROR, formatRecap, KEYS, labBefore, phase, run, SITE, STORE, taskStatus, WHEELHOUSE, WORK, type LabRunResult, type PlaybookRun } from "./fixture.js";
import { startLabUpstream } from "./upstream.js";

const DOMAIN = "lab.airgap.internal";
const INDEX = `https://pypi.${DOMAIN}:3141/simple/`;
const VENV = "/root/airgap-pypi-venv";

describe("@lab pypi: the site's Python package index, static mode", function () {
  let site: LabRunResult;

  before(async function () {
    site = await labBefore(this);
  });

  it("the bundle carries the listed package, its dependency and Kubespray's controller requirement, and nothing else of the wheelhouse", () => {
    const wheels = site.manifest.artifacts.filter((a) => a.kind === "wheel");
    assert.deepEqual(wheels.map((w) => w.path).sort(), [
      "pypi/airgap-lab-base/airgap_lab_base-1.0-py3-none-any.whl",
      "pypi/airgap-lab-controller/airgap_lab_controller-1.0-py3-none-any.whl",
      "pypi/airgap-lab-top/airgap_lab_top-1.0-py3-none-any.whl",
    ]);
  });

  it("every Python host's pip names the site index only, and the site CA", async () => {
    for (const host of ["admin", "node1", "node2"]) {
      const conf = await site.lab.sh(host, "cat /etc/pip.conf");
      assert.match(conf, new RegExp(`^index-url = ${INDEX.replace(/[.]/g, "\\.")}$`, "m"), conf);
      assert.match(conf, /^cert = \/usr\/local\/share\/ca-certificates\/airgap-lab\.crt$/m, conf);
      assert.doesNotMatch(conf, /extra-index-url/);
      assert.equal((await site.lab.sh(host, "python3 -m pip config list")).trim().split("\n").sort().join("\n"),
        `global.cert='/usr/local/share/ca-certificates/airgap-lab.crt'\nglobal.index-url='${INDEX}'`);
    }
  });

  it("from a node, in a venv: pip install airgap-lab-top pulls its dependency from the site index over verified TLS, with hashes", async function () {
    this.timeout(5 * 60_000);
    await site.lab.sh("node1", `rm -rf ${VENV} && python3 -m venv ${VENV}`);
    const r = await site.lab.ssh("node1", `${VENV}/bin/pip install --disable-pip-version-check airgap-lab-top`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`Looking in indexes: ${INDEX.replace(/[.]/g, "\\.")}`), r.stdout);
    assert.match(r.stdout, /Successfully installed airgap-lab-base-1\.0 airgap-lab-top-1\.0/, r.stdout);
    const out = await site.lab.sh("node1", `${VENV}/bin/python -c 'import airgap_lab_top; print(airgap_lab_top.main())'`);
    assert.equal(out.trim(), "top says: hello from airgap-lab-base");
    // The index's links carry the bundle's sha256 (pip checks the download against it).
    const base = site.manifest.artifacts.find((a) => a.name === "airgap-lab-base")!;
    await site.lab.install("node1", "curl");
    const page = await site.lab.sh("node1", `curl -sf ${INDEX}airgap-lab-base/`);
    assert.ok(page.includes(`#sha256=${base.sha256}`), page);
  });

  it("the index carries Kubespray's controller requirements without the site listing them (the stand-in's airgap-lab-controller)", async function () {
    this.timeout(2 * 60_000);
    // On the admin, as the Ansible controller inside the site would: a venv from the index alone.
    const r = await site.lab.ssh("admin", `python3 -m venv /tmp/airgap-controller && /tmp/airgap-controller/bin/pip install --disable-pip-version-check --index-url ${INDEX} airgap-lab-controller==1.0`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Successfully installed airgap-lab-controller-1\.0/, r.stdout);
  });

  it("a package the bundle lacks fails with pip's own message", async function () {
    this.timeout(2 * 60_000);
    // airgap-lab-other is in the wheelhouse but not listed by the site.
    const r = await site.lab.ssh("node2", `python3 -m venv ${VENV} && ${VENV}/bin/pip install --disable-pip-version-check airgap-lab-other`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No matching distribution found for airgap-lab-other/, r.stderr);
  });

  it("trusting another CA instead of the site's, pip refuses the index's certificate", async function () {
    this.timeout(2 * 60_000);
    const other = "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt";
    const r = await site.lab.ssh("node1", `${VENV}/bin/pip download --disable-pip-version-check --no-deps -d /tmp/airgap-pip-x --retries 0 --timeout 5 --cert ${other} airgap-lab-base`);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /CERTIFICATE_VERIFY_FAILED/, r.stdout + r.stderr);
  });

  it("refuses a host outside the site's networks (403 from nginx)", async () => {
    assert.equal(await site.lab.httpsStatus("outsider", `https://${site.lab.address("admin")}:3141/simple/`), 403);
  });

  it("another run of site.yml changes nothing (changed=0 on every host)", async function () {
    this.timeout(15 * 60_000);
    const again = await site.lab.playbook("pypi-again", "site.yml", [], STORE);
    phase("pypi: site.yml again", again.ms);
    console.log(`      e2e recap, pypi again: ${formatRecap(again.recap)}`);
    assert.equal(again.code, 0, `log: ${again.log}`);
    for (const [host, r] of again.recap) assert.equal(r.changed, 0, `${host}: ${formatRecap(again.recap)}`);
  });
});

const DEVPI = `https://pypi.${DOMAIN}:3141/lab/prod`;
const DEVPI_INDEX = `${DEVPI}/+simple/`;
/** Where ca_trust put the site CA among the system's (devpi-client reads it through requests). */
const SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt";

describe("@lab pypi: devpi mode (devpi-server from the bundle, PyPI's packages)", function () {
  let site: LabRunResult;
  let first: PlaybookRun;
  const work = path.join(WORK, "devpi");
  const project = path.join(work, "project");
  const bundle = path.join(work, "bundle");
  const rootPassword = randomBytes(18).toString("base64url");
  const uploadPassword = randomBytes(18).toString("base64url");

  before(async function () {
    site = await labBefore(this);
    this.timeout(30 * 60_000);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    // The lab site in devpi mode: its wheelhouse and PyPI (the bastion reaches it), a real package with dependencies.
    const text = readFileSync(SITE, "utf8");
    const devpiSite = text
      .replace('packages: ["airgap-lab-top"],', 'packages: ["airgap-lab-top", "devpi-client"],')
      .replace(/source: \{ wheelhouse: ("[^"]*") \}/, (_, dir: string) =>
        `source: { index: "https://pypi.org/simple/", wheelhouse: ${dir} }, mode: "devpi", web: true, rootPassword: fromEnv("AIRGAP_LAB_DEVPI_ROOT_PASSWORD"), ` +
        `uploader: { user: "labci", password: fromEnv("AIRGAP_LAB_DEVPI_UPLOAD_PASSWORD") }`);
    assert.ok(devpiSite.includes('mode: "devpi"') && devpiSite.includes('"devpi-client"'), "examples/lab.ts no longer has the pypi block this test changes");
    const siteFile = path.join(work, "lab-devpi.ts");
    writeFileSync(siteFile, devpiSite);
    process.env.AIRGAP_LAB_DEVPI_ROOT_PASSWORD = rootPassword;
    process.env.AIRGAP_LAB_DEVPI_UPLOAD_PASSWORD = uploadPassword;
    // The lab's bundle again, plus the wheels: blobs linked from the first bundle, nothing fetched twice.
    const cp = await run("cp", ["-al", BUNDLE, bundle]);
    assert.equal(cp.code, 0, cp.stderr);
    const upstream = await startLabUpstream(path.join(work, "upstream"));
    try {
      const b = await run(process.execPath, [CLI, "bundle", siteFile, "-o", bundle, "--files-from", FILES_MIRROR, "--include-base", "--cert-dir", upstream.certDir,
        "--key", path.join(KEYS, "airgap-bundle.key")], { log: path.join(work, "bundle.log") });
      phase("devpi: airgap bundle", b.ms);
      assert.equal(b.code, 0, b.stdout + b.stderr);
    } finally {
      await upstream.stop();
    }
    await site.lab.install("node1", "curl");
    const c = await run(process.execPath, [CLI, "compile", siteFile, "-o", project]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    first = await site.lab.playbook("devpi-1", "site.yml", [], bundle, project);
    phase("devpi: site.yml", first.ms);
    console.log(`      e2e recap, devpi first run: ${formatRecap(first.recap)}`);
    assert.equal(first.code, 0, `log: ${first.log}`);
  });

  after(async function () {
    if (!site) return;
    this.timeout(15 * 60_000);
    // The lab's own site again (static mode), for the tests after this one: its
    // bundle is older in the site's sequence than the devpi bundle, so taken back on purpose.
    const back = await site.lab.playbook("devpi-back-to-static", "site.yml", ["-e", "airgap_allow_rollback=true"], STORE);
    phase("devpi: back to static (site.yml)", back.ms);
    assert.equal(back.code, 0, `log: ${back.log}`);
  });

  it("the bundle carries devpi-server and devpi-client with their dependencies from PyPI, and the lab's wheels", () => {
    const manifest = JSON.parse(readFileSync(path.join(bundle, "manifest.json"), "utf8")) as LabRunResult["manifest"] & { artifacts: { source?: string }[] };
    const wheels = manifest.artifacts.filter((a) => a.kind === "wheel") as { name: string; source?: string }[];
    const names = new Set(wheels.map((w) => w.name));
    for (const n of ["devpi-server", "devpi-client", "devpi-common", "pyramid", "requests", "airgap-lab-top", "airgap-lab-base", "airgap-lab-controller"]) assert.ok(names.has(n), `${n} is not in the bundle`);
    assert.ok(!names.has("airgap-lab-other"), "a wheel the site does not list was bundled");
    assert.ok(wheels.filter((w) => w.name.startsWith("devpi")).every((w) => w.source?.startsWith("https://files.pythonhosted.org/")), "devpi came from somewhere else than PyPI");
    assert.ok(wheels.filter((w) => w.name.startsWith("airgap-lab")).every((w) => w.source?.startsWith("wheelhouse/")));
    // devpi-web's pyramid-chameleon: PyPI has its sdist only; built on the bastion, and the manifest says so.
    const built = manifest.artifacts.filter((a) => (a as { built?: unknown }).built) as unknown as { name: string; path: string; built: { from: string; sha256: string } }[];
    assert.deepEqual(built.map((w) => w.name), ["pyramid-chameleon"]);
    assert.match(built[0].path, /-py3-none-any\.whl$/);
    assert.match(built[0].built.from, /^https:\/\/files\.pythonhosted\.org\/.*\.tar\.gz$/);
    assert.ok(names.has("devpi-web"));
  });

  it("no password on a command line (ps on the admin) nor in the playbook's output", async () => {
    const ps = await site.lab.sh("admin", "ps -eo user,args");
    assert.match(ps, /^airgap-\S*\s+.*devpi-server --serverdir/m, ps);
    for (const secret of [rootPassword, uploadPassword]) {
      assert.ok(!ps.includes(secret), "a password is on a command line on the admin");
      assert.ok(!readFileSync(first.log, "utf8").includes(secret), "a password is in the playbook's output");
    }
  });

  it("from a node, in a venv: pip installs devpi-client (a real package with its dependencies) and airgap-lab-top from devpi over verified TLS", async function () {
    this.timeout(5 * 60_000);
    const conf = await site.lab.sh("node1", "cat /etc/pip.conf");
    assert.match(conf, new RegExp(`^index-url = ${DEVPI_INDEX.replace(/[.+]/g, "\\$&")}$`, "m"), conf);
    await site.lab.sh("node1", `rm -rf ${VENV} && python3 -m venv ${VENV}`);
    const r = await site.lab.ssh("node1", `${VENV}/bin/pip install --disable-pip-version-check devpi-client airgap-lab-top`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`Looking in indexes: ${DEVPI_INDEX.replace(/[.+]/g, "\\$&")}`), r.stdout);
    assert.match(r.stdout, /Successfully installed .*airgap-lab-base-1\.0/, r.stdout);
    assert.match(r.stdout, /Successfully installed .*devpi-client-/, r.stdout);
    assert.match(r.stdout, /Successfully installed .*requests-/, r.stdout);
    const out = await site.lab.sh("node1", `${VENV}/bin/python -c 'import airgap_lab_top; print(airgap_lab_top.main())'`);
    assert.equal(out.trim(), "top says: hello from airgap-lab-base");
  });

  it("a package the bundle lacks fails with pip's own message", async function () {
    this.timeout(2 * 60_000);
    const r = await site.lab.ssh("node2", `rm -rf ${VENV} && python3 -m venv ${VENV} && ${VENV}/bin/pip install --disable-pip-version-check airgap-lab-other`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No matching distribution found for airgap-lab-other/, r.stderr);
  });

  it("trusting another CA instead of the site's, pip refuses devpi's certificate", async function () {
    this.timeout(2 * 60_000);
    const other = "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt";
    const r = await site.lab.ssh("node1", `${VENV}/bin/pip download --disable-pip-version-check --no-deps -d /tmp/airgap-pip-x --retries 0 --timeout 5 --cert ${other} airgap-lab-base`);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /CERTIFICATE_VERIFY_FAILED/, r.stdout + r.stderr);
  });

  it("refuses a host outside the site's networks (403 from nginx)", async () => {
    assert.equal(await site.lab.httpsStatus("outsider", `https://${site.lab.address("admin")}:3141/lab/prod/+simple/`), 403);
  });

  it("the devpi client on a node: devpi use and devpi list answer from inside", async function () {
    this.timeout(2 * 60_000);
    const env = `REQUESTS_CA_BUNDLE=${SYSTEM_CAS} HOME=/root/airgap-devpi-home`;
    const use = await site.lab.ssh("node1", `rm -rf /root/airgap-devpi-home && ${env} ${VENV}/bin/devpi use ${DEVPI}`);
    assert.equal(use.code, 0, use.stdout + use.stderr);
    assert.match(use.stdout, new RegExp(`current devpi index: ${DEVPI.replace(/[.+]/g, "\\$&")}`), use.stdout);
    const list = await site.lab.ssh("node1", `${env} ${VENV}/bin/devpi list airgap-lab-top`);
    assert.equal(list.code, 0, list.stdout + list.stderr);
    assert.match(list.stdout, new RegExp(`^${DEVPI.replace(/[.+]/g, "\\$&")}/\\+f/.*/airgap_lab_top-1\\.0-py3-none-any\\.whl$`, "m"), list.stdout);
  });

  it("an anonymous upload is refused; the declared account's upload works", async function () {
    this.timeout(2 * 60_000);
    const wheel = readFileSync(path.join(WHEELHOUSE, "airgap_lab_other-1.0-py3-none-any.whl"));
    await site.lab.sh("node1", "mkdir -p /tmp/airgap-upload");
    const put = await site.lab.ssh("node1", "base64 -d > /tmp/airgap-upload/airgap_lab_other-1.0-py3-none-any.whl", wheel.toString("base64"));
    assert.equal(put.code, 0, put.stderr);
    const form = `-F :action=file_upload -F name=airgap-lab-other -F version=1.0 -F content=@/tmp/airgap-upload/airgap_lab_other-1.0-py3-none-any.whl ${DEVPI}/`;
    const anonymous = await site.lab.sh("node1", `curl -s -o /dev/null -w '%{http_code}' ${form}`);
    assert.equal(anonymous, "401");
    const other = await site.lab.ssh("node1", `curl -s -o /dev/null -w '%{http_code}' -K - ${form}`, `user = "intruder:${randomBytes(9).toString("hex")}"\n`);
    assert.equal(other.stdout, "401", other.stderr);
    // The account's password on curl's stdin, not on its command line.
    const ok = await site.lab.ssh("node1", `curl -s -o /dev/null -w '%{http_code}' -K - ${form}`, `user = "labci:${uploadPassword}"\n`);
    assert.equal(ok.stdout, "200", ok.stderr);
    const r = await site.lab.ssh("node2", `${VENV}/bin/pip install --disable-pip-version-check airgap-lab-other`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Nobody but root makes users or indexes.
    const user = await site.lab.sh("node1", `curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d '{"password": "${randomBytes(9).toString("hex")}"}' https://pypi.${DOMAIN}:3141/intruder`);
    assert.equal(user, "403");
  });

  it("devpi-web serves its web view through nginx, over verified TLS (a node's curl with the system's CAs)", async function () {
    this.timeout(2 * 60_000);
    const front = await site.lab.ssh("node1", `curl -sS --fail -H 'Accept: text/html' https://pypi.${DOMAIN}:3141/`);
    assert.equal(front.code, 0, front.stderr);
    assert.match(front.stdout, /<html/i);
    assert.match(front.stdout, new RegExp(`href="https://pypi\\.${DOMAIN.replace(/[.]/g, "\\.")}:3141/lab/prod"`), front.stdout.slice(0, 3000));
    assert.match(front.stdout, /devpi-web-[0-9.]+/);
    const version = await site.lab.ssh("node1", `curl -sS --fail -H 'Accept: text/html' ${DEVPI}/airgap-lab-top/1.0`);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /airgap_lab_top-1\.0-py3-none-any\.whl/);
  });

  it("Kubespray's controller requirements install from devpi's index (on the admin, as the controller inside would)", async function () {
    this.timeout(2 * 60_000);
    const r = await site.lab.ssh("admin", `rm -rf /tmp/airgap-controller && python3 -m venv /tmp/airgap-controller && /tmp/airgap-controller/bin/pip install --disable-pip-version-check --index-url ${DEVPI_INDEX} airgap-lab-controller==1.0`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Successfully installed airgap-lab-controller-1\.0/, r.stdout);
  });

  it("another run of site.yml changes nothing (changed=0 on every host), uploads kept", async function () {
    this.timeout(15 * 60_000);
    const again = await site.lab.playbook("devpi-again", "site.yml", [], bundle, project);
    phase("devpi: site.yml again", again.ms);
    console.log(`      e2e recap, devpi again: ${formatRecap(again.recap)}`);
    assert.equal(again.code, 0, `log: ${again.log}`);
    for (const [host, r] of again.recap) assert.equal(r.changed, 0, `${host}: ${formatRecap(again.recap)}`);
    const page = await site.lab.sh("node1", `curl -sf ${DEVPI_INDEX}airgap-lab-other/`);
    assert.match(page, /airgap_lab_other-1\.0-py3-none-any\.whl/);
  });

  it("check mode on the converged lab: changed=0 and failed=0 on every host", async function () {
    this.timeout(15 * 60_000);
    const check = await site.lab.playbook("devpi-check", "site.yml", ["--check"], bundle, project);
    phase("devpi: site.yml --check", check.ms);
    console.log(`      e2e recap, devpi --check: ${formatRecap(check.recap)}`);
    assert.equal(check.code, 0, `log: ${check.log}`);
    for (const [host, r] of check.recap) assert.deepEqual([r.changed, r.failed], [0, 0], `${host}: ${formatRecap(check.recap)}`);
  });

  it("a run killed between devpi's unit and its restart converges on the next run (roles/converge)", async function () {
    this.timeout(15 * 60_000);
    // Where such a run leaves the host: devpi-server runs an older unit (here
    // one without --restrict-modify: anybody may make users), the role's unit
    // is on disk, and the record names the files devpi-server last started with.
    const unit = "/etc/systemd/system/airgap-devpi.service";
    const files = `${unit} /opt/airgap/devpi/airgap-freeze.txt /var/lib/airgap/devpi/.secret`;
    await site.lab.sh("admin", `cp ${unit} /root/airgap-devpi.service.role && sed -i 's/ --restrict-modify root//' ${unit} && systemctl daemon-reload && systemctl restart airgap-devpi && ` +
      `/usr/local/lib/airgap/airgap-applied record devpi ${files} && cp /root/airgap-devpi.service.role ${unit}`);
    assert.doesNotMatch(await site.lab.sh("admin", "ps -eo args | grep '[d]evpi-server --serverdir'"), /--restrict-modify/);
    const run = await site.lab.playbook("devpi-killed", "site.yml", [], bundle, project);
    phase("devpi: site.yml after a killed run", run.ms);
    console.log(`      e2e recap, devpi after a killed run: ${formatRecap(run.recap)}`);
    assert.equal(run.code, 0, `log: ${run.log}`);
    assert.equal(taskStatus(run.stdout, "pypi_server : Run devpi-server as a systemd service on the loopback", "admin"), "ok", "the unit on disk was already the role's");
    assert.equal(taskStatus(run.stdout, "pypi_server : Tell whether devpi-server runs these files", "admin"), "changed");
    // The handler's result line follows its header and the timing line of profile_roles.
    assert.match(run.stdout, /^RUNNING HANDLER \[pypi_server : Restart devpi-server\] .*\n(?:.*\n)?changed: \[admin\]/m, "the handler did not restart devpi-server");
    assert.match(await site.lab.sh("admin", "ps -eo args | grep '[d]evpi-server --serverdir'"), /--restrict-modify root/);
    for (const [host, r] of run.recap) if (host !== "admin") assert.equal(r.changed, 0, `${host}: ${formatRecap(run.recap)}`);
    let status = "";
    for (let i = 0; i < 30 && status !== "403"; i++) {
      status = (await site.lab.ssh("node1", `curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d '{"password": "${randomBytes(9).toString("hex")}"}' https://pypi.${DOMAIN}:3141/intruder2`)).stdout;
      if (status !== "403") await new Promise((res) => setTimeout(res, 2000));
    }
    assert.equal(status, "403", "devpi-server does not run the role's unit after the next run");
  });

  it("devpi-server restarted keeps its index", async function () {
    this.timeout(3 * 60_000);
    await site.lab.sh("admin", "systemctl restart airgap-devpi");
    let page = "";
    for (let i = 0; i < 60 && !page.includes("airgap_lab_top-1.0"); i++) {
      const r = await site.lab.ssh("node1", `curl -s ${DEVPI_INDEX}airgap-lab-top/`);
      page = r.stdout;
      if (!page.includes("airgap_lab_top-1.0")) await new Promise((res) => setTimeout(res, 2000));
    }
    assert.match(page, /airgap_lab_top-1\.0-py3-none-any\.whl#sha256=/, page);
    const r = await site.lab.ssh("node1", `rm -rf /tmp/v2 && python3 -m venv /tmp/v2 && /tmp/v2/bin/pip install --disable-pip-version-check airgap-lab-top airgap-lab-other`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});
