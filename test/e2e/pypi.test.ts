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
 * devpi mode is checked against a real devpi-server by
 * test/roles/devpi-seed.test.ts; its lab suite is not here yet (docs/pypi.md).
 */
import assert from "node:assert/strict";
import { formatRecap, labBefore, phase, STORE, type LabRunResult } from "./fixture.js";

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
