/** `airgap check --manifest` covers the helm service: each chart's archive and metadata and its listed images must be in the bundle. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI } from "../helpers.js";

const SITE = `import { defineSite, fromEnv } from "airgap";
export default defineSite({
  name: "charts",
  domain: "charts.test",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    registry: { on: "admin", users: [{ name: "p", password: fromEnv("P"), access: "push" }, { name: "q", password: fromEnv("Q"), access: "pull" }] },
    helm: {
      on: "admin",
      charts: [
        { repo: "https://charts.example.org/stable", name: "web", version: "1.0.0", digest: "sha256:${"a".repeat(64)}", images: ["registry.example.org/web:1.0.0"] },
        { repo: "oci://registry.example.org/charts", name: "base", version: "0.1.0" },
      ],
    },
  },
});
`;

const file = (p: string, sha256 = "a".repeat(64)) => ({ kind: "file", name: path.basename(p), source: "x", path: p, size: 1, sha256 });
const COMPLETE = [
  file("charts/web-1.0.0.tgz"), file("charts/web-1.0.0.tgz.json", "b".repeat(64)),
  file("charts/base-0.1.0.tgz", "c".repeat(64)), file("charts/base-0.1.0.tgz.json", "d".repeat(64)),
  { kind: "image", name: "registry.example.org/web", tag: "1.0.0", source: "docker://registry.example.org/web:1.0.0", path: "oci/refs/registry.example.org/web:1.0.0", size: 1, sha256: "e".repeat(64) },
];

describe("airgap check: Helm charts in the bundle", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-check-charts-"));
  const site = path.join(dir, "site.ts");
  writeFileSync(site, SITE);
  const check = (artifacts: unknown[]) => {
    const m = path.join(dir, `manifest-${artifacts.length}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(m, JSON.stringify({ format: 1, site: "charts", artifacts }));
    const r = spawnSync(process.execPath, [CLI, "check", site, "--manifest", m], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it("passes when the bundle holds every chart, its metadata and its images", () => {
    const r = check(COMPLETE);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /deploys no Kubernetes; its 2 Helm charts and their images are in the bundle/);
  });

  it("names a missing chart archive, a missing image and a pinned archive with other bytes, and exits 1", () => {
    const r = check(COMPLETE.filter((a) => a.path !== "charts/base-0.1.0.tgz" && a.kind !== "image").map((a) => (a.path === "charts/web-1.0.0.tgz" ? file(a.path, "f".repeat(64)) : a)));
    assert.equal(r.code, 1);
    assert.match(r.err, /3 of what the site's 2 Helm charts need are not in the bundle/);
    assert.match(r.err, /file charts\/base-0\.1\.0\.tgz \(chart base 0\.1\.0 from oci:\/\/registry\.example\.org\/charts\): not in the bundle/);
    assert.match(r.err, /image registry\.example\.org\/web:1\.0\.0 \(chart web 1\.0\.0\): not in the bundle/);
    assert.match(r.err, new RegExp(`file charts/web-1\\.0\\.0\\.tgz \\(chart web 1\\.0\\.0 from https://charts\\.example\\.org/stable\\): its sha256 is f{64}, the site pins a{64}`));
  });
});
