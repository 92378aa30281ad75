import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

const ROLE = path.join(ROOT, "roles/bind");

/**
 * The bind role's zone serials (tasks/serials.yml + templates/db.zone.j2),
 * run by ansible-playbook on this machine: a zone keeps its serial while its
 * content hash is the same and gets a larger one whenever it changes, also
 * when a change is undone (hash serials went down on half the changes, and a
 * secondary that missed a run then kept the old zone).
 */
describe("bind: zone serials only grow (content hash kept in the zone file)", function () {
  // Eight ansible-playbook runs: under a loaded machine each took over 20 s.
  this.timeout(10 * 60_000);
  let tmp: string;
  const zoneFile = () => readFileSync(path.join(tmp, "zones/db.t.internal"), "utf8");
  const serial = () => Number(/^\s*(\d+)\s*; serial$/m.exec(zoneFile())![1]);
  const hash = () => /^; Hash: ([0-9a-f]+)$/m.exec(zoneFile())![1];
  const records = (extra: { name: string; type: string; value: string }[] = []) => [
    { name: "@", type: "NS", value: "ns1.t.internal." },
    { name: "ns1", type: "A", value: "10.0.0.1" },
    ...extra,
  ];
  /** One run; returns the number of changed tasks. */
  const play = (recs: unknown[], extraVars: Record<string, unknown> = {}): number => {
    const vars = { recs, zone_dir: path.join(tmp, "zones"), ...extraVars };
    writeFileSync(path.join(tmp, "vars.json"), JSON.stringify(vars));
    const r = spawnSync("ansible-playbook", [path.join(tmp, "play.yml"), "-e", `@${path.join(tmp, "vars.json")}`], {
      encoding: "utf8",
      env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    return Number(/changed=(\d+)/.exec(r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP")))![1]);
  };

  before(function () {
    if (spawnSync("ansible-playbook", ["--version"]).status !== 0) this.skip();
    tmp = tempDir("airgap-bind-serials-");
    writeFileSync(
      path.join(tmp, "play.yml"),
      `- hosts: localhost
  connection: local
  gather_facts: true
  vars_files:
    - ${path.join(ROLE, "defaults/main.yml")}
  vars:
    airgap_bind_primary_zone_dir: "{{ zone_dir }}"
    airgap_bind_nameserver: ns1.t.internal.
    airgap_bind_domain: t.internal
    airgap_bind_ttl: 3600
    airgap_bind_zones:
      - name: t.internal
        records: "{{ recs }}"
  tasks:
    - ansible.builtin.file: {path: "{{ zone_dir }}", state: directory, mode: "0755"}
    - ansible.builtin.import_tasks: ${path.join(ROLE, "tasks/serials.yml")}
    - ansible.builtin.template:
        src: ${path.join(ROLE, "templates/db.zone.j2")}
        dest: "{{ zone_dir }}/db.{{ airgap_bind_zone.name }}"
        mode: "0644"
      loop: "{{ airgap_bind_zones }}"
      loop_control: {loop_var: airgap_bind_zone}
`,
    );
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("starts at the host's clock, keeps the serial while the content is the same, and grows it on every change, an undone one included", () => {
    const start = Math.floor(Date.now() / 1000);
    assert.ok(play(records()) > 0);
    const first = serial();
    assert.ok(first >= start - 5 && first <= Math.floor(Date.now() / 1000) + 5, `${first} is the clock`);
    assert.equal(play(records()), 0, "same content: nothing changes");
    assert.equal(serial(), first);
    const firstHash = hash();
    play(records([{ name: "x", type: "A", value: "10.0.0.2" }]));
    const second = serial();
    assert.ok(second > first, `${second} > ${first}`);
    assert.notEqual(hash(), firstHash);
    play(records());
    assert.equal(hash(), firstHash, "the same content has the same hash");
    assert.ok(serial() > second, "undoing a change still grows the serial");
  });

  it("grows a serial above the clock by one, and a hash serial from before (no Hash line) too", () => {
    const big = 4000000000;
    writeFileSync(path.join(tmp, "zones/db.t.internal"), zoneFile().replace(/^; Hash: .*\n/m, "").replace(/^(\s*)\d+(\s*; serial)$/m, `$1${big}$2`));
    play(records());
    assert.equal(serial(), big + 1);
    assert.equal(play(records()), 0);
  });

  it("wraps past 2^32 - 1 as RFC 1982 allows (to 1, never 0)", () => {
    writeFileSync(path.join(tmp, "zones/db.t.internal"), zoneFile().replace(/^; Hash: .*\n/m, "; Hash: 0\n").replace(/^(\s*)\d+(\s*; serial)$/m, `$14294967295$2`));
    play(records());
    assert.equal(serial(), 1);
  });

  it("changes the serial when a role setting that shapes the zone changes (the SOA timers)", () => {
    const before = serial();
    play(records(), { airgap_bind_soa_refresh: 1234 });
    assert.ok(serial() > before);
    assert.match(zoneFile(), /1234\s*; refresh/);
  });
});
