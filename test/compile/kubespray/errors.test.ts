/** What the compiler refuses about the Kubernetes deployment, each at its place in the site file. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { loadCatalogue, shippedReleases } from "../../../compile/kubespray/catalogue.js";
import { synth } from "../../../compile/synth.js";
import { pinnedSite } from "../../kubespray/helpers.js";

function lineOf(file: string, needle: string): number {
  return readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes(needle)) + 1;
}

describe("Kubespray settings the compiler refuses", function () {
  this.timeout(60000);
  const release = shippedReleases()[0];

  it("a Kubernetes version the release does not support: AG095 at `kubernetes`, with the supported versions", async () => {
    const file = pinnedSite("site.ts", release, undefined, "1.29.0");
    const r = await synth(file);
    assert.equal(r.files.size, 0);
    const e = r.errors.find((d) => d.code === "AG095");
    assert.ok(e, r.errors.map((d) => d.message).join("\n"));
    assert.equal(e.at?.file, file);
    assert.equal(e.at?.line, lineOf(file, "1.29.0"));
    assert.match(e.message, new RegExp(`Kubespray ${release} does not support Kubernetes 1.29.0`));
    for (const v of loadCatalogue(release)!.kubernetes.supported) assert.ok(e.hint?.includes(v), `hint lacks ${v}`);
  });

  it("a Kubespray release airgap has no list for: AG094 at `version`, with the releases it knows", async () => {
    const file = pinnedSite("site.ts", "2.0.0", undefined, "1.29.0");
    const r = await synth(file);
    const e = r.errors.find((d) => d.code === "AG094");
    assert.ok(e);
    assert.equal(e.at?.line, lineOf(file, '"2.0.0"'));
    for (const v of shippedReleases()) assert.ok(e.hint?.includes(v));
  });

  it("an extra variable that sends Kubespray outside the site: AG098 naming the variable", async () => {
    const file = pinnedSite("site.ts", release, 'extraVars: { calicoctl_download_url: "https://github.com/projectcalico/calico/releases/download/x/calicoctl" }');
    const r = await synth(file);
    const e = r.errors.filter((d) => d.code === "AG098");
    assert.equal(e.length, 1, r.errors.map((d) => d.message).join("\n"));
    assert.match(e[0].message, /calicoctl/);
    assert.match(e[0].hint ?? "", /calicoctl_download_url/);
  });

  it("an image repository overridden outside the registry: AG098 with what to set", async () => {
    const file = pinnedSite("site.ts", release, 'extraVars: { calico_node_image_repo: "quay.io/calico/node" }');
    const r = await synth(file);
    const e = r.errors.find((d) => d.code === "AG098");
    assert.ok(e);
    assert.match(e.message, /quay\.io\/calico\/node/);
    assert.match(e.hint ?? "", /calico_node_image_repo: point calico_node_image_repo at registry\.example\.internal:5000\/calico\/node/);
  });

  it("a site without a registry leaks every image: AG098 says to add one", async () => {
    const file = pinnedSite("site.ts", release);
    const text = readFileSync(file, "utf8").replace(/registry: \{[\s\S]*?\n    \},\n/, "");
    writeFileSync(file, text);
    const r = await synth(file);
    const e = r.errors.filter((d) => d.code === "AG098");
    assert.ok(e.length > 5, r.errors.map((d) => d.message).join("\n"));
    assert.ok(e.every((d) => /add services\.registry/.test(d.hint ?? "")));
  });

  it("an add-on the release does not have: AG096", async () => {
    const old = shippedReleases().find((r) => !loadCatalogue(r)!.variables.includes("ingress_nginx_enabled"));
    if (!old) return;
    const file = pinnedSite("site.ts", old, 'addons: ["ingress-nginx"]');
    const r = await synth(file);
    assert.ok(r.errors.some((d) => d.code === "AG096"), r.errors.map((d) => d.message).join("\n"));
  });
});
