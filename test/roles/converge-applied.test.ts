import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

const TOOL = path.join(ROOT, "roles/converge/files/airgap-applied");

/**
 * roles/converge's airgap-applied: a service's record matches its files only
 * after `record`; any change to a file, a folder's files, or a file's presence
 * makes `check` exit 3 (the roles then notify the reload/restart handler).
 */
describe("converge: airgap-applied tells whether a service runs its files", function () {
  this.timeout(30000);
  let tmp: string;
  let state: string;
  let conf: string;
  let dir: string;
  const run = (...args: string[]) => spawnSync("python3", [TOOL, ...args], { encoding: "utf8", env: { ...process.env, AIRGAP_APPLIED_DIR: state } });
  const check = () => run("check", "named", conf, dir, path.join(tmp, "gone"));
  const record = () => run("record", "named", conf, dir, path.join(tmp, "gone"));

  beforeEach(() => {
    tmp = tempDir("airgap-applied-");
    state = path.join(tmp, "state");
    conf = path.join(tmp, "named.conf");
    dir = path.join(tmp, "zones");
    writeFileSync(conf, "options { };\n");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "db.site"), "@ SOA x\n");
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("says a service never recorded does not run its files (exit 3), then that it does once recorded", () => {
    const first = check();
    assert.equal(first.status, 3, first.stderr);
    assert.match(first.stdout, /named: no record/);
    assert.equal(record().status, 0);
    const again = check();
    assert.equal(again.status, 0, again.stdout + again.stderr);
  });

  it("notices a changed file, a changed, added or removed file in a folder, and a file that appears", () => {
    const changes: [string, () => void][] = [
      ["file content", () => writeFileSync(conf, "options { listen-on { 10.0.0.1; }; };\n")],
      ["folder file content", () => writeFileSync(path.join(dir, "db.site"), "@ SOA y\n")],
      ["folder file added", () => writeFileSync(path.join(dir, "db.other"), "@ SOA z\n")],
      ["folder file removed", () => unlinkSync(path.join(dir, "db.site"))],
      ["absent file appears", () => writeFileSync(path.join(tmp, "gone"), "x")],
    ];
    for (const [what, change] of changes) {
      assert.equal(record().status, 0, what);
      assert.equal(check().status, 0, what);
      change();
      const r = check();
      assert.equal(r.status, 3, `${what}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /named: its files changed/, what);
    }
  });

  it("keeps one record per name, and refuses a name that is not a plain word", () => {
    assert.equal(record().status, 0);
    assert.equal(run("check", "chrony", conf).status, 3);
    assert.equal(run("check", "../etc", conf).status, 2);
    assert.equal(run("check").status, 2);
    assert.equal(run("forget", "named", conf).status, 2);
  });
});

/**
 * roles/converge is included by every role that reloads a service (seven
 * times on the lab's admin host in one run): it puts the tool in place once
 * per host and run, and again only for another path.
 */
describe("converge: the tool is put in place once per host and run", function () {
  this.timeout(5 * 60_000);
  let tmp: string;
  before(function () {
    if (spawnSync("ansible-playbook", ["--version"]).status !== 0) this.skip();
    // The role makes root's files (owner root): only root runs it.
    if (process.getuid?.() !== 0) this.skip();
    tmp = tempDir("airgap-converge-");
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("installs it at the first include, skips the next ones, and installs again where another path is asked for", () => {
    const include = (tool: string) => `    - name: Include converge (${tool})
      ansible.builtin.include_role:
        name: converge
        public: true
      vars:
        airgap_converge_tool: ${path.join(tmp, tool, "airgap-applied")}
`;
    writeFileSync(
      path.join(tmp, "play.yml"),
      `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
${include("a")}${include("a")}${include("a")}${include("b")}    - name: Run the tool from where the last include put it
      ansible.builtin.command:
        argv: ["{{ airgap_converge_tool }}", "check", "x", "${tmp}"]
      register: out
      changed_when: false
      failed_when: out.rc != 3
`,
    );
    const r = spawnSync("ansible-playbook", ["-i", "localhost,", path.join(tmp, "play.yml")], {
      encoding: "utf8",
      env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"), ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0", AIRGAP_APPLIED_DIR: path.join(tmp, "state") },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const installs = r.stdout.split("TASK [converge : Install the tool that tells whether a service runs its files]").slice(1).map((s) => s.split("\n\n")[0].trim());
    assert.equal(installs.length, 4, r.stdout);
    assert.deepEqual(installs.map((s) => /(changed|ok|skipping): \[localhost\]/.exec(s)?.[1]), ["changed", "skipping", "skipping", "changed"], r.stdout);
  });
});
