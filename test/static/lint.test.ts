/**
 * Static checks with the real tools: ansible-lint (production profile) on the
 * roles and on a compiled example, ansible-playbook --syntax-check on every
 * compiled playbook, yamllint on the compiled YAML.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { synth } from "../../compile/synth.js";
import { writeProject } from "../../compile/write.js";
import { EXAMPLES, ROOT } from "../helpers.js";

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ANSIBLE_NOCOLOR: "1", NO_COLOR: "1" } });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}); .ci/run installs it`);
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

// The default example, the lab's site: it alone routes between networks
// (playbooks/network.yml, the gateway and routes roles) and has a PyPI index,
// and a cluster of Debian and RHEL-family nodes pulling through containerd
// (the registry mirrors' CA path per OS family).
const SITES = [path.join(EXAMPLES, "site.ts"), path.join(EXAMPLES, "lab.ts"), path.join(EXAMPLES, "plant.ts"), path.join(ROOT, "test/static/sites/mixed-os.ts")];
for (const site of SITES) {
  const example = path.basename(site);
  describe(`static checks: ${example} compiled`, function () {
    this.timeout(600000);
    let project: string;
    let playbooks: string[];

    before(async () => {
      project = mkdtempSync(path.join(os.tmpdir(), "airgap-lint-"));
      const result = await synth(site, { outDir: project });
      assert.deepEqual(result.errors, []);
      writeProject(project, result.files);
      playbooks = [...result.files.keys()].filter((f) => f === "site.yml" || /^playbooks\/[^/]+\.yml$/.test(f)).sort();
    });
    after(() => rmSync(project, { recursive: true, force: true }));

    if (example === "site.ts") {
      it("ansible-lint --profile production passes on roles/", () => {
        const r = run("ansible-lint", ["--profile", "production", "--offline", "roles/"], ROOT);
        assert.equal(r.code, 0, r.out);
      });
    }

    it("ansible-lint --profile production passes on the compiled project", () => {
      const r = run("ansible-lint", ["--profile", "production", "--offline"], project);
      assert.equal(r.code, 0, r.out);
    });

    it("ansible-playbook --syntax-check passes on every compiled playbook", () => {
      assert.ok(playbooks.includes("site.yml") && playbooks.includes("playbooks/admin.yml"), playbooks.join(", "));
      if (example === "lab.ts") assert.ok(playbooks.includes("playbooks/network.yml"), "the lab site routes");
      for (const playbook of playbooks) {
        const r = run("ansible-playbook", ["--syntax-check", playbook], project);
        assert.equal(r.code, 0, `${playbook}: ${r.out}`);
      }
    });

    it("yamllint passes on the compiled YAML", () => {
      const r = run("yamllint", ["-s", "-d", "{extends: default, rules: {line-length: disable}}", "inventory", "playbooks", "site.yml"], project);
      assert.equal(r.code, 0, r.out);
    });
  });
}
