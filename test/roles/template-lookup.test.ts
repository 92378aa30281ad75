/**
 * Template lookups whose text the role parses or passes on as text. Ansible's
 * template lookup turns a result that reads as YAML/JSON into data unless it
 * is given `convert_data=false` (ansible-core 2.14, the controller's Debian
 * 12 Ansible): `lookup('ansible.builtin.template', 'x.json.j2') | from_json`
 * then fails with "the JSON object must be str, bytes or bytearray, not
 * dict", and a YAML text given to a module's string option becomes a dict.
 * The lab found it (roles/etcd_backup and roles/state_backup never wrote
 * their configuration under Ansible; test/e2e/backups.test.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "./registry-harness.js";

const LOOKUP = /lookup\(\s*['"](?:ansible\.builtin\.)?template['"][^)]*\)/g;

/** Every task file of every role, with its text. */
function taskFiles(): [string, string][] {
  const out: [string, string][] = [];
  for (const role of readdirSync(path.join(ROOT, "roles"))) {
    const dir = path.join(ROOT, "roles", role, "tasks");
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names.filter((x) => /\.ya?ml$/.test(x))) out.push([`roles/${role}/tasks/${n}`, readFileSync(path.join(dir, n), "utf8")]);
  }
  return out;
}

describe("roles: template lookups keep their text (convert_data=false)", function () {
  this.timeout(120_000);

  it("every template lookup in the roles' tasks says convert_data=false", () => {
    const bad = taskFiles().flatMap(([file, text]) => [...text.matchAll(LOOKUP)].filter((m) => !/convert_data\s*=\s*(false|False)/.test(m[0])).map((m) => `${file}: ${m[0]}`));
    assert.deepEqual(bad, []);
  });

  it("roles/etcd_backup's and roles/state_backup's configuration tasks, as written, render their JSON under Ansible", function () {
    if (spawnSync("sh", ["-c", "command -v ansible-playbook"]).status !== 0) return this.skip();
    const tmp = tempDir("airgap-template-lookup-");
    mkdirSync(path.join(tmp, "templates"));
    for (const [role, file] of [["etcd_backup", "etcd-backup.json.j2"], ["state_backup", "state-backup.json.j2"]]) {
      const tasks = readFileSync(path.join(ROOT, "roles", role, "tasks/main.yml"), "utf8");
      // The role's own `content:` line, with a tiny template of the same name in its place.
      const line = tasks.split("\n").find((l) => l.includes(`'${file}'`) && l.includes("content:"));
      assert.ok(line, `${role} has no content: line for ${file}`);
      writeFileSync(path.join(tmp, "templates", file), '{"name": "{{ inventory_hostname }}", "n": {{ 1 + 1 }}}\n');
      const out = path.join(tmp, `${role}.json`);
      writeFileSync(path.join(tmp, "play.yml"), `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n    ${line}\n        dest: ${out}\n`);
      const r = spawnSync("ansible-playbook", [path.join(tmp, "play.yml")], { encoding: "utf8", env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_NOCOLOR: "1", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" } });
      assert.equal(r.status, 0, `${role}: ${r.stdout}${r.stderr}`);
      assert.deepEqual(JSON.parse(readFileSync(out, "utf8")), { name: "localhost", n: 2 });
    }
  });
});
