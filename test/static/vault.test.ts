/**
 * Secrets kept with `fromVault` reach every playbook run against the compiled
 * inventory, Kubespray's `cluster.yml` included, through
 * `inventory/group_vars/all/airgap-secrets.yml`; nothing needs the vault
 * password to parse, syntax-check or lint the project. Real ansible-vault,
 * ansible-playbook and ansible-lint; the "cluster.yml" here is a playbook
 * outside the project, run as Kubespray's is (`-i inventory/hosts.yml`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { synth } from "../../compile/synth.js";
import { writeProject } from "../../compile/write.js";
import { ROOT } from "../helpers.js";

/** The environment without any vault password setting of the caller's. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ANSIBLE_NOCOLOR: "1", NO_COLOR: "1" };
  delete e.ANSIBLE_VAULT_PASSWORD_FILE;
  delete e.ANSIBLE_VAULT_IDENTITY_LIST;
  return e;
}

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: env() });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}); .ci/run installs it`);
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe("static checks: secrets in a vault reach every playbook", function () {
  this.timeout(600000);
  let dir: string;
  let project: string;
  let files: Map<string, string>;
  const pull = randomBytes(12).toString("hex");
  const push = randomBytes(12).toString("hex");

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "airgap-vault-"));
    mkdirSync(path.join(dir, "site"));
    copyFileSync(path.join(ROOT, "test/static/sites/vault.ts"), path.join(dir, "site/vaulted.ts"));
    writeFileSync(path.join(dir, "vault-pass"), randomBytes(16).toString("hex"), { mode: 0o600 });
    writeFileSync(path.join(dir, "site/secrets.yml"), `registry_pull_password: ${pull}\nregistry_push_password: ${push}\n`);
    const enc = run("ansible-vault", ["encrypt", "--vault-password-file", path.join(dir, "vault-pass"), "site/secrets.yml"], dir);
    assert.equal(enc.code, 0, enc.out);
    project = path.join(dir, "project");
    const r = await synth(path.join(dir, "site/vaulted.ts"), { outDir: project });
    assert.deepEqual(r.errors, []);
    files = r.files;
    writeProject(project, files);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("no playbook loads the vault file; the inventory refers to it, and holds no secret", () => {
    for (const [f, text] of files) {
      if (f.endsWith(".yml") && !f.startsWith("roles/")) assert.doesNotMatch(text, /vars_files/, f);
      assert.ok(!text.includes(pull) && !text.includes(push), `${f} holds a secret`);
    }
    const secrets = files.get("inventory/group_vars/all/airgap-secrets.yml")!;
    assert.match(secrets, /^registry_pull_password: "\{\{ \(lookup\('ansible\.builtin\.unvault', inventory_dir ~ '\/\.\.\/\.\.\/site\/secrets\.yml'\) \| from_yaml\)\['registry_pull_password'\] \}\}"$/m);
  });

  it("--syntax-check and ansible-lint pass without the vault password", () => {
    for (const playbook of ["site.yml", "playbooks/admin.yml", "playbooks/nodes.yml"]) {
      const r = run("ansible-playbook", ["--syntax-check", playbook], project);
      assert.equal(r.code, 0, `${playbook}: ${r.out}`);
    }
    const lint = run("ansible-lint", ["--profile", "production", "--offline"], project);
    assert.equal(lint.code, 0, lint.out);
  });

  it("a playbook outside the project, run against its inventory as Kubespray's cluster.yml is, renders the pull account's header from the vault", () => {
    const standin = path.join(dir, "kubespray");
    mkdirSync(standin);
    writeFileSync(
      path.join(standin, "cluster.yml"),
      "- name: Stand-in for Kubespray's cluster.yml\n  hosts: kube_control_plane\n  gather_facts: false\n  tasks:\n" +
        "    - name: Show the registry mirrors\n      ansible.builtin.debug:\n        msg: \"{{ containerd_registries_mirrors | to_json }}\"\n",
    );
    const args = ["-i", path.join(project, "inventory/hosts.yml"), path.join(standin, "cluster.yml"), "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=/usr/bin/python3"];
    const r = run("ansible-playbook", [...args, "--vault-password-file", path.join(dir, "vault-pass")], standin);
    assert.equal(r.code, 0, r.out);
    const headers = [...r.out.matchAll(/Basic ([A-Za-z0-9+/=]+)/g)].map((m) => Buffer.from(m[1], "base64").toString());
    assert.ok(headers.length > 0, r.out);
    for (const h of headers) assert.equal(h, `puller:${pull}`);
    // Without the password, the same run stops at the vault, naming it: the header comes from nowhere else.
    const bare = run("ansible-playbook", args, standin);
    assert.notEqual(bare.code, 0);
    assert.match(bare.out, /A vault password or secret must be specified to decrypt .*secrets\.yml/);
  });
});
