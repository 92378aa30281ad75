/** `airgap check --manifest` covers the goproxy service: each listed module's files and sum.golang.org's answer, and go.sum, must be in the bundle. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI } from "../helpers.js";

const SITE = `import { defineSite } from "airgap";
export default defineSite({
  name: "gomods",
  domain: "gomods.test",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: { goproxy: { on: "admin", modules: ["rsc.io/quote@v1.5.2", "github.com/BurntSushi/toml@v1.4.0"] } },
});
`;

const file = (p: string, i: number) => ({ kind: "file", name: path.basename(p), source: "x", path: p, size: 1, sha256: i.toString(16).padStart(64, "0") });
const COMPLETE = [
  "goproxy/rsc.io/quote/@v/v1.5.2.mod", "goproxy/rsc.io/quote/@v/v1.5.2.info", "goproxy/rsc.io/quote/@v/v1.5.2.zip",
  "goproxy/sumdb/sum.golang.org/lookup/rsc.io/quote@v1.5.2",
  "goproxy/github.com/!burnt!sushi/toml/@v/v1.4.0.mod", "goproxy/github.com/!burnt!sushi/toml/@v/v1.4.0.info", "goproxy/github.com/!burnt!sushi/toml/@v/v1.4.0.zip",
  "goproxy/sumdb/sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.4.0", "goproxy/go.sum",
].map(file);

describe("airgap check: Go modules in the bundle", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-check-goproxy-"));
  const site = path.join(dir, "site.ts");
  writeFileSync(site, SITE);
  const check = (artifacts: unknown[]) => {
    const m = path.join(dir, `manifest-${artifacts.length}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(m, JSON.stringify({ format: 1, site: "gomods", artifacts }));
    const r = spawnSync(process.execPath, [CLI, "check", site, "--manifest", m], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it("passes when the bundle holds every listed module (escaped path) with its answer, and go.sum", () => {
    const r = check(COMPLETE);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /deploys no Kubernetes; its 2 listed Go modules and their checksum answers are in the bundle/);
  });

  it("names a missing zip and a missing answer, and exits 1", () => {
    const r = check(COMPLETE.filter((a) => !a.path.endsWith("toml/@v/v1.4.0.zip") && !a.path.endsWith("lookup/rsc.io/quote@v1.5.2")));
    assert.equal(r.code, 1);
    assert.match(r.err, /2 of what the site's Go modules need are not in the bundle/);
    assert.match(r.err, /file goproxy\/github\.com\/!burnt!sushi\/toml\/@v\/v1\.4\.0\.zip \(module github\.com\/BurntSushi\/toml@v1\.4\.0\): not in the bundle/);
    assert.match(r.err, /file goproxy\/sumdb\/sum\.golang\.org\/lookup\/rsc\.io\/quote@v1\.5\.2 \(module rsc\.io\/quote@v1\.5\.2\): not in the bundle/);
  });
});
