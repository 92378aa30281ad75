/** Loading a site file that is split over several modules, on both evaluation paths. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { synth } from "../../compile/synth.js";

const HOSTS = `import type { Host } from "airgap";
export const workers: Host[] = [1, 2].map((i) => ({
  name: \`w\${i}\`,
  address: \`ADDRESS_PREFIX.\${30 + i}\`,
  os: "debian-12",
  roles: ["worker"],
}));
`;

const SITE = `import { defineSite } from "airgap";
import { workers } from "./hosts";

export default defineSite({
  name: "split",
  domain: "split.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    ...workers,
  ],
  services: { ntp: { on: "admin" } },
});
`;

describe("load: a site split over modules", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "airgap-load-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const checker of ["native", "ts-morph"] as const) {
    it(`evaluates a relative import (${checker} checker)`, async () => {
      writeFileSync(path.join(dir, "hosts.ts"), HOSTS.replace("ADDRESS_PREFIX", "10.20.0"));
      writeFileSync(path.join(dir, "site.ts"), SITE);
      const r = await synth(path.join(dir, "site.ts"), { checker });
      assert.deepEqual(r.errors, []);
      assert.match(r.files.get("inventory/hosts.yml")!, /w2:\n\s+ansible_host: "10\.20\.0\.32"/);
    });
  }

  it("points an error in the imported module at that module's line", async () => {
    writeFileSync(path.join(dir, "hosts.ts"), HOSTS.replace("ADDRESS_PREFIX", "10.99.0"));
    writeFileSync(path.join(dir, "site.ts"), SITE);
    const r = await synth(path.join(dir, "site.ts"));
    assert.deepEqual(r.errors.map((d) => `${d.code} ${path.basename(d.at!.file)}:${d.at!.line}`), ["AG033 hosts.ts:4", "AG033 hosts.ts:4"]);
  });
});
