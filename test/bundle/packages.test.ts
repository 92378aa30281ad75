import assert from "node:assert/strict";
import { writeFileSync, rmSync } from "node:fs";
import path from "node:path";
import { packagesByHost, packageTargets } from "../../bundle/packages.js";
import { synth } from "../../compile/synth.js";
import { EXAMPLES } from "../helpers.js";
import { tempDir } from "./helpers.js";

async function resolved(file: string) {
  const r = await synth(file);
  assert.deepEqual(r.errors, []);
  return r.site!;
}

describe("bundle packages", function () {
  this.timeout(60000);

  it("gives each host of the example the packages of what it serves and uses", async () => {
    const site = await resolved(path.join(EXAMPLES, "site.ts"));
    const byHost = new Map(packagesByHost(site).map((h) => [h.host.name, h.packages]));
    const admin = byHost.get("admin")!;
    for (const p of ["nginx", "apt-utils", "gnupg", "chrony", "bind9", "bind9-utils", "docker-registry", "python3-cryptography", "ca-certificates", "python3-apt", "curl", "bind9-dnsutils"]) {
      assert.ok(admin.includes(p), `admin needs ${p}`);
    }
    assert.ok(!admin.includes("ipvsadm"), "the admin host is no Kubernetes node");
    const worker = byHost.get("worker1")!;
    for (const p of ["chrony", "ca-certificates", "python3-apt", "ipvsadm", "conntrack", "socat", "curl", "bind9-dnsutils"]) assert.ok(worker.includes(p), `worker needs ${p}`);
    for (const p of ["nginx", "bind9", "docker-registry", "python3-cryptography"]) assert.ok(!worker.includes(p), `worker does not need ${p}`);
    assert.deepEqual(worker, [...worker].sort(), "sorted");
    const targets = packageTargets(packagesByHost(site));
    assert.equal(targets.length, 1);
    assert.equal(targets[0].release.release, "debian-12");
    assert.deepEqual(targets[0].hosts, ["admin", "cp1", "worker1", "worker2"]);
    assert.equal(targets[0].sets.length, 2, "cp1 and the workers share one list");
  });

  it("groups hosts by release and architecture, with rpm names on RHEL-family hosts", async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, "site.ts");
      writeFileSync(
        file,
        `import { defineSite } from "airgap";
export default defineSite({
  name: "mixed", domain: "mixed.internal",
  networks: [{ name: "site", cidr: "10.30.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] },
    { name: "arm", address: "10.30.0.11", os: "ubuntu-24.04", arch: "arm64", roles: ["admin"] },
    { name: "rocky", address: "10.30.0.12", os: "rocky-9", roles: ["admin"] },
  ],
  services: { ntp: { on: "admin" }, dns: { on: "admin" } },
});
`,
      );
      const site = await resolved(file);
      const list = packagesByHost(site);
      const rocky = list.find((h) => h.host.name === "rocky")!.packages;
      // Only what the roles placed on it install: no CA and no repository on this site.
      assert.deepEqual(rocky, ["chrony"]);
      const admin = list.find((h) => h.host.name === "admin")!.packages;
      assert.ok(admin.includes("bind9") && admin.includes("chrony"));
      assert.deepEqual(packageTargets(list).map((t) => `${t.release.release}/${t.arch}`), ["debian-12/amd64", "rocky-9/amd64", "ubuntu-24.04/arm64"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("plans each host's packages from the roles placed on it (their own airgap_<role>_packages)", async () => {
    const site = await resolved(path.join(EXAMPLES, "site.ts"));
    const byHost = new Map(packagesByHost(site).map((h) => [h.host.name, h.packages]));
    // The admin runs the registry role (skopeo), the nginx role it includes, bind, chrony.
    for (const p of ["skopeo", "docker-registry", "nginx", "bind9", "chrony"]) assert.ok(byHost.get("admin")!.includes(p), p);
    // A node runs none of them.
    for (const p of ["skopeo", "nginx", "bind9"]) assert.ok(!byHost.get("worker1")!.includes(p), p);
  });
});
