/**
 * `airgap inspect`, `airgap diff` and the bundle's SBOM, on real bundle
 * folders and transfer files (written by export, read back by import), the
 * SBOM checked by CycloneDX's own validator (@cyclonedx/cyclonedx-library's
 * JSON schema validation) and its package URLs by packageurl-js.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { PackageURL } from "packageurl-js";
import { diff, inspect } from "../../bundle/inspect.js";
import { buildManifest, parseManifest, serializeManifest, type Artifact } from "../../bundle/manifest.js";
import { purlOf, SBOM_FILE, serializeSbom } from "../../bundle/sbom.js";
import { keygen, readPrivateKey, readPublicKey, signBytes } from "../../bundle/sign.js";
import { PINS_FILE } from "../../bundle/store.js";
import { exportBundle, importTransfer } from "../../bundle/transfer.js";
import { CLI } from "../helpers.js";
import { sha256, tempDir } from "./helpers.js";

interface Item {
  artifact: Omit<Artifact, "size" | "sha256">;
  content: Buffer;
}

const deb = (name: string, version: string, content = randomBytes(20_000)): Item => ({
  artifact: { kind: "deb", name, version, arch: "amd64", release: "debian-12", source: `http://deb.debian.org/debian/pool/main/${name[0]}/${name}/${name}_${version}_amd64.deb`, path: `debian/pool/bookworm/${name}_${version.replace(/^\d+:/, "")}_amd64.deb` },
  content,
});
const file = (p: string, content: Buffer, version?: string): Item => ({
  artifact: { kind: "file", name: path.basename(p), ...(version ? { version } : {}), source: `https://dl.k8s.io/${p}`, path: `files/dl.k8s.io/${p}` },
  content,
});
const wheel = (name: string, version: string): Item => ({
  artifact: { kind: "wheel", name, version, source: `https://files.pythonhosted.org/packages/${name}-${version}-py3-none-any.whl`, path: `pypi/${name}/${name.replace(/-/g, "_")}-${version}-py3-none-any.whl` },
  content: randomBytes(5_000),
});
/** An image: one layer blob, and the image (its manifest's bytes). */
const image = (name: string, tag: string, layer: Buffer): Item[] => {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [{ digest: `sha256:${sha256(layer)}`, size: layer.length }] }));
  return [
    { artifact: { kind: "image-blob", name: `sha256:${sha256(layer)}`, source: name, path: `oci/blobs/sha256/${sha256(layer)}` }, content: layer },
    { artifact: { kind: "image-blob", name: `sha256:${sha256(manifest)}`, source: name, path: `oci/blobs/sha256/${sha256(manifest)}` }, content: manifest },
    { artifact: { kind: "image", name, tag, source: `${name}:${tag}`, path: `oci/refs/${name}:${tag}` }, content: manifest },
  ];
};

async function makeBundle(dir: string, items: Item[], keyFile: string, pins: Record<string, string> = {}): Promise<void> {
  mkdirSync(path.join(dir, "blobs/sha256"), { recursive: true });
  const artifacts = items.map((i) => {
    const digest = sha256(i.content);
    writeFileSync(path.join(dir, "blobs/sha256", digest), i.content);
    return { ...i.artifact, size: i.content.length, sha256: digest } as Artifact;
  });
  const text = Buffer.from(serializeManifest(buildManifest("plant", [{ kind: "apt", release: "debian-12", path: "debian", suite: "bookworm", pool: "pool/bookworm", architectures: ["amd64"] }], artifacts)));
  writeFileSync(path.join(dir, "manifest.json"), text);
  writeFileSync(path.join(dir, "manifest.json.sig"), signBytes(text, await readPrivateKey(keyFile)));
  if (Object.keys(pins).length) writeFileSync(path.join(dir, PINS_FILE), JSON.stringify(pins));
}

function airgap(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("bundle: inspect, diff and the SBOM", function () {
  this.timeout(60_000);
  let tmp: string;
  let keyFile: string;
  let pubFile: string;
  const layer = randomBytes(120_000);
  const cilium = randomBytes(30_000);
  const kubeadm = randomBytes(50_000);
  const v1 = () => [deb("curl", "7.88.1-10+deb12u8"), deb("chrony", "4.3-2+deb12u1"), file("release/v1.32.8/bin/linux/amd64/kubeadm", kubeadm, "v1.32.8"), file("cilium/cilium-1.17.0.tgz", cilium), wheel("jmespath", "1.0.1"), ...image("registry.k8s.io/pause", "3.10", layer)];
  let items1: Item[];
  let items2: Item[];

  before(async () => {
    tmp = tempDir("airgap-inspect-");
    ({ privateKey: keyFile, publicKey: pubFile } = await keygen(path.join(tmp, "keys")));
    items1 = v1();
    // v2: curl updated, chrony dropped, one new wheel, the rest unchanged.
    items2 = [deb("curl", "7.88.1-10+deb12u9"), ...items1.slice(2), wheel("netaddr", "1.3.0")];
    await makeBundle(path.join(tmp, "b1"), items1, keyFile, { [`url:https://dl.k8s.io/cilium/cilium-1.17.0.tgz`]: sha256(cilium), [`sha512:${"ab".repeat(64)}`]: sha256(kubeadm) });
    await makeBundle(path.join(tmp, "b2"), items2, keyFile);
    await exportBundle({ dir: path.join(tmp, "b1"), file: path.join(tmp, "b1.tar") });
    await exportBundle({ dir: path.join(tmp, "b2"), file: path.join(tmp, "delta.tar"), since: path.join(tmp, "b1/manifest.json") });
    await exportBundle({ dir: path.join(tmp, "b2"), file: path.join(tmp, "b2.tar"), split: 64 * 1024, key: await readPrivateKey(keyFile) });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("inspect of a bundle folder: by kind with sizes, sources, pins; the signature checked with --trust", async () => {
    const r = await inspect(path.join(tmp, "b1"), await readPublicKey(pubFile));
    assert.equal(r.site, "plant");
    assert.equal(r.signature, "verified");
    const kinds = Object.fromEntries(r.kinds.map((k) => [k.kind, k]));
    assert.equal(kinds.deb.artifacts, 2);
    assert.equal(kinds.deb.bytes, items1[0].content.length + items1[1].content.length);
    assert.equal(kinds.file.artifacts, 2);
    assert.equal(kinds.image.artifacts, 1);
    assert.equal(kinds["image-blob"].artifacts, 2);
    // The image's manifest is one blob shared by the image and its image-blob entry: counted once.
    assert.equal(r.blobs, 7);
    assert.equal(r.bytes, [...new Map(items1.map((i) => [sha256(i.content), i.content.length])).values()].reduce((n, s) => n + s, 0));
    assert.deepEqual(r.sources.map((s) => s.source).sort(), ["deb.debian.org", "dl.k8s.io", "files.pythonhosted.org", "registry.k8s.io"]);
    const pin = (p: string) => r.artifacts.find((a) => a.path === p)?.pin;
    assert.equal(pin("files/dl.k8s.io/cilium/cilium-1.17.0.tgz"), "first-fetch");
    assert.equal(pin("files/dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubeadm"), "sha512");
    assert.equal(pin("debian/pool/bookworm/curl_7.88.1-10+deb12u8_amd64.deb"), "sha256");
    assert.equal(r.missingBlobs, 0);
    const other = await keygen(path.join(tmp, "other"));
    assert.equal((await inspect(path.join(tmp, "b1"), await readPublicKey(other.publicKey))).signature, "bad");
    assert.equal((await inspect(path.join(tmp, "b1"))).signature, "present");
  });

  it("inspect of a transfer file reads its headers: a full one carries every blob, a delta fewer; chunks through their list", async () => {
    const full = await inspect(path.join(tmp, "b1.tar"));
    assert.equal(full.input.kind, "transfer");
    assert.deepEqual(full.carried, { blobs: full.blobs, bytes: full.bytes, delta: false });
    const delta = await inspect(path.join(tmp, "delta.tar"));
    const d = await diff(path.join(tmp, "b1"), path.join(tmp, "b2"));
    assert.equal(delta.carried?.delta, true);
    assert.equal(delta.carried?.blobs, d.delta.blobs);
    assert.equal(delta.carried?.bytes, d.delta.bytes);
    const chunked = await inspect(path.join(tmp, "b2.tar.chunks.json"), await readPublicKey(pubFile));
    assert.ok((chunked.input.chunks ?? 0) > 2, "split into several chunks");
    assert.equal(chunked.signature, "verified");
    assert.equal(chunked.manifest, (await inspect(path.join(tmp, "b2"))).manifest);
    assert.equal(chunked.carried?.blobs, chunked.blobs);
  });

  it("diff: added, removed, changed by path, and what a delta would carry (what export --since carries)", async () => {
    const d = await diff(path.join(tmp, "b1"), path.join(tmp, "b2.tar"));
    assert.deepEqual(d.added.map((c) => c.path), ["debian/pool/bookworm/curl_7.88.1-10+deb12u9_amd64.deb", "pypi/netaddr/netaddr-1.3.0-py3-none-any.whl"]);
    assert.deepEqual(d.removed.map((c) => c.path), ["debian/pool/bookworm/chrony_4.3-2+deb12u1_amd64.deb", "debian/pool/bookworm/curl_7.88.1-10+deb12u8_amd64.deb"]);
    assert.deepEqual(d.changed, []);
    assert.equal(d.unchanged, items1.length - 2);
    assert.equal(d.delta.blobs, 2);
    assert.equal(d.delta.bytes, items2[0].content.length + items2.at(-1)!.content.length);
    // Same path, new content: a change.
    const b3 = path.join(tmp, "b3");
    await makeBundle(b3, [...items1.slice(0, 2), file("release/v1.32.8/bin/linux/amd64/kubeadm", randomBytes(100), "v1.32.8"), ...items1.slice(3)], keyFile);
    const c = await diff(path.join(tmp, "b1.tar"), b3);
    assert.deepEqual(c.changed.map((x) => x.path), ["files/dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubeadm"]);
    assert.equal(c.delta.bytes, 100);
  });

  it("the command line: inspect and diff print a summary, --json one object, exit 1 for what cannot be read", () => {
    const human = airgap(["inspect", path.join(tmp, "b1"), "--trust", pubFile, "--list"]);
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /^bundle .*b1: site "plant", bundle \d+ \(\d{4}-\d\d-\d\dT[\d:.]+Z\), manifest [0-9a-f]{16}, signed, verified by key [0-9a-f]{16}$/m);
    assert.match(human.out, /^ {2}deb +2 +/m);
    assert.match(human.out, /^sources: /m);
    assert.match(human.out, /cilium-1\.17\.0\.tgz \(no upstream checksum: kept as first fetched\)/);
    assert.match(human.out, /^ {2}deb curl 7\.88\.1-10\+deb12u8 amd64 /m);
    const json = airgap(["inspect", path.join(tmp, "delta.tar"), "--json"]);
    assert.equal(json.code, 0, json.err);
    const r = JSON.parse(json.out) as { ok: boolean; carried: { delta: boolean }; artifacts: unknown[] };
    assert.equal(r.ok, true);
    assert.equal(r.carried.delta, true);
    assert.equal(r.artifacts.length, items2.length);
    const bad = airgap(["inspect", path.join(tmp, "b1"), "--trust", path.join(tmp, "other/airgap-bundle.pub")]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /signature does NOT verify/);
    const missing = airgap(["inspect", path.join(tmp, "nothing.tar")]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no such bundle folder, manifest or transfer file/);
    const d = airgap(["diff", path.join(tmp, "b1"), path.join(tmp, "b2")]);
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /2 added, 2 removed, 0 changed, \d+ unchanged/);
    assert.match(d.out, /^ {2}\+ wheel netaddr 1\.3\.0 /m);
    assert.match(d.out, /a delta \(export --since the old manifest\) would carry 2 blobs/);
    const dj = JSON.parse(airgap(["diff", path.join(tmp, "b1"), path.join(tmp, "b2"), "--json"]).out) as { delta: { blobs: number } };
    assert.equal(dj.delta.blobs, 2);
  });

  it("the SBOM: valid CycloneDX 1.6 (the library's own schema validator), package URLs that parse, one component per artifact but image blobs", async () => {
    const manifestBytes = readFileSync(path.join(tmp, "b1/manifest.json"));
    const text = serializeSbom(parseManifest(manifestBytes.toString("utf8")), manifestBytes);
    const problems = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text);
    assert.equal(problems, null, JSON.stringify(problems, null, 2));
    const bom = JSON.parse(text) as { serialNumber: string; components: { type: string; name: string; version?: string; purl?: string; hashes: { content: string }[] }[] };
    assert.equal(bom.components.length, items1.filter((i) => i.artifact.kind !== "image-blob").length);
    for (const c of bom.components) {
      assert.ok(c.purl, c.name);
      const p = PackageURL.fromString(c.purl);
      assert.equal(PackageURL.fromString(p.toString()).toString(), p.toString());
      if (c.type === "library" && p.type === "deb") {
        assert.equal(p.namespace, "debian");
        assert.equal(p.name, c.name);
        assert.equal(p.version, c.version);
        assert.equal(p.qualifiers?.arch, "amd64");
      }
    }
    const img = bom.components.find((c) => c.type === "container")!;
    assert.equal(PackageURL.fromString(img.purl!).version, `sha256:${img.hashes[0].content}`);
    assert.equal(purlOf({ kind: "wheel", name: "Foo_Bar", version: "1.0", source: "", path: "x", size: 1, sha256: "0".repeat(64) }), "pkg:pypi/foo-bar@1.0");
    // Deterministic, and what the import writes into the store (from the manifest it verified) and inspect --sbom prints.
    assert.equal(serializeSbom(parseManifest(manifestBytes.toString("utf8")), manifestBytes), text);
    const store = path.join(tmp, "store");
    await importTransfer({ inputs: [path.join(tmp, "b1.tar")], store, trust: await readPublicKey(pubFile) });
    assert.equal(readFileSync(path.join(store, SBOM_FILE), "utf8"), text);
    assert.equal(airgap(["inspect", path.join(tmp, "b1.tar"), "--sbom"]).out, text);
  });
});
