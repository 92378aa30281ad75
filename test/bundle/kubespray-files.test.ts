/** Kubespray's binaries go into the bundle beside the site's own files, each verified by the checksum Kubespray pins. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SiteModels } from "../../compile/components/index.js";
import { synth } from "../../compile/synth.js";
import { fileArtifacts, resolvePins, type Planned } from "../../bundle/bundle.js";
import { BLOB_DIR, Store } from "../../bundle/store.js";
import { EXAMPLES } from "../helpers.js";
import { pinnedSite } from "../kubespray/helpers.js";

const quiet = { info: () => undefined, error: () => undefined };
const digest = (algo: string, s: string) => createHash(algo).update(s).digest("hex");

describe("bundle: Kubespray's files", () => {
  it("plans every Kubespray file at its files_repo path: SHA-256 pins as they are, SHA-512 and no pin to be learnt", async function () {
    this.timeout(60_000);
    // Cilium (chart and index pinned by nothing) and gVisor (pinned by SHA-512).
    const file = pinnedSite("site.ts", "2.31.0", 'networkPlugin: "cilium", extraVars: { gvisor_enabled: true }');
    const { site, errors } = await synth(file);
    assert.deepEqual(errors.map((e) => e.message), []);
    const models = site!.models;
    const files = models.kubespray!.artifacts.files;
    const said: string[] = [];
    const planned = fileArtifacts(models, undefined, { info: (s) => said.push(s), error: () => undefined });
    assert.deepEqual(planned.map((p) => p.path).sort(), files.map((f) => f.path).sort());
    for (const p of planned) assert.match(p.path, /^files\/[a-z0-9.-]+\//);
    const bySha512 = planned.filter((p) => p.pin?.sha512);
    const unpinned = planned.filter((p) => p.pin && !p.pin.sha512);
    assert.ok(bySha512.some((p) => p.source.includes("runsc")), "gVisor's runsc is pinned by SHA-512");
    assert.ok(unpinned.some((p) => p.path.startsWith("files/helm.cilium.io/")), "Cilium's chart is pinned by nothing");
    for (const p of planned.filter((x) => !x.pin)) assert.match(p.sha256, /^[0-9a-f]{64}$/);
    assert.equal(said.length, unpinned.length, said.join("\n"));
  });

  it("reads them from a local mirror when given one", async () => {
    const { site } = await synth(path.join(EXAMPLES, "site.ts"));
    const planned = fileArtifacts(site!.models, "/srv/mirror");
    for (const p of planned) assert.ok(p.fetchUrl.startsWith("file:///srv/mirror/"), p.fetchUrl);
  });

  describe("learning the SHA-256 of files pinned otherwise", () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "airgap-pins-"));
      mkdirSync(path.join(dir, "mirror"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    function plan(name: string, content: string, pin: Planned["pin"]): Planned {
      writeFileSync(path.join(dir, "mirror", name), content);
      return { kind: "file", name, source: `https://example.org/${name}`, path: `files/example.org/${name}`, sha256: "", fetchUrl: `file://${path.join(dir, "mirror", name)}`, pin };
    }

    it("verifies a SHA-512 pin, stores the content under its SHA-256, and remembers it", async () => {
      const store = new Store(path.join(dir, "store"));
      await store.open();
      const a = plan("runsc", "runsc stand-in\n", { sha512: digest("sha512", "runsc stand-in\n") });
      const b = plan("cilium.tgz", "chart stand-in\n", {});
      assert.deepEqual(await resolvePins(store, [a, b], quiet), []);
      assert.equal(a.sha256, digest("sha256", "runsc stand-in\n"));
      assert.equal(b.sha256, digest("sha256", "chart stand-in\n"));
      // A later run needs neither the network nor the mirror: the store remembers.
      rmSync(path.join(dir, "mirror"), { recursive: true });
      const again = [{ ...a, sha256: "" }, { ...b, sha256: "" }];
      assert.deepEqual(await resolvePins(store, again, quiet), []);
      assert.deepEqual(again.map((x) => x.sha256), [a.sha256, b.sha256]);
    });

    it("refuses content whose SHA-512 is not the pinned one, naming both, and stores nothing", async () => {
      const store = new Store(path.join(dir, "store"));
      await store.open();
      const a = plan("runsc", "tampered\n", { sha512: digest("sha512", "runsc stand-in\n") });
      const failures = await resolvePins(store, [a], quiet);
      assert.equal(failures.length, 1);
      assert.match(failures[0].message, /runsc: .*sha512 mismatch: expected [0-9a-f]{128}, got [0-9a-f]{128}/);
      assert.equal(a.sha256, "");
      assert.deepEqual(readdirSync(path.join(dir, "store", BLOB_DIR)), []);
    });
  });
});
