import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

/** Debian's libfaketime (package libfaketime): the processes it is preloaded into see the clock shifted by FAKETIME. */
const FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/**
 * Every process these tests start runs without CAP_SYS_TIME (not even in its
 * bounding set): the role steps the clock when it can, and this machine's
 * clock is everyone's. Debian's libfaketime does not intercept clock_settime
 * (built without FAKE_SETTIME): a step under it reaches the real clock.
 */
const NO_SYS_TIME = ["setpriv", "--bounding-set=-sys_time"];

/** A UDP port nobody listens on, for the time server. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.on("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * roles/clock (time first, issue 17 part 2) run by ansible-playbook on this
 * machine against a real chronyd on the loopback (`-x`: it never sets the
 * clock), with the host's clock shifted by libfaketime where a test needs a
 * host whose clock is off: within the bound it goes on, beyond it the run
 * stops at the role's task naming the offset and the server, with no server
 * it stops (or, for a time server without upstream, goes on).
 */
describe("clock: a host's clock is checked against the site's time before anything trusts it", function () {
  // Several ansible-playbook runs, one of which waits for a server that never answers.
  this.timeout(5 * 60_000);
  let tmp: string;
  let port: number;
  let chronyd: ChildProcess | undefined;

  /** One ansible-playbook run of the role on localhost; `env` adds to the environment (libfaketime). */
  const play = (vars: Record<string, unknown>, env: Record<string, string> = {}, extra: string[] = []) => {
    writeFileSync(path.join(tmp, "vars.json"), JSON.stringify({ airgap_clock_port: port, ...vars }));
    const r = spawnSync(NO_SYS_TIME[0], [...NO_SYS_TIME.slice(1), "ansible-playbook", "-i", "localhost,", path.join(tmp, "play.yml"), "-v", "-e", `@${path.join(tmp, "vars.json")}`, ...extra], {
      encoding: "utf8",
      env: {
        ...process.env,
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"),
        ANSIBLE_LOCALHOST_WARNING: "0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING: "0",
        ...env,
      },
    });
    const recap = r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP"));
    const count = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(recap)?.[1] ?? NaN);
    return { status: r.status, out: r.stdout + r.stderr, changed: count("changed"), failed: count("failed"), skipped: count("skipped") };
  };
  const skewed = (seconds: string) => ({ LD_PRELOAD: FAKETIME_LIB, FAKETIME: seconds });

  before(async function () {
    if (spawnSync("ansible-playbook", ["--version"]).status !== 0) this.skip();
    assert.ok(existsSync("/usr/sbin/chronyd"), "chrony is installed (test/packages.txt)");
    assert.ok(existsSync(FAKETIME_LIB), "libfaketime is installed (test/packages.txt)");
    // The guard: without CAP_SYS_TIME, setting the clock (to what it says) is refused.
    const guard = spawnSync(NO_SYS_TIME[0], [...NO_SYS_TIME.slice(1), "python3", "-c", "import time; time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))"], { encoding: "utf8" });
    assert.notEqual(guard.status, 0, "a process started without CAP_SYS_TIME could set the clock: the tests would set this machine's");
    assert.match(guard.stderr, /PermissionError/);
    tmp = tempDir("airgap-clock-");
    port = await freeUdpPort();
    writeFileSync(path.join(tmp, "chrony.conf"), [
      `port ${port}`, "bindaddress 127.0.0.1", "allow 127.0.0.1", "local stratum 8", "cmdport 0", `pidfile ${path.join(tmp, "chronyd.pid")}`, "",
    ].join("\n"));
    // -x: serve, never set the clock; -d: in the foreground, ended by the test.
    chronyd = spawn(NO_SYS_TIME[0], [...NO_SYS_TIME.slice(1), "/usr/sbin/chronyd", "-x", "-d", "-u", "root", "-f", path.join(tmp, "chrony.conf")], { stdio: "ignore" });
    writeFileSync(
      path.join(tmp, "play.yml"),
      `- hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: clock
`,
    );
  });
  after(() => {
    chronyd?.kill("SIGTERM");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("goes on, changing nothing, when the clock agrees with the server", () => {
    const r = play({ airgap_clock_servers: ["127.0.0.1"] });
    assert.equal(r.status, 0, r.out);
    assert.equal(r.changed, 0, r.out);
    assert.match(r.out, /"msg": "the clock is 0\.0\d\d s (behind|ahead of) 127\.0\.0\.1"/);
  });

  it("stops at its task when the clock is 10 minutes behind and cannot be set, naming the offset and the server", () => {
    const r = play({ airgap_clock_servers: ["127.0.0.1"] }, skewed("-600"));
    assert.equal(r.status, 2, r.out);
    assert.equal(r.failed, 1, r.out);
    assert.match(r.out, /TASK \[clock : Set the clock from the site's time servers\][^]*fatal: \[localhost\]/);
    assert.match(r.out, /the clock of this host is 600\.\d+ s behind 127\.0\.0\.1 \(offset \+600\.\d+ s, more than 5\.0 s\)/);
    assert.match(r.out, /could not be set here \(\[Errno 1\] Operation not permitted\)/);
  });

  it("also when it is ahead, and the bound is the role's max offset", () => {
    const ahead = play({ airgap_clock_servers: ["127.0.0.1"] }, skewed("+30"));
    assert.equal(ahead.status, 2, ahead.out);
    assert.match(ahead.out, /30\.\d+ s ahead of 127\.0\.0\.1 \(offset -30\.\d+ s/);
    const wider = play({ airgap_clock_servers: ["127.0.0.1"], airgap_clock_max_offset: 60 }, skewed("+30"));
    assert.equal(wider.status, 0, wider.out);
    assert.match(wider.out, /could not be stepped\s+\(\[Errno 1\] Operation not permitted\);\s+within\s+60\.0 s,\s+so the run goes on/);
  });

  it("goes on with a warning when the clock is off within the bound but cannot be stepped", () => {
    const r = play({ airgap_clock_servers: ["127.0.0.1"] }, skewed("-3"));
    assert.equal(r.status, 0, r.out);
    assert.equal(r.changed, 0, r.out);
    assert.match(r.out, /\[WARNING\]: the clock is 3\.\d+ s behind 127\.0\.0\.1 and could not be stepped/);
  });

  it("in check mode says it would step the clock, and does not try", () => {
    const r = play({ airgap_clock_servers: ["127.0.0.1"] }, skewed("-600"), ["--check"]);
    assert.equal(r.status, 0, r.out);
    assert.equal(r.changed, 1, r.out);
    assert.match(r.out, /600\.\d+ s behind 127\.0\.0\.1: it would be stepped/);
  });

  it("does nothing on a time server whose only server is itself", () => {
    const r = play({ airgap_clock_servers: ["127.0.0.1"], ansible_host: "127.0.0.1" }, skewed("-600"));
    assert.equal(r.status, 0, r.out);
    assert.equal(r.skipped, 1, r.out);
  });

  it("stops when no server answers, unless this host is a time server that may go first", async () => {
    const silent = await freeUdpPort();
    const r = play({ airgap_clock_servers: ["127.0.0.1"], airgap_clock_port: silent, airgap_clock_wait: 3 });
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /no time server gave this host the time within 3 s \(127\.0\.0\.1: timed out\)/);
    const optional = play({ airgap_clock_servers: ["127.0.0.1"], airgap_clock_port: silent, airgap_clock_wait: 3, airgap_clock_required: false });
    assert.equal(optional.status, 0, optional.out);
    assert.match(optional.out, /no other time server answers yet/);
  });
});
