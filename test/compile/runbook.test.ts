/**
 * The runbook is data first (compile/emit/runbook.ts): the compiled README.md
 * holds every step as a marked `sh` block, and reading it back gives the same
 * steps, in the same order. The lab walks what is read back (test/e2e).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { synth } from "../../compile/synth.js";
import { parseRunbook, runbookSteps } from "../../compile/emit/runbook.js";
import type { KubesprayModel } from "../../compile/components/kubespray.js";
import type { ReposModel } from "../../compile/components/repos.js";
import { EXAMPLES } from "../helpers.js";

describe("runbook: the road as data, rendered and read back", () => {
  for (const example of ["site.ts", "lab.ts", "plant.ts"]) {
    it(`${example}: the README's marked blocks are the steps, in order`, async () => {
      const outDir = path.resolve("out", example.replace(/\.ts$/, ""));
      const r = await synth(path.join(EXAMPLES, example), { outDir });
      assert.deepEqual(r.errors, []);
      const steps = runbookSteps({
        site: r.site!,
        kubespray: r.site!.models.kubespray as KubesprayModel | undefined,
        repos: r.site!.models.repos as ReposModel | undefined,
        outDir,
      });
      const read = parseRunbook(r.files.get("README.md")!);
      assert.deepEqual(read.map((s) => s.id), steps.filter((s) => s.commands.length).map((s) => s.id));
      for (const [i, s] of read.entries()) {
        const want = steps.find((x) => x.id === s.id)!;
        assert.deepEqual(s.commands, want.commands, s.id);
        assert.equal(s.on, want.on, s.id);
        assert.deepEqual(s.needs, want.needs ?? [], s.id);
        assert.deepEqual(s.input, want.input ?? [], s.id);
        if (i > 0) assert.ok(!(s.on === "bastion" && read[i - 1].on === "controller"), `${s.id}: the bastion's steps all come before the controller's`);
      }
    });
  }

  it("lab.ts: the road goes keygen → compile → bundle → check → carry → unload → kit → import → secrets → ping → site → Kubespray → health", async () => {
    const r = await synth(path.join(EXAMPLES, "lab.ts"), { outDir: path.resolve("out/lab") });
    const read = parseRunbook(r.files.get("README.md")!);
    assert.deepEqual(read.map((s) => `${s.on}:${s.id}`), [
      "bastion:keygen", "bastion:compile", "bastion:bundle", "bastion:check", "bastion:carry",
      "controller:unload", "controller:kit", "controller:import", "controller:secrets", "controller:ping", "controller:site",
      "controller:kubespray-venv", "controller:kubespray", "controller:health", "controller:kubernetes-health",
    ]);
    const byId = new Map(read.map((s) => [s.id, s]));
    assert.match(byId.get("bundle")!.commands.join("\n"), /^airgap bundle lab\.ts -o bundle --key keys\/airgap-bundle\.key --export transfer\/lab\.tar$/m);
    assert.deepEqual(byId.get("secrets")!.input, ["AIRGAP_LAB_REGISTRY_PULL_PASSWORD", "AIRGAP_LAB_REGISTRY_PUSH_PASSWORD"]);
    // Secrets are typed, never on a command line.
    assert.doesNotMatch(byId.get("secrets")!.commands.join("\n"), /=\S/);
    assert.match(byId.get("kubespray-venv")!.commands.join("\n"), /--index-url https:\/\/pypi\.lab\.airgap\.internal:3141\/simple\/ airgap-lab-controller==1\.0$/m);
    assert.match(byId.get("health")!.commands[0], /^ansible-playbook site\.yml --check$/);
    // The kit: checked by the project's own tool before airgap is there, Ansible at Kubespray's pin, from the kit's files alone.
    const kit = byId.get("kit")!.commands;
    assert.equal(kit[0], "python3 lab/roles/store/files/airgap_kit.py unpack transfer/lab.tar --trust airgap-bundle.pub --site lab --out kit");
    assert.match(kit.join("\n"), /\/pip" install --quiet --no-index --find-links kit\/python pip ansible==10\.7\.0$/m);
    assert.doesNotMatch(kit.join("\n"), /https?:\/\//);
  });

  it("the Tags table lists every play's service and role", async () => {
    const r = await synth(path.join(EXAMPLES, "lab.ts"), { outDir: path.resolve("out/lab") });
    const readme = r.files.get("README.md")!;
    for (const tag of ["dns", "bind", "resolver", "registry", "ntp", "chrony", "repos", "gateway", "pypi", "ca"]) {
      assert.match(readme, new RegExp(`^\\| \`${tag}\` \\| `, "m"), tag);
    }
    assert.match(r.files.get("playbooks/admin.yml")!, /- name: "Name servers"\n  hosts: airgap_dns_servers\n  become: true\n  gather_facts: true\n  gather_subset:\n    - "!all"\n    - network\n  tags:\n    - dns\n    - bind\n/);
  });
});
