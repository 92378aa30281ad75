/**
 * Service-state backups in the compiled project (docs/backups.md "Service
 * state"): which hosts keep what, derived from the services' `exports.state`;
 * one backup account and repository per host; the freshness files monitoring
 * reads on the backup host (and the Zabbix template they render into);
 * `state: false`; the paths the components name are the roles' own.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import type { Site } from "../../dsl/index.js";
import { stateAccount, stateRepository } from "../../compile/components/backups.js";
import { CA_DIR } from "../../compile/components/ca.js";
import { ETCD_CERT_DIR, KUBE_CERT_DIR } from "../../compile/components/kubespray.js";
import { DEVPI_ACCOUNT, DEVPI_SERVERDIR, DEVPI_VENV } from "../../compile/components/pypi.js";
import { REPO_GNUPG_HOME } from "../../compile/components/repos.js";
import { Positions } from "../../compile/load/evaluate.js";
import { Context } from "../../compile/model/context.js";
import { emitProject, synth, synthSite } from "../../compile/synth.js";
import { EXAMPLES, ROOT } from "../helpers.js";

const defaults = (role: string) => parse(readFileSync(path.join(ROOT, "roles", role, "defaults/main.yml"), "utf8")) as Record<string, unknown>;

type Items = { name: string; paths: string[]; dump?: { argv: string[]; user: string } }[];

describe("compile: service-state backups", function () {
  this.timeout(120_000);
  let files: Map<string, string>;
  let hosts: Record<string, Record<string, unknown>>;

  before(async () => {
    const r = await synth(path.join(EXAMPLES, "plant.ts"));
    assert.deepEqual(r.errors, []);
    files = r.files;
    hosts = (parse(files.get("inventory/hosts.yml")!) as { all: { hosts: Record<string, Record<string, unknown>> } }).all.hosts;
  });

  it("the paths the components export are the roles' own defaults", () => {
    assert.equal(defaults("ca").airgap_ca_dir, CA_DIR);
    assert.equal(defaults("repo_server").airgap_repo_server_gnupg_home, REPO_GNUPG_HOME);
    const pypi = defaults("pypi_server");
    assert.equal(pypi.airgap_pypi_server_devpi_serverdir, DEVPI_SERVERDIR);
    assert.equal(pypi.airgap_pypi_server_devpi_venv, DEVPI_VENV);
    assert.equal(pypi.airgap_pypi_server_devpi_user, DEVPI_ACCOUNT);
    // Kubespray's own defaults, as roles/etcd_backup reads them.
    assert.match(String(defaults("etcd_backup").airgap_etcd_backup_cert_dir), new RegExp(`default\\('${ETCD_CERT_DIR}'\\)`));
    assert.match(String(defaults("etcd_backup").airgap_etcd_backup_kube_cert_dir), new RegExp(`default\\('${KUBE_CERT_DIR}'\\)`));
  });

  it("plant.ts: each host keeps what its services hold, the backup host none", () => {
    const kept = Object.fromEntries(Object.entries(hosts).filter(([, v]) => v.airgap_state_backup_items)
      .map(([h, v]) => [h, (v.airgap_state_backup_items as Items).map((i) => i.name)]));
    assert.deepEqual(kept, {
      infra1: ["repo-signing-key", "ca"],
      infra2: ["devpi"],
      cp1: ["kubernetes-pki", "etcd-pki"],
      cp2: ["kubernetes-pki", "etcd-pki"],
      cp3: ["kubernetes-pki", "etcd-pki"],
    });
    const devpi = (hosts.infra2.airgap_state_backup_items as Items)[0];
    assert.deepEqual(devpi.dump, { argv: [`${DEVPI_VENV}/bin/devpi-export`, "--serverdir", DEVPI_SERVERDIR], user: DEVPI_ACCOUNT });
    assert.deepEqual((hosts.infra1.airgap_state_backup_items as Items)[1], { name: "ca", paths: [CA_DIR] });
    assert.equal(hosts.infra1.airgap_state_backup_user, "airgap-state-infra1");
    assert.equal(hosts.infra1.airgap_state_backup_repository, "/state-infra1");
    assert.equal(hosts.infra1.airgap_state_backup_status, "/status/state-infra1/last-success");
    const group = parse(files.get("inventory/group_vars/airgap_state_backup/airgap.yml")!) as Record<string, unknown>;
    assert.equal(group.airgap_state_backup_server_host, "ci1");
    assert.deepEqual(group.airgap_state_backup_retention, { daily: 7, weekly: 4 });
    assert.equal(group.airgap_state_backup_schedule, "daily");
    // One account per repository on the backup host, each accepting its own host's address only.
    const server = parse(files.get("inventory/group_vars/airgap_backup_servers/airgap.yml")!) as { airgap_backup_server_accounts: { user: string; repository: string; clients: string[] }[] };
    assert.deepEqual(server.airgap_backup_server_accounts.map((a) => [a.user, a.repository, a.clients.join(",")]), [
      ["airgap-backup", "etcd", "10.60.1.11,10.60.1.12,10.60.1.13"],
      ["airgap-state-infra1", "state-infra1", "10.60.0.10"],
      ["airgap-state-infra2", "state-infra2", "10.60.0.11"],
      ["airgap-state-cp1", "state-cp1", "10.60.1.11"],
      ["airgap-state-cp2", "state-cp2", "10.60.1.12"],
      ["airgap-state-cp3", "state-cp3", "10.60.1.13"],
    ]);
    assert.match(files.get("playbooks/nodes.yml")!, /hosts: airgap_state_backup\n/);
  });

  it("monitoring reads every freshness file on the backup host: etcd's (whichever member backed up) and each host's state", () => {
    const mon = parse(files.get("inventory/group_vars/airgap_monitoring_servers/airgap.yml")!) as Record<string, any>;
    assert.deepEqual(mon.airgap_zabbix_config_freshness.map((f: { host: string; file: string }) => `${f.host}:${f.file}`), [
      "ci1:/srv/airgap-backup/status/etcd/last-success",
      ...["infra1", "infra2", "cp1", "cp2", "cp3"].map((h) => `ci1:/srv/airgap-backup/status/state-${h}/last-success`),
    ]);
    assert.equal(mon.airgap_zabbix_config_backup_max_age, 26 * 3600);
    assert.deepEqual(mon.airgap_zabbix_config_hosts.filter((h: { backups?: boolean }) => h.backups).map((h: { name: string }) => h.name), ["ci1"]);
    assert.ok(!("airgap_zabbix_config_backup_file" in mon));
  });

  it("the Zabbix template renders (Ansible) into one template for the backup host with an item and trigger per file", function () {
    if (spawnSync("sh", ["-c", "command -v ansible-playbook"]).status !== 0) return this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-state-zabbix-"));
    try {
      const out = path.join(dir, "templates.yaml");
      writeFileSync(path.join(dir, "vars.yml"), files.get("inventory/group_vars/airgap_monitoring_servers/airgap.yml")!);
      writeFileSync(path.join(dir, "play.yml"), JSON.stringify([{
        hosts: "localhost", connection: "local", gather_facts: false,
        vars_files: [path.join(ROOT, "roles/zabbix_config/defaults/main.yml"), path.join(ROOT, "roles/zabbix_config/vars/main.yml"), path.join(dir, "vars.yml")],
        tasks: [{ "ansible.builtin.template": { src: path.join(ROOT, "roles/zabbix_config/templates/airgap-templates.yaml.j2"), dest: out, mode: "0644" } }],
      }]));
      const r = spawnSync("ansible-playbook", ["-i", "localhost,", path.join(dir, "play.yml")], { encoding: "utf8", env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_NOCOLOR: "1" } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const t = (parse(readFileSync(out, "utf8")) as { zabbix_export: { templates: { template: string; items: { key: string; triggers: { expression: string; name: string }[] }[] }[] } }).zabbix_export.templates;
      assert.ok(!t.find((x) => x.template === "airgap etcd")!.items.some((i) => i.key.startsWith("vfs.file.contents")), "the etcd members no longer read a file of their own");
      const backups = t.filter((x) => x.template.startsWith("airgap backups"));
      assert.deepEqual(backups.map((x) => x.template), ["airgap backups on ci1"]);
      assert.equal(backups[0].items.length, 6);
      const etcd = backups[0].items[0];
      assert.equal(etcd.key, "vfs.file.contents[/srv/airgap-backup/status/etcd/last-success]");
      assert.equal(etcd.triggers[0].expression, "now()-last(/airgap backups on ci1/vfs.file.contents[/srv/airgap-backup/status/etcd/last-success])>93600");
      assert.equal(etcd.triggers[0].name, "No good backup of etcd snapshots for more than 26 h");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("state: false keeps etcd's backups only: no state play, account or freshness file", () => {
    const site = {
      name: "s", domain: "s.internal",
      networks: [{ name: "site", cidr: "10.20.0.0/24" }],
      hosts: [
        { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
        { name: "backup1", address: "10.20.0.11", os: "debian-12" },
      ],
      services: {
        repos: { on: "admin" },
        backups: { on: "backup1", password: { env: "P" }, state: false },
      },
    } as unknown as Site;
    const ctx = new Context(path.join(ROOT, "test/fixtures/state/site.ts"), new Positions());
    const linked = synthSite(ctx, site);
    assert.deepEqual(ctx.errors, []);
    assert.ok(linked && linked.state.length > 0, "the site still holds state (repo-signing-key, ca)");
    assert.deepEqual(linked.freshness, []);
    const out = emitProject(linked, path.join(os.tmpdir(), "airgap-state-off"));
    assert.ok(!out.has("inventory/group_vars/airgap_state_backup/airgap.yml"));
    assert.doesNotMatch(out.get("playbooks/nodes.yml")!, /state_backup/);
    const server = parse(out.get("inventory/group_vars/airgap_backup_servers/airgap.yml")!) as { airgap_backup_server_accounts: unknown[] };
    assert.deepEqual(server.airgap_backup_server_accounts, []);
    // The same site with the defaults: admin's state into backup1.
    const ctx2 = new Context(path.join(ROOT, "test/fixtures/state/site.ts"), new Positions());
    const on = synthSite(ctx2, { ...site, services: { ...site.services, backups: { ...site.services!.backups!, state: undefined } } } as Site);
    assert.deepEqual(ctx2.errors, []);
    assert.deepEqual(on!.state.map((x) => `${x.host.name}:${x.name}`), ["admin:repo-signing-key", "admin:ca"]);
    assert.deepEqual(on!.freshness.map((f) => f.file), ["/srv/airgap-backup/status/state-admin/last-success"]);
  });

  it("a host name too long for a user name gets a hashed account; its repository keeps the name", () => {
    assert.equal(stateAccount("infra1"), "airgap-state-infra1");
    const long = "a-rather-long-host-name-of-the-site";
    assert.match(stateAccount(long), /^airgap-state-[0-9a-f]{12}$/);
    assert.ok(stateAccount(long).length <= 32);
    assert.notEqual(stateAccount(long), stateAccount(`${long}2`));
    assert.equal(stateRepository(long), `/state-${long}`);
  });
});
