/** `airgap check`: with a manifest that holds everything it passes; with one image removed it names it and exits 1. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { loadCatalogue, shippedReleases } from "../../compile/kubespray/catalogue.js";
import { sourcePath } from "../../compile/kubespray/source.js";
import type { KubesprayArtifacts } from "../../compile/kubespray/index.js";
import { CLI } from "../helpers.js";
import { check, manifestOf, pinnedSite } from "./helpers.js";

function airgap(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The manifest with the release's source, as airgap bundle carries it. */
function withSource<M extends ReturnType<typeof manifestOf>>(m: M): M {
  const release = shippedReleases()[0];
  m.artifacts.push({ kind: "file", name: `kubespray-${release}.tar.gz`, source: "git archive", path: sourcePath(release), size: 1, sha256: "2".repeat(64) });
  return m;
}

describe("airgap check", function () {
  this.timeout(120000);
  const release = shippedReleases()[0];
  let file: string;
  let list: KubesprayArtifacts;
  before(async () => {
    file = pinnedSite("site.ts", release);
    const r = await check(file);
    assert.deepEqual(r.errors, []);
    list = r.kubespray!.artifacts;
  });

  it("passes when the manifest holds every file and image", () => {
    const m = path.join(path.dirname(file), "manifest.json");
    writeFileSync(m, JSON.stringify(withSource(manifestOf("example", list))));
    const r = airgap(["check", path.basename(file), "--manifest", m], path.dirname(file));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`ok .*Kubespray ${release}.*${list.files.length} files and ${list.images.length} images \\(and the release's source\\).*every one in the bundle`));
  });

  it("names the release's source when the bundle lacks it (the controller's kit)", () => {
    const mf = path.join(path.dirname(file), "manifest-no-source.json");
    writeFileSync(mf, JSON.stringify(manifestOf("example", list)));
    const r = airgap(["check", path.basename(file), "--manifest", mf], path.dirname(file));
    assert.equal(r.code, 1);
    const commit = loadCatalogue(release)!.commit!;
    assert.match(r.err, new RegExp(`file files/kubespray/kubespray-${release.replace(/\./g, "\\.")}\\.tar\\.gz \\(Kubespray ${release.replace(/\./g, "\\.")}'s source, commit ${commit}\\): not in the bundle`));
    assert.match(r.err, /to add: run airgap bundle again with a Kubespray checkout that holds the commit \(--kubespray DIR, kubespray\.checkout or KUBESPRAY_DIR\)/);
    assert.equal(r.err.match(/: not in the bundle/g)?.length, 1, "only the source is missing");
  });

  it("names the image removed from the manifest, with its Kubespray variable and what to add, and exits 1", () => {
    const m = withSource(manifestOf("example", list));
    const victim = list.images.find((i) => i.name === "pod_infra")!;
    m.artifacts = m.artifacts.filter((a) => a.source !== `docker://${victim.source}`);
    const mf = path.join(path.dirname(file), "manifest-less.json");
    writeFileSync(mf, JSON.stringify(m));
    const r = airgap(["check", path.basename(file), "--manifest", mf], path.dirname(file));
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`image ${victim.source.replace(/[.]/g, "\\.")} \\(pod_infra\\): not in the bundle`));
    assert.match(r.err, /Kubespray variable: (pod_infra_image_repo|kube_image_repo)/);
    assert.match(r.err, new RegExp(`to add: add ${victim.source.replace(/[.]/g, "\\.")}, pushed as <registry_host>/${victim.target.replace(/[.]/g, "\\.")}`));
    assert.equal(r.err.match(/\): not in the bundle/g)?.length, 1, "only that image is missing");
  });

  it("names a file whose checksum differs from Kubespray's", () => {
    const m = withSource(manifestOf("example", list));
    const kubelet = m.artifacts.find((a) => a.path.endsWith("/kubelet"))!;
    kubelet.sha256 = "f".repeat(64);
    const mf = path.join(path.dirname(file), "manifest-bad.json");
    writeFileSync(mf, JSON.stringify(m));
    const r = airgap(["check", path.basename(file), "--manifest", mf], path.dirname(file));
    assert.equal(r.code, 1);
    assert.match(r.err, /kubelet.*its sha256 is f{64}, Kubespray pins [0-9a-f]{64}/);
  });

  it("refuses a leak as a compile error, exit 1", () => {
    const leaky = pinnedSite("site.ts", release, 'extraVars: { kube_image_repo: "registry.k8s.io" }');
    const r = airgap(["check", path.basename(leaky)], path.dirname(leaky));
    assert.equal(r.code, 1);
    assert.match(r.err, /AG098/);
    assert.match(r.err, /kube_image_repo/);
  });
});
