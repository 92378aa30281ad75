/**
 * @lab time first (issue 17 part 2): a host whose clock is off.
 *
 * The lab's hosts share this machine's kernel clock and may not set it (no
 * CAP_SYS_TIME), so a host's clock is put off with Debian's libfaketime: the
 * library (copied from this machine, same Debian release) preloaded by
 * node2's /etc/environment (pam_env, for every SSH session) and the offset in
 * /etc/faketimerc, so that every SSH session on node2 from then on and what
 * it starts (Ansible's modules, apt, python) sees the clock that far off;
 * sshd itself and the daemons keep the true time. (In /etc/ld.so.preload it
 * reached sshd's per-connection process too, and every connection then
 * broke: "client_loop: send disconnect: Broken pipe", session 6.) Debian's libfaketime does not intercept clock_settime, and node2 may
 * not set the clock anyway: the role's step is refused there, as on any
 * container, so the run must stop at the role's task, naming the offset, and
 * before anything trusts the clock.
 *
 * Then the clock is made right (the preload removed, as an operator would set
 * the clock the message asks for) and one run of site.yml on node2 converges
 * with nothing to change; a clock off by 3 s (within the bound) goes on with
 * a warning. node2's preload is removed after the tests whatever happens.
 *
 * In `npm test` since session 7 (3 of 3 passing in the lab at the end of
 * session 6, run by name).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatRecap, labBefore, run, SETUP_TIMEOUT, taskStatus, type LabRunResult } from "./fixture.js";

const ADMIN = "10.213.0.10";
const LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const ON_NODE = "/usr/local/lib/airgap-lab/libfaketime.so.1";
const PRELOAD = `LD_PRELOAD=${ON_NODE}`;
const CLOCK_TASK = "clock : Set the clock from the site's time servers";

describe("@lab time first: a host whose clock is off", function () {
  let site: LabRunResult;

  /** Puts node2's clock `offset` off (libfaketime's FAKETIME syntax: "-86400" is a day behind). */
  async function skew(offset: string): Promise<void> {
    await site.lab.sh("node2", `printf '%s\\n' '${offset}' > /etc/faketimerc && (grep -qxF '${PRELOAD}' /etc/environment || echo '${PRELOAD}' >> /etc/environment)`);
    freshConnections();
  }
  /**
   * pam_env sets a connection's environment once, when it opens; Ansible's
   * connections persist (ControlPersist) and would carry the old one into the
   * next run (the first lab run with pam_env: the skew never reached the
   * playbook). Each change of the clock gets connections of its own.
   */
  function freshConnections(): void {
    process.env.ANSIBLE_SSH_CONTROL_PATH_DIR = mkdtempSync(path.join(os.tmpdir(), "airgap-e2e-cp-"));
  }
  async function unskew(): Promise<void> {
    await site.lab.sh("node2", `sed -i '\\#^${PRELOAD}$#d' /etc/environment && rm -f /etc/faketimerc`);
    freshConnections();
  }

  before(async function () {
    // By name only: a whole-suite run (no file named) skips it.
    site = await labBefore(this);
    // The hook's clock started with the lab's bring-up, when this file is the first e2e one.
    this.timeout(SETUP_TIMEOUT + 2 * 60_000);
    const copy = await run("sh", ["-c", `ssh ${site.lab.env.AIRGAP_LAB_SSH_ARGS} -o BatchMode=yes root@${site.lab.address("node2")} 'mkdir -p ${ON_NODE.replace(/\/[^/]+$/, "")} && cat > ${ON_NODE}' < ${LIB}`]);
    assert.equal(copy.code, 0, copy.stderr);
  });
  after(async function () {
    if (site) await unskew();
    delete process.env.ANSIBLE_SSH_CONTROL_PATH_DIR;
  });

  it("node2 a day behind: the site's certificate is not yet valid there, and site.yml stops at node2's clock task naming the offset", async function () {
    this.timeout(10 * 60_000);
    await skew("-86400");
    const behind = Number((await site.lab.sh("node2", "date +%s")).trim());
    assert.ok(Math.abs(Date.now() / 1000 - 86400 - behind) < 60, `node2's clock is a day behind: ${behind}`);
    // What it would have met: the repository's certificate, issued by the first run, is from node2's future.
    const tls = await site.lab.ssh("node2", `python3 -c "import urllib.request; urllib.request.urlopen('https://repo.lab.airgap.internal/', timeout=5)"`);
    assert.notEqual(tls.code, 0);
    assert.match(tls.stdout + tls.stderr, /certificate is not yet valid/);
    const r = await site.lab.playbook("clock-behind", "site.yml", ["--limit", "node2"]);
    console.log(`      e2e recap, node2 a day behind: ${formatRecap(r.recap)} (${(r.ms / 1000).toFixed(0)} s)`);
    assert.equal(r.code, 2, r.stdout.slice(-3000));
    assert.equal(r.recap.get("node2")?.failed, 1);
    assert.equal(taskStatus(r.stdout, CLOCK_TASK, "node2"), "fatal");
    assert.match(r.stdout, /the clock of this host is 86400\.\d+ s behind 10\.213\.0\.10 \(offset \+86400\.\d+ s, more than 5\.0 s\)/);
    // Nothing that trusts the clock ran on node2.
    assert.equal(taskStatus(r.stdout, "repo_client : Read the repository's index as served", "node2"), undefined);
  });

  it("once node2's clock is right, one site.yml on node2 goes through and changes nothing", async function () {
    this.timeout(10 * 60_000);
    await unskew();
    const r = await site.lab.playbook("clock-right", "site.yml", ["--limit", "node2"]);
    console.log(`      e2e recap, node2's clock right: ${formatRecap(r.recap)} (${(r.ms / 1000).toFixed(0)} s)`);
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.equal(r.recap.get("node2")?.changed, 0, r.stdout.slice(-3000));
    assert.equal(taskStatus(r.stdout, CLOCK_TASK, "node2"), "ok");
  });

  it("node2 3 s behind (within the bound; a container cannot step it): the clock plays go on, with a warning naming the offset", async function () {
    this.timeout(5 * 60_000);
    await skew("-3");
    try {
      const r = await site.lab.playbook("clock-3s", "site.yml", ["--limit", "node2", "--tags", "clock"]);
      assert.equal(r.code, 0, r.stdout.slice(-3000));
      assert.match(r.stdout + r.stderr, new RegExp(`\\[WARNING\\]: the clock is 3\\.\\d+ s\\s+behind\\s+${ADMIN.replace(/\./g, "\\.")}\\s+and\\s+could\\s+not\\s+be\\s+stepped`));
    } finally {
      await unskew();
    }
  });
});
