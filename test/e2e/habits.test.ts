/**
 * @lab Ansible habits on the compiled project, on the converged lab: a
 * check-mode run of site.yml (the runbook's health step, walked by the
 * fixture right after the first run, without the store; and here with it,
 * as after an import) reports no change and no failure on any host;
 * `--tags dns` runs the DNS plays' roles only. And the walk itself can
 * fail: the same runbook with one line broken stops at that step.
 *
 * It converges the lab first: files before it leave the lab as their own
 * tests need it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BIN, formatRecap, labBefore, MEDIA, parseRecap, PROJECT, SITE, WORK, type LabRunResult, type PlaybookRun } from "./fixture.js";
import { walkRunbook } from "./walk.js";

function noChange(run: PlaybookRun): void {
  const lines = run.stdout.split("\n").filter((l) => /^(fatal|failed|changed): /.test(l) || /^TASK \[/.test(l));
  const shown = lines.filter((l, i) => !l.startsWith("TASK") || (lines[i + 1] && !lines[i + 1].startsWith("TASK")));
  assert.equal(run.code, 0, `log: ${run.log}\n${run.stdout.split("\n").slice(-60).join("\n")}`);
  assert.ok(run.recap.size > 0, run.stdout.slice(-2000));
  for (const [host, r] of run.recap) assert.equal(r.changed + r.failed + r.unreachable, 0, `${host}: ${formatRecap(run.recap)}\n${shown.join("\n")}`);
}

/** The roles whose tasks ran (`TASK [role : …]`), but for the argument checks every role runs whatever the tags (Ansible tags them `always`). */
function rolesRun(output: string): string[] {
  return [...new Set([...output.matchAll(/^TASK \[([a-z_]+) : (?!Validating arguments against arg spec)/gm)].map((m) => m[1]))].sort();
}

describe("@lab habits: check mode and tags", function () {
  let site: LabRunResult;

  before(async function () {
    site = await labBefore(this);
  });

  it("site.yml --check without the store (the runbook's health step): no change, no failure, on every host", () => {
    const health = site.walk.find((s) => s.id === "health");
    assert.ok(health?.stdout && health.code === 0, "the fixture walked the runbook's health step");
    assert.equal(health.commands[0], "ansible-playbook site.yml --check");
    // The step's first command is the only playbook run in its output: the recap is the check run's.
    const recap = new Map([...parseRecap(health.stdout)].filter(([, r]) => r.ok !== undefined));
    console.log(`      e2e recap, check mode (runbook health step): ${formatRecap(recap)}`);
    assert.equal(recap.size, 4, health.stdout.slice(-3000));
    noChange({ ...(health as Required<typeof health>), recap, log: "" });
  });

  it("site.yml --check with the store, as after an import: no change, no failure", async function () {
    this.timeout(20 * 60_000);
    // Earlier files leave the lab as their tests need it (lab.test.ts's
    // rollback leaves node1's package lists a release ahead of what is
    // served; a real run would refresh them, so check mode rightly says
    // "changed"): converge first, then ask.
    const converge = await site.lab.playbook("check-store-converge", "site.yml");
    assert.equal(converge.code, 0, `log: ${converge.log}`);
    const check = await site.lab.playbook("check-store", "site.yml", ["--check"]);
    console.log(`      e2e recap, check mode with the store: ${formatRecap(check.recap)} (${(check.ms / 1000).toFixed(0)} s)`);
    noChange(check);
  });

  it("--tags dns runs the name servers and resolvers only, and changes nothing", async function () {
    this.timeout(15 * 60_000);
    const dns = await site.lab.playbook("tags-dns", "site.yml", ["--tags", "dns"], null);
    console.log(`      e2e recap, --tags dns: ${formatRecap(dns.recap)}; roles: ${rolesRun(dns.stdout).join(", ")} (${(dns.ms / 1000).toFixed(0)} s)`);
    noChange(dns);
    // converge is what bind and resolver include to finish an interrupted
    // dpkg run and to restart a daemon that does not run its files.
    assert.deepEqual(rolesRun(dns.stdout), ["bind", "converge", "resolver"]);
  });

  it("the walked runbook with one line broken (the import's trusted key) fails at that step, and the next never runs", async () => {
    const readme = readFileSync(path.join(PROJECT, "README.md"), "utf8");
    // Every occurrence: the prose names the command too, before the walked block.
    const broken = readme.replaceAll("--trust airgap-bundle.pub", "--trust airgap-bundle.pem");
    assert.notEqual(broken, readme, "the runbook's import step names airgap-bundle.pub");
    const dir = path.join(WORK, "broken-walk");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, "home"), { recursive: true });
    writeFileSync(path.join(dir, "README.md"), broken);
    const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, MEDIA, HOME: path.join(dir, "home") };
    await assert.rejects(
      walkRunbook({ readme: path.join(dir, "README.md"), start: { bastion: path.dirname(SITE), controller: path.join(dir, "home") }, env: { bastion: env, controller: env }, log: path.join(dir, "walk.log"), only: ["unload", "import", "ping"] }),
      (err: Error) => {
        console.log(`      e2e broken runbook: ${err.message.split("\n").slice(0, 2).join(" / ")} … ${err.message.trim().split("\n").pop()}`);
        assert.match(err.message, /^runbook step import \(controller\) failed, exit 1:\nairgap import transfer\/lab\.tar --store store --trust airgap-bundle\.pem --site lab\n/);
        assert.match(err.message, /airgap-bundle\.pem/);
        return true;
      },
    );
    assert.ok(existsSync(path.join(dir, "home/airgap-lab/transfer")), "the unload step before it ran");
    assert.ok(!existsSync(path.join(dir, "home/airgap-lab/store/manifest.json")), "nothing was imported");
    assert.doesNotMatch(readFileSync(path.join(dir, "walk.log"), "utf8"), /=== step ping/, "the step after it never ran");
  });
});
