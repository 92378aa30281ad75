/**
 * The runbook walker (walk.ts) on small runbooks of its own, no lab: one
 * shell per machine (folders and exports carry over), input typed on stdin,
 * needs and skips reported, and a broken line stops the walk naming its step.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { renderSteps, type RunbookStep } from "../../compile/emit/runbook.js";
import { walkRunbook } from "./walk.js";

describe("runbook walker", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "airgap-walk-test-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function walk(steps: RunbookStep[], extra: Partial<Parameters<typeof walkRunbook>[0]> = {}) {
    const readme = path.join(dir, "README.md");
    writeFileSync(readme, `# test\n\n${renderSteps(steps)}`);
    const env = { PATH: process.env.PATH };
    return walkRunbook({ readme, start: { bastion: dir, controller: dir }, env: { bastion: env, controller: env }, log: path.join(dir, "walk.log"), ...extra });
  }

  it("runs each machine's blocks as one shell: folders, exports and typed input carry over", async () => {
    const steps: RunbookStep[] = [
      { id: "a", title: "A", on: "bastion", text: ["a"], commands: ["mkdir -p sub", "cd sub", "export SEEN=bastion"] },
      { id: "b", title: "B", on: "controller", text: ["b"], commands: ['test -z "${SEEN:-}"', "read -rsp 'SECRET: ' SECRET && export SECRET"], input: ["SECRET"] },
      { id: "c", title: "C", on: "bastion", text: ["c"], commands: ['test "$(basename "$PWD")" = sub', 'test "$SEEN" = bastion', 'echo "$SEEN"'] },
      { id: "d", title: "D", on: "controller", text: ["d"], commands: ['test "$SECRET" = typed', 'test ! -e "$KUBESPRAY_DIR"'], needs: ["KUBESPRAY_DIR"] },
    ];
    const r = await walk(steps, { input: { SECRET: "typed" } });
    assert.deepEqual(r.map((s) => [s.id, s.code ?? s.skipped]), [["a", 0], ["b", 0], ["c", 0], ["d", "needs KUBESPRAY_DIR"]]);
    assert.equal(r[2].stdout, "bastion\n");
  });

  it("a broken line stops the walk at its step, with its output", async () => {
    const steps: RunbookStep[] = [
      { id: "ok", title: "OK", on: "bastion", text: ["ok"], commands: ["true"] },
      { id: "import", title: "Import", on: "controller", text: ["x"], commands: ["echo importing", "cat airgap-bundle.pem", "echo never"] },
      { id: "after", title: "After", on: "controller", text: ["x"], commands: ["touch after-ran"] },
    ];
    await assert.rejects(walk(steps), (err: Error) => {
      assert.match(err.message, /^runbook step import \(controller\) failed, exit 1:/);
      assert.match(err.message, /airgap-bundle\.pem: No such file or directory/);
      assert.doesNotMatch(err.message, /^never$/m);
      return true;
    });
  });

  it("a machine whose start folder is missing is named, before any step runs", async () => {
    const steps: RunbookStep[] = [{ id: "a", title: "A", on: "bastion", text: ["a"], commands: ["touch ran"] }];
    const missing = path.join(dir, "no-such-home");
    await assert.rejects(walk(steps, { start: { bastion: dir, controller: missing } }), new RegExp(`the controller's shell starts in ${missing}, which does not exist`));
  });

  it("the lab's extra words go after the command they name; a skip names its reason", async () => {
    const steps: RunbookStep[] = [
      { id: "bundle", title: "Bundle", on: "bastion", text: ["b"], commands: ["echo bundle -o x", "echo other"] },
      { id: "venv", title: "Venv", on: "controller", text: ["v"], commands: ["false"] },
    ];
    const r = await walk(steps, { extra: { bundle: { "echo bundle": ["--split", "32M", "it's"] } }, skip: { venv: "not a site host" } });
    assert.equal(r[0].stdout, "bundle -o x --split 32M it's\nother\n");
    assert.equal(r[1].skipped, "not a site host");
  });
});
