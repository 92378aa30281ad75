/**
 * The exact list of files and images, and the offline vars, for each example
 * that deploys Kubernetes, with each shipped Kubespray release: compared with
 * snapshots in test/kubespray/golden (`AIRGAP_UPDATE_GOLDEN=1` rewrites them).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCatalogue, shippedReleases } from "../../../compile/kubespray/catalogue.js";
import { ROOT } from "../../helpers.js";
import { check, KUBESPRAY_EXAMPLES, kubernetesFor, pinnedSite } from "../../kubespray/helpers.js";

const GOLDEN = path.join(ROOT, "test/kubespray/golden");
const update = process.env.AIRGAP_UPDATE_GOLDEN === "1";

function snapshot(file: string, content: string): void {
  const p = path.join(GOLDEN, file);
  if (update) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(p, content);
  }
  assert.ok(existsSync(p), `no snapshot ${file} (AIRGAP_UPDATE_GOLDEN=1 writes it)`);
  assert.equal(content, readFileSync(p, "utf8"), `${file} differs from the snapshot`);
}

/**
 * What an example needs changed for a release that cannot install it as
 * written (2.28.1): CRI-O where the release's containerd templates drop the
 * registry's pull account (AG121), Calico where it cannot install Cilium
 * offline (AG120).
 */
function adaptation(example: string, release: string): { changes: string[]; codes: string[]; extra?: string; edit?: (t: string) => string } {
  const c = loadCatalogue(release)!;
  const text = readFileSync(path.join(ROOT, "examples", example), "utf8");
  const out: { changes: string[]; codes: string[]; extra?: string; edit?: (t: string) => string } = { changes: [], codes: [] };
  if (/registry:\s*\{/.test(text) && !/containerRuntime:/.test(text) && !c.registryAuth?.containerd) {
    out.changes.push("CRI-O");
    out.codes.push("AG121");
    out.extra = 'containerRuntime: "crio"';
  }
  if (/networkPlugin:\s*"cilium"/.test(text) && !c.downloads.some((d) => d.name === "cilium_chart")) {
    out.changes.push("Calico");
    out.codes.push("AG120");
    out.edit = (t) => t.replace(/networkPlugin:\s*"cilium"/, 'networkPlugin: "calico"');
  }
  return out;
}

describe("Kubespray lists and offline vars per shipped release", function () {
  this.timeout(120000);

  it("ships at least the two newest releases", () => {
    assert.ok(shippedReleases().length >= 2, shippedReleases().join(", "));
    for (const r of shippedReleases()) assert.equal(loadCatalogue(r)?.kubespray, r);
  });

  for (const example of KUBESPRAY_EXAMPLES) {
    for (const release of shippedReleases()) {
      const name = `${example.replace(/\.ts$/, "")}-${release}`;
      const adapt = adaptation(example, release);
      it(`${example} with Kubespray ${release} (Kubernetes ${kubernetesFor(example, release)})${adapt.changes.length ? `, ${adapt.changes.join(", ")}` : ""}`, async () => {
        if (adapt.changes.length) {
          // As written, the release cannot install the example: refused, at the site's lines.
          const refused = await check(pinnedSite(example, release));
          assert.ok(refused.errors.length > 0 && refused.errors.every((e) => adapt.codes.includes(e.code)), refused.errors.map((e) => `${e.code} ${e.message}`).join("\n"));
        }
        const r = await check(pinnedSite(example, release, adapt.extra, undefined, adapt.edit));
        assert.deepEqual(r.errors.map((e) => `${e.code} ${e.message}`), []);
        const a = r.kubespray!.artifacts;
        // Every file Kubespray pins is verified by its checksum; every image has a name in the site registry.
        for (const f of a.files) {
          assert.match(f.path, /^files\/[a-z0-9.-]+\//);
          if (f.origin !== "airgap") assert.ok(f.checksum, `${f.name} has no checksum`);
        }
        for (const i of a.images) assert.equal(i.target, `${i.path}:${i.tag}`);
        const list = {
          kubespray: a.kubespray,
          kubernetes: a.kubernetes,
          files: a.files.map((f) => ({ name: f.name, origin: f.origin, url: f.url, path: f.path, checksum: f.checksum, arches: f.arches })),
          images: a.images.map((i) => ({ name: i.name, origin: i.origin, source: i.source, target: i.target, arches: i.arches })),
        };
        snapshot(`${name}.list.json`, JSON.stringify(list, null, 2) + "\n");
        snapshot(`${name}.offline.yml`, r.files.get("inventory/group_vars/all/kubespray-offline.yml") ?? "");
      });
    }
  }

  it("with everything, carries every download of the release (a superset of the exact list)", async () => {
    const release = shippedReleases()[0];
    const exact = (await check(pinnedSite("site.ts", release))).kubespray!.artifacts;
    const all = (await check(pinnedSite("site.ts", release, "everything: true"))).kubespray!.artifacts;
    const paths = new Set(all.files.map((f) => f.path));
    const refs = new Set(all.images.map((i) => i.source));
    for (const f of exact.files) assert.ok(paths.has(f.path), f.path);
    for (const i of exact.images) assert.ok(refs.has(i.source), i.source);
    assert.ok(all.files.length > exact.files.length && all.images.length > exact.images.length);
    assert.ok(all.images.some((i) => i.source.includes("/cilium/cilium:")), "everything includes other network plugins");
  });
});
