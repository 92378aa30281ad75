/**
 * Every refusal message of every role renders: test/static/render_refusals.py
 * templates each `fail` msg and `assert` fail_msg/msg with Ansible's own
 * templar (the ansible-core that runs the playbooks), with the role's
 * defaults, a Debian host's facts and a failed result for what it registers.
 * A refusal whose message does not render stops the run with a template
 * error instead of its reason (issue 18: `bundle\'s` inside a Jinja literal).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../helpers.js";

const SCRIPT = path.join(ROOT, "test/static/render_refusals.py");

/** The Python that runs ansible-playbook (its shebang), which imports ansible. */
function ansiblePython(): string {
  const which = spawnSync("sh", ["-c", "command -v ansible-playbook"], { encoding: "utf8" });
  assert.equal(which.status, 0, "ansible-playbook is not on PATH; test/setup.sh installs it");
  const shebang = readFileSync(which.stdout.trim(), "utf8").split("\n")[0];
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(shebang);
  assert.ok(m, `no shebang in ${which.stdout.trim()}`);
  return m[1].endsWith("/env") && m[2] ? m[2] : m[1];
}

interface Rendered {
  role: string;
  file: string;
  task: string;
  key: string;
  text?: string;
  error?: string;
}

function render(rolesDir: string): { code: number | null; messages: Rendered[]; stderr: string } {
  const r = spawnSync(ansiblePython(), [SCRIPT, rolesDir], { encoding: "utf8" });
  return { code: r.status, stderr: r.stderr, messages: r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Rendered) };
}

describe("roles: every refusal message renders with Ansible's templar", function () {
  this.timeout(120_000);

  it("renders each fail/assert message of every role to its text", () => {
    const r = render(path.join(ROOT, "roles"));
    const broken = r.messages.filter((m) => m.error);
    assert.deepEqual(broken.map((m) => `${m.role}/${m.file} "${m.task}" ${m.key}: ${m.error}`), [], r.stderr);
    assert.equal(r.code, 0, r.stderr);
    // Every role that refuses anything was read (none skipped silently).
    const roles = new Set(r.messages.map((m) => m.role));
    for (const role of ["bind", "ca", "ca_trust", "chrony", "gateway", "nginx", "pip_client", "pypi_server", "registry", "repo_client", "repo_server", "resolver", "routes"]) {
      assert.ok(roles.has(role), `no refusal message read in roles/${role}`);
    }
    const bundle = r.messages.find((m) => m.role === "pypi_server" && m.task === "Refuse a bundle without the site's packages");
    assert.match(bundle?.text ?? "", /is refused for the Python index; nothing changed\. the reason/);
  });

  it("reports a message that does not render (the old PyPI refusal, in a role written for the test)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-refusals-"));
    try {
      mkdirSync(path.join(dir, "broken/tasks"), { recursive: true });
      writeFileSync(path.join(dir, "broken/tasks/main.yml"), `---
- name: Refuse
  ansible.builtin.fail:
    msg: >-
      Refused. {{ ('add devpi-server wheels to the bundle\\'s source') if airgap_x | default(false) else '' }}
- name: Check
  ansible.builtin.assert:
    that: [true]
    fail_msg: "{{ airgap_nowhere_defined }}"
`);
      const r = render(dir);
      assert.equal(r.code, 1);
      assert.deepEqual(r.messages.map((m) => [m.task, /TemplateSyntaxError|template error/.test(m.error ?? "") ? "syntax" : /undefined/.test(m.error ?? "") ? "undefined" : "ok"]), [["Refuse", "syntax"], ["Check", "undefined"]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
