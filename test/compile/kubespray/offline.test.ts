/** The offline vars as written: what yamllint (through ansible-lint) reads. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { synth } from "../../../compile/synth.js";
import { ROOT } from "../../helpers.js";

/** ansible-lint's yamllint configuration allows 160 characters a line. */
const MAX = 160;

describe("Kubespray offline vars: a cluster of Debian and RHEL-family nodes", function () {
  this.timeout(60000);

  for (const name of ["refinery", "a".repeat(63)]) {
    it(`the mirrors' CA is looked up per OS family, every line within ${MAX} characters (site name of ${name.length})`, async () => {
      const text = readFileSync(path.join(ROOT, "test/static/sites/mixed-os.ts"), "utf8").replace('name: "refinery"', `name: "${name}"`);
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), "airgap-mixed-os-")), "mixed-os.ts");
      writeFileSync(file, text);
      const r = await synth(file);
      assert.deepEqual(r.errors.map((e) => `${e.code} ${e.message}`), []);
      const offline = r.files.get("inventory/group_vars/all/kubespray-offline.yml")!;
      const all = r.files.get("inventory/group_vars/all/airgap.yml")!;
      const mirrors = (parse(offline, { version: "1.1" }) as { containerd_registries_mirrors: { mirrors: { ca: string }[] }[] }).containerd_registries_mirrors;
      for (const m of mirrors) assert.equal(m.mirrors[0].ca, "{{ airgap_kubespray_ca_paths[ansible_os_family] }}");
      assert.deepEqual((parse(all, { version: "1.1" }) as Record<string, unknown>).airgap_kubespray_ca_paths, {
        Debian: `/usr/local/share/ca-certificates/airgap-${name}.crt`,
        RedHat: `/etc/pki/ca-trust/source/anchors/airgap-${name}.pem`,
      });
      for (const [f, content] of [["kubespray-offline.yml", offline], ["airgap.yml", all]]) {
        for (const line of content.split("\n")) assert.ok(line.length <= MAX, `${f}: ${line.length} characters: ${line}`);
      }
    });
  }

  it("one OS family: the CA path itself, and no lookup table", async () => {
    const r = await synth(path.join(ROOT, "examples/site.ts"));
    assert.match(r.files.get("inventory/group_vars/all/kubespray-offline.yml")!, /ca: "\/usr\/local\/share\/ca-certificates\/airgap-example\.crt"/);
    assert.doesNotMatch(r.files.get("inventory/group_vars/all/airgap.yml")!, /airgap_kubespray_ca_paths/);
  });
});
