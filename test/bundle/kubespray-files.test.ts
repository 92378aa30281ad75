/** Kubespray's binaries go into the bundle beside the site's own files. */
import assert from "node:assert/strict";
import path from "node:path";
import type { SiteModels } from "../../compile/bundle/packages.js";
import { synth } from "../../compile/synth.js";
import { fileArtifacts, modelsByKey } from "../../compile/bundle/command.js";
import { EXAMPLES } from "../helpers.js";

describe("bundle: Kubespray's files", () => {
  it("plans every Kubespray file pinned by SHA-256 at its files_repo path, and names the others", async () => {
    const { resolved } = await synth(path.join(EXAMPLES, "site.ts"));
    const models = modelsByKey(resolved!.models) as SiteModels;
    const files = models.kubespray!.artifacts.files;
    assert.ok(files.length > 0);
    const said: string[] = [];
    const planned = fileArtifacts(models, undefined, { info: (s) => said.push(s), error: () => undefined });
    const pinned = files.filter((f) => f.sha256);
    assert.deepEqual(planned.map((p) => p.path).sort(), pinned.map((f) => f.path).sort());
    for (const p of planned) {
      assert.match(p.path, /^files\/[a-z0-9.-]+\//);
      assert.match(p.sha256, /^[0-9a-f]{64}$/);
    }
    assert.ok(planned.some((p) => p.source.includes("/kubeadm")), "kubeadm is among them");
    assert.equal(said.length, files.length - pinned.length);
  });

  it("reads them from a local mirror when given one", async () => {
    const { resolved } = await synth(path.join(EXAMPLES, "site.ts"));
    const planned = fileArtifacts(modelsByKey(resolved!.models) as SiteModels, "/srv/mirror");
    for (const p of planned) assert.ok(p.fetchUrl.startsWith("file:///srv/mirror/"), p.fetchUrl);
  });
});
