/**
 * One source of truth for what Kubespray will fetch: every setting the site can
 * write that changes a URL, a version, an image name or which images are used
 * is either followed by the list (the bundle carries it, the registry's push
 * list names it) or refused at its line in the site file.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { computeList } from "../../../compile/kubespray/artifacts.js";
import { loadCatalogue, shippedReleases } from "../../../compile/kubespray/catalogue.js";
import type { Diagnostic } from "../../../compile/diagnostics.js";
import { synth } from "../../../compile/synth.js";
import { check, pinnedSite } from "../../kubespray/helpers.js";

function lineOf(file: string, needle: string): number {
  const n = readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes(needle)) + 1;
  assert.ok(n > 0, `${needle} is not in ${file}`);
  return n;
}

function only(errors: Diagnostic[], code: string): Diagnostic {
  const e = errors.filter((d) => d.code === code);
  assert.equal(e.length, 1, errors.map((d) => `${d.code} ${d.message}`).join("\n") || "no error");
  return e[0];
}

const show = (errors: Diagnostic[]) => errors.map((d) => `${d.code} ${d.message}`).join("\n");

/** worker1 of examples/site.ts on arm64: a cluster of amd64 (control plane) and arm64 nodes. */
const mixedArch = (text: string) => text.replace(/(name: "worker1", address: "[^"]+", )/, '$1arch: "arm64", ');

describe("Kubespray: what the site changes, the list follows (or the compiler refuses)", function () {
  this.timeout(60000);

  describe("a component's version (`*_version` of a file Kubespray pins by checksum)", () => {
    it("runc_version 1.2.5 on 2.28.1: the list carries runc 1.2.5 with the catalogue's URL and checksum, not the default 1.2.6", () => {
      const c = loadCatalogue("2.28.1")!;
      const runc = c.downloads.find((d) => d.name === "runc")!.file!;
      assert.deepEqual(runc.versionVars, ["runc_version"]);
      assert.ok(runc.variants.every((v) => v.version === "1.2.6"), "the release's default is 1.2.6");
      const { artifacts, problems } = computeList({
        catalogue: c,
        kubernetes: "1.32.8",
        settings: { kube_version: "1.32.8", container_manager: "containerd", kube_network_plugin: "calico", etcd_deployment_type: "host", runc_version: "1.2.5" },
        siteVars: ["runc_version"],
        groups: { kube_control_plane: ["amd64"], kube_node: ["amd64", "arm64"], etcd: ["amd64"] },
      });
      assert.deepEqual(problems, []);
      const files = artifacts.files.filter((f) => f.name === "runc");
      assert.deepEqual(files.map((f) => [f.version, f.url, f.checksum, f.arches]), [
        ["1.2.5", "https://github.com/opencontainers/runc/releases/download/v1.2.5/runc.amd64", "sha256:fbd851fce6a8e0d67a9d184ea544c2abf67c9fd29b80fcc1adf67dfe9eb036a1", ["amd64"]],
        ["1.2.5", "https://github.com/opencontainers/runc/releases/download/v1.2.5/runc.arm64", "sha256:bfc6575f4c601740539553b639ad6f635c23f76695ed484171bd864df6a23f76", ["arm64"]],
      ]);
      assert.ok(!artifacts.files.some((f) => f.url.includes("1.2.6")));
    });

    it("the same through the compiler (2.30.0): the bundle's list, the served path and no leak", async () => {
      const file = pinnedSite("site.ts", "2.30.0", 'extraVars: { runc_version: "1.2.5" }');
      const r = await check(file);
      assert.deepEqual(show(r.errors), "");
      const runc = r.kubespray!.artifacts.files.filter((f) => f.name === "runc");
      assert.deepEqual(runc.map((f) => f.path), ["files/github.com/opencontainers/runc/releases/download/v1.2.5/runc.amd64"]);
      assert.equal(runc[0].sha256, "fbd851fce6a8e0d67a9d184ea544c2abf67c9fd29b80fcc1adf67dfe9eb036a1");
      assert.match(r.files.get("inventory/group_vars/all/kubespray-offline.yml")!, /^runc_version: "1\.2\.5"$/m);
    });

    it("any pinned *_version: calico_version moves calicoctl, the CRDs and every calico image together", async () => {
      const c = loadCatalogue("2.30.0")!;
      const ctl = c.downloads.find((d) => d.name === "calicoctl")!.file!;
      const other = ctl.versions!.find((v) => v.arch === "amd64")!.version;
      const file = pinnedSite("site.ts", "2.30.0", `extraVars: { calico_version: "${other}" }`);
      const r = await check(file);
      assert.deepEqual(show(r.errors), "");
      const a = r.kubespray!.artifacts;
      for (const name of ["calicoctl", "calico_crds"]) assert.ok(a.files.some((f) => f.name === name && f.url.includes(`v${other}`)), name);
      const calico = a.images.filter((i) => i.source.includes("/calico/"));
      assert.ok(calico.length >= 3);
      for (const i of calico) assert.equal(i.tag, `v${other}`, i.source);
    });

    it("a version the release pins no checksum for: AG099 at its line, with the versions it pins", async () => {
      const file = pinnedSite("site.ts", "2.30.0", 'extraVars: { runc_version: "9.9.9" }');
      const r = await synth(file);
      const e = only(r.errors, "AG099");
      assert.equal(e.at?.file, file);
      assert.equal(e.at?.line, lineOf(file, "9.9.9"));
      assert.match(e.message, /pins no checksum for runc 9\.9\.9/);
      assert.match(e.hint ?? "", /runc_version: one of .*1\.3\.4.*1\.2\.5/);
      assert.equal(r.files.size, 0);
    });
  });

  describe("an image's name, tag or which images run", () => {
    it("kube_vip_lb_fwdmethod: masquerade switches to the kube-vip-iptables image: the list and the registry's push list carry it", async () => {
      for (const release of shippedReleases()) {
        const c = loadCatalogue(release)!;
        const vip = c.downloads.find((d) => d.name === "kube-vip")!.image!;
        assert.deepEqual(vip.repoIf, { when: { var: "kube_vip_lb_fwdmethod", eq: "masquerade" }, then: "-iptables", else: "" }, release);
        assert.equal(c.settings.kube_vip_lb_fwdmethod?.default, "local", release);
      }
      const file = pinnedSite("site.ts", "2.30.0", 'addons: ["kube-vip"], extraVars: { kube_vip_lb_fwdmethod: "masquerade" }');
      const r = await check(file);
      assert.deepEqual(show(r.errors), "");
      const images = r.kubespray!.artifacts.images.map((i) => i.source);
      assert.ok(images.includes("ghcr.io/kube-vip/kube-vip-iptables:v1.0.3"), images.join("\n"));
      assert.ok(!images.some((i) => i.startsWith("ghcr.io/kube-vip/kube-vip:")));
      const push = r.files.get("inventory/group_vars/airgap_registry_servers/airgap.yml")!;
      assert.match(push, /source: "ghcr\.io\/kube-vip\/kube-vip-iptables:v1\.0\.3"\n\s+target: "kube-vip\/kube-vip-iptables:v1\.0\.3"/);

      // The default (local) keeps the plain image.
      const plain = await check(pinnedSite("site.ts", "2.30.0", 'addons: ["kube-vip"]'));
      assert.ok(plain.kubespray!.artifacts.images.some((i) => i.source === "ghcr.io/kube-vip/kube-vip:v1.0.3"));
    });

    it("an image's *_image_tag or the version it is made of is followed", async () => {
      const r = await check(pinnedSite("site.ts", "2.30.0", 'addons: ["metrics-server"], extraVars: { metrics_server_version: "0.7.1", pod_infra_image_tag: "3.9" }'));
      assert.deepEqual(show(r.errors), "");
      const images = r.kubespray!.artifacts.images.map((i) => i.source);
      assert.ok(images.includes("registry.k8s.io/metrics-server/metrics-server:v0.7.1"), images.join("\n"));
      assert.ok(images.includes("registry.k8s.io/pause:3.9"), images.join("\n"));
    });

    it("a setting that changes a download in a way airgap cannot follow: AG099 at its line", async () => {
      // coredns' repository and tag are computed from its version by a version comparison.
      const file = pinnedSite("site.ts", "2.30.0", 'extraVars: { coredns_version: "1.11.1" }');
      const r = await synth(file);
      const e = only(r.errors, "AG099");
      assert.equal(e.at?.line, lineOf(file, "coredns_version"));
      assert.match(e.message, /extraVars\.coredns_version changes what Kubespray fetches for coredns \(image\)/);
      assert.match(e.hint ?? "", /remove coredns_version from extraVars/);

      // A digest pin: Kubespray would pull by upstream digest, which the copied images do not keep.
      const digest = pinnedSite("site.ts", "2.30.0", 'extraVars: { calico_node_digest_checksum: "sha256:0000" }');
      assert.equal(only((await synth(digest)).errors, "AG099").at?.line, lineOf(digest, "calico_node_digest_checksum"));
    });

    it("the site's own fields are not set through extraVars: AG099 naming the field", async () => {
      const file = pinnedSite("site.ts", "2.30.0", 'extraVars: { kube_version: "1.32.7" }');
      const e = only((await synth(file)).errors, "AG099");
      assert.equal(e.at?.line, lineOf(file, "kube_version"));
      assert.match(e.hint ?? "", /set kubespray\.kubernetes instead/);
    });

    it("a pinned checksum is part of the file's download: AG099; a setting that changes nothing Kubespray fetches passes", async () => {
      const file = pinnedSite("site.ts", "2.30.0", 'extraVars: { runc_binary_checksum: "sha256:0000" }');
      assert.equal(only((await synth(file)).errors, "AG099").at?.line, lineOf(file, "runc_binary_checksum"));
      const ok = await check(pinnedSite("site.ts", "2.30.0", "extraVars: { kube_proxy_strict_arp: true }"));
      assert.deepEqual(show(ok.errors), "");
    });
  });

  describe("images the add-ons run that no Kubespray download lists", () => {
    it("ingress-nginx: the admission webhook's kube-webhook-certgen is carried with the add-on (origin airgap)", async () => {
      for (const release of shippedReleases().filter((x) => loadCatalogue(x)!.variables.includes("ingress_nginx_enabled"))) {
        const c = loadCatalogue(release)!;
        const certgen = c.downloads.find((d) => d.name === "ingress_nginx_kube_webhook_certgen");
        assert.ok(certgen, release);
        assert.equal(certgen.origin, "airgap");
        const r = await check(pinnedSite("site.ts", release, 'addons: ["ingress-nginx"]'));
        if (r.errors.some((d) => d.code === "AG121")) continue; // that release is refused for the site's registry (below)
        assert.deepEqual(show(r.errors), "");
        const img = r.kubespray!.artifacts.images.find((i) => i.name === "ingress_nginx_kube_webhook_certgen");
        assert.equal(img?.source, `registry.k8s.io/ingress-nginx/kube-webhook-certgen:${certgen.image!.variants[0].tag}`);
        assert.equal(img?.origin, "airgap");
        const without = await check(pinnedSite("site.ts", release));
        assert.ok(!without.kubespray!.artifacts.images.some((i) => i.name === "ingress_nginx_kube_webhook_certgen"));
      }
    });
  });

  describe("a cluster of amd64 and arm64 nodes", () => {
    it("images of pods Kubernetes schedules are carried for every architecture; static pods for their hosts' only", async () => {
      const r = await check(pinnedSite("site.ts", "2.30.0", 'addons: ["metrics-server", "kube-vip"]', undefined, mixedArch));
      assert.deepEqual(show(r.errors), "");
      const arches = (name: string) => r.kubespray!.artifacts.images.filter((i) => i.name.split("+").includes(name)).flatMap((i) => i.arches).sort();
      // Deployments Kubespray downloads on the control plane only (amd64 here): they may land on the arm64 worker.
      assert.deepEqual(arches("dnsautoscaler"), ["amd64", "arm64"]);
      assert.deepEqual(arches("metrics_server"), ["amd64", "arm64"]);
      assert.deepEqual(arches("coredns"), ["amd64", "arm64"]);
      // A static pod of the control plane stays on its architecture.
      assert.deepEqual(arches("kube-vip"), ["amd64"]);
      // Files are fetched by the hosts of their groups only.
      assert.deepEqual(r.kubespray!.artifacts.files.filter((f) => f.name === "kubeadm").flatMap((f) => f.arches).sort(), ["amd64", "arm64"]);
      assert.deepEqual(r.kubespray!.artifacts.files.filter((f) => f.name === "etcd").flatMap((f) => f.arches).sort(), ["amd64"]);
    });
  });

  describe("combinations a release cannot install offline", () => {
    it("Cilium on 2.28.1: AG120 at networkPlugin, naming the releases that can", async () => {
      const file = pinnedSite("plant.ts", "2.28.1");
      const r = await synth(file);
      const e = only(r.errors, "AG120");
      assert.equal(e.at?.file, file);
      assert.equal(e.at?.line, lineOf(file, 'networkPlugin: "cilium"'));
      assert.match(e.message, /Kubespray 2\.28\.1 cannot install Cilium offline/);
      assert.match(e.hint ?? "", /releases that can .*: 2\.30\.0 \(supports Kubernetes 1\.32\.8\), 2\.31\.0 \(Kubernetes 1\.33\.0 to 1\.35\.4\)/);
      for (const release of ["2.30.0", "2.31.0"]) assert.ok(loadCatalogue(release)!.downloads.some((d) => d.name === "cilium_chart" && d.file?.repoFlag), release);
    });

    it("Cilium deployed additionally on 2.28.1: AG120 at that extra variable", async () => {
      const file = pinnedSite("site.ts", "2.28.1", 'containerRuntime: "crio", extraVars: { cilium_deploy_additionally: true }');
      const e = only((await synth(file)).errors, "AG120");
      assert.equal(e.at?.line, lineOf(file, "cilium_deploy_additionally"));
    });

    it("registry pull accounts with containerd on 2.28.1: AG121 at version, naming the releases whose templates carry them", async () => {
      assert.deepEqual(loadCatalogue("2.28.1")!.registryAuth, { containerd: false, crio: true });
      const file = pinnedSite("site.ts", "2.28.1");
      const r = await synth(file);
      const e = only(r.errors, "AG121");
      assert.equal(e.at?.file, file);
      assert.equal(e.at?.line, lineOf(file, 'version: "2.28.1"'));
      assert.match(e.message, /cannot give containerd the registry's pull account \(puller\)/);
      assert.match(e.hint ?? "", /releases whose templates carry it: 2\.30\.0 \(supports Kubernetes 1\.32\.8\), 2\.31\.0/);
      assert.match(e.hint ?? "", /containerRuntime: "crio"/);
      assert.equal(r.files.size, 0);
      // CRI-O on 2.28.1 gets the account (crio_registry_auth); containerd on 2.30.0 through the mirror's header.
      assert.deepEqual(show((await check(pinnedSite("site.ts", "2.28.1", 'containerRuntime: "crio"'))).errors), "");
      const ok = await check(pinnedSite("site.ts", "2.30.0"));
      assert.deepEqual(show(ok.errors), "");
      assert.match(ok.files.get("inventory/group_vars/all/kubespray-offline.yml")!, /Authorization: "Basic /);
    });
  });
});
