/**
 * The registry's compile side: image references, the variables and plays it
 * emits, the Kubespray setting it owns, and the bundle's image list.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { imageRefPath, imageRequests, indexFor, ImageError, splitSource } from "../../../bundle/images.js";
import { checkManifest } from "../../../bundle/manifest.js";
import { readRole } from "../../../compile/roles.js";
import { imageModel, parseImageRef } from "../../../compile/components/registry.js";
import { synth } from "../../../compile/synth.js";

function site(dir: string, images: string[], extraHosts = ""): string {
  const file = path.join(dir, "site.ts");
  writeFileSync(
    file,
    `import { defineSite, fromEnv } from "airgap";
export default defineSite({
  name: "reg", domain: "reg.internal",
  networks: [{ name: "site", cidr: "10.50.0.0/24" }, { name: "lab", cidr: "10.51.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.50.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.50.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
    ${extraHosts}
  ],
  services: {
    repos: { on: "admin" },
    registry: {
      on: "admin", port: 5001, allow: ["site"],
      users: [
        { name: "ci", password: fromEnv("REG_CI"), access: "push" },
        { name: "nodes", password: fromEnv("REG_NODES"), access: "pull" },
      ],
      images: ${JSON.stringify(images)},
    },
  },
});
`,
  );
  return file;
}

describe("registry: compile side", function () {
  this.timeout(120_000);
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-registry-model-"))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("parses references as Docker and Kubespray do", () => {
    assert.deepEqual(parseImageRef("nginx:1.27"), { host: "docker.io", path: "library/nginx", tag: "1.27" });
    assert.deepEqual(parseImageRef("bitnami/redis:7"), { host: "docker.io", path: "bitnami/redis", tag: "7" });
    assert.deepEqual(parseImageRef("registry.k8s.io/pause:3.10"), { host: "registry.k8s.io", path: "pause", tag: "3.10" });
    assert.deepEqual(parseImageRef("127.0.0.1:5917/lab/app-one:1.0"), { host: "127.0.0.1:5917", path: "lab/app-one", tag: "1.0" });
    assert.deepEqual(parseImageRef("localhost/x/y:2"), { host: "localhost", path: "x/y", tag: "2" });
    const d = `sha256:${"ab".repeat(32)}`;
    assert.deepEqual(parseImageRef(`quay.io/a/b:1@${d}`), { host: "quay.io", path: "a/b", tag: "1", digest: d });
    for (const bad of ["", "UPPER/x:1", "quay.io//x:1", "quay.io/x:", "quay.io/x@sha256:12", "quay.io/x:-bad", "quay.io/x_-y:1"]) {
      assert.equal(parseImageRef(bad), undefined, bad);
    }
  });

  it("names each image in the site registry by its upstream path and tag", () => {
    assert.deepEqual(imageModel("registry.k8s.io/coredns/coredns:v1.11.3"), {
      source: "registry.k8s.io/coredns/coredns:v1.11.3", host: "registry.k8s.io", path: "coredns/coredns", tag: "v1.11.3", target: "coredns/coredns:v1.11.3",
    });
    assert.equal((imageModel("nginx:1.27") as { target: string }).target, "library/nginx:1.27");
    assert.match((imageModel("registry.k8s.io/pause") as { problem: string }).problem, /has no tag/);
    assert.equal(splitSource("docker.io/library/nginx:1.27").name, "docker.io/library/nginx");
    assert.equal(imageRefPath("127.0.0.1:5917/lab/a:1"), "oci/refs/127.0.0.1:5917/lab/a:1");
  });

  it("emits the role's variables, its play, registry_host, and DNS for registry.<domain>", async () => {
    const r = await synth(site(tmp, ["quay.io/prometheus/node-exporter:v1.8.2", "nginx:1.27.3"]));
    assert.deepEqual(r.errors, []);
    const vars = parse(r.files.get("inventory/group_vars/airgap_registry_servers/airgap.yml")!) as Record<string, unknown>;
    assert.deepEqual(vars, {
      airgap_registry_address: "10.50.0.10",
      airgap_registry_allow: ["10.50.0.0/24"],
      airgap_registry_images: [
        { source: "docker.io/library/nginx:1.27.3", target: "library/nginx:1.27.3" },
        { source: "quay.io/prometheus/node-exporter:v1.8.2", target: "prometheus/node-exporter:v1.8.2" },
      ],
      airgap_registry_names: ["registry.reg.internal", "admin.reg.internal"],
      airgap_registry_port: 5001,
      airgap_registry_prune_store: false,
      airgap_registry_storage: "/var/lib/docker-registry",
      airgap_registry_users: [
        { name: "ci", access: "push", password: "{{ lookup('ansible.builtin.env', 'REG_CI') }}" },
        { name: "nodes", access: "pull", password: "{{ lookup('ansible.builtin.env', 'REG_NODES') }}" },
      ],
    });
    const all = parse(r.files.get("inventory/group_vars/all/airgap.yml")!) as Record<string, unknown>;
    assert.equal(all.airgap_registry_host, "registry.reg.internal:5001");
    const admin = parse(r.files.get("playbooks/admin.yml")!) as { name: string; hosts: string; roles: { role: string }[] }[];
    const roles = admin.map((p) => p.roles[0].role);
    assert.ok(roles.indexOf("registry") > roles.indexOf("ca") && roles.indexOf("ca") >= 0, roles.join(" "));
    assert.equal(admin.find((p) => p.roles[0].role === "registry")!.hosts, "airgap_registry_servers");
    assert.ok([...r.files.keys()].some((f) => f === "roles/registry/tasks/main.yml"), "the role is copied into the project");
    const dns = r.files.get("inventory/group_vars/airgap_dns_servers/airgap.yml");
    if (dns) assert.match(dns, /registry/);
  });

  it("plans the bundle's images: the site's for the Kubernetes hosts' architectures", async () => {
    const r = await synth(site(tmp, ["nginx:1.27.3", "quay.io/a/b:1"], `{ name: "w1", address: "10.50.0.31", os: "debian-12", arch: "arm64", roles: ["worker"] },`));
    assert.deepEqual(r.errors, []);
    const list = imageRequests(r.site!.core, r.site!.models);
    assert.deepEqual(list, [
      { source: "docker.io/library/nginx:1.27.3", target: "library/nginx:1.27.3", arches: ["amd64", "arm64"] },
      { source: "quay.io/a/b:1", target: "a/b:1", arches: ["amd64", "arm64"] },
    ]);
  });

  it("refuses images without a registry to push them to", () => {
    const core = { hosts: [{ arch: "amd64", roles: ["admin"] }] } as never;
    const models = { kubespray: { artifacts: { images: [{ source: "registry.k8s.io/pause:3.10", target: "pause:3.10", arches: ["amd64"] }] } } } as never;
    assert.throws(() => imageRequests(core, models), (e: unknown) => e instanceof ImageError && /runs no registry/.test(e.message));
  });

  it("writes a multi-architecture index deterministically, architectures in order", () => {
    const m = (d: string) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${d.repeat(64)}`, size: 500 });
    const a = indexFor([{ arch: "arm64", manifest: m("b") }, { arch: "amd64", manifest: m("a") }]);
    const b = indexFor([{ arch: "amd64", manifest: m("a") }, { arch: "arm64", manifest: m("b") }]);
    assert.deepEqual(a, b);
    const doc = JSON.parse(a.toString()) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
    assert.equal(doc.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(doc.manifests.map((x) => x.platform.architecture), ["amd64", "arm64"]);
  });

  it("the manifest requires an image's tag", () => {
    const base = { format: 1, site: "s", sequence: 1, created: "2026-11-30T12:00:00Z", repositories: [] };
    const image = { kind: "image", name: "quay.io/a/b", source: "docker://quay.io/a/b:1", path: "oci/refs/quay.io/a/b:1", size: 1, sha256: "a".repeat(64) };
    assert.deepEqual(checkManifest({ ...base, artifacts: [{ ...image, tag: "1" }] }), []);
    assert.match(checkManifest({ ...base, artifacts: [image] }).join(), /an image needs its tag/);
  });

  it("the registry role lists what it runs (its own airgap_registry_packages)", () => {
    const { packages } = readRole("registry");
    for (const p of ["docker-registry", "apache2-utils", "skopeo", "python3-yaml"]) assert.ok(packages.Debian.includes(p), p);
  });
});
