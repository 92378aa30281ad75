import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

const TOOL = path.join(ROOT, "roles/repo_server/files/airgap_bundle.py");

/** The repo_server role's signature check (openssl pkeyutl), as the admin play runs it. */
describe("repo_server's signature check (airgap_bundle.py verify-signature, check)", function () {
  this.timeout(30000);
  let tmp: string;
  let pem: string;
  let otherPem: string;
  let manifest: string;
  let sig: string;
  const verify = (m: string, s: string, key: string) => spawnSync("python3", [TOOL, "verify-signature", m, s, "--trusted-key", key], { encoding: "utf8" });

  before(async () => {
    tmp = tempDir("airgap-role-sig-");
    const k = await keygen(path.join(tmp, "k"));
    pem = readFileSync(k.publicKey, "utf8");
    otherPem = readFileSync((await keygen(path.join(tmp, "other"))).publicKey, "utf8");
    manifest = path.join(tmp, "manifest.json");
    sig = path.join(tmp, "manifest.json.sig");
    const text = Buffer.from(JSON.stringify({ format: 1, site: "t", sequence: 1, created: "2026-11-30T12:00:00Z", repositories: [], artifacts: [] }, null, 2) + "\n");
    writeFileSync(manifest, text);
    writeFileSync(sig, signBytes(text, await readPrivateKey(k.privateKey)));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("accepts the manifest signed by the trusted key", () => {
    const r = verify(manifest, sig, pem);
    assert.equal(r.status, 0, r.stderr);
    const c = spawnSync("python3", [TOOL, "check", tmp, "--site", "t", "--trusted-key", pem], { encoding: "utf8" });
    assert.equal(c.status, 0, c.stderr);
  });

  it("refuses an altered manifest, another key, no signature, no trusted key", () => {
    const altered = path.join(tmp, "altered.json");
    writeFileSync(altered, readFileSync(manifest, "utf8").replace('"t"', '"u"'));
    for (const [m, s, key, why] of [
      [altered, sig, pem, /signature does not verify against the site's trusted key/],
      [manifest, sig, otherPem, /signature does not verify against the site's trusted key/],
      [manifest, path.join(tmp, "none.sig"), pem, /the bundle is unsigned/],
      [manifest, sig, "", /the site names no trusted bundle key \(services\.repos\.trustedKey/],
    ] as const) {
      const r = verify(m, s, key);
      assert.equal(r.status, 1, `${m} ${s}: ${r.stdout}`);
      assert.match(r.stderr, why);
    }
    // check refuses before it hashes anything.
    const c = spawnSync("python3", [TOOL, "check", tmp, "--site", "t", "--trusted-key", otherPem], { encoding: "utf8" });
    assert.equal(c.status, 1);
    assert.match(c.stderr, /signature does not verify/);
  });
});
