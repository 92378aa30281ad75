/**
 * Multi-arch images and the registry's garbage collection, on this machine's
 * loopback with the real tools: an OCI index of two images (amd64, arm64)
 * built with umoci, Debian's docker-registry (distribution 2.8, as the
 * registry role and the lab run it) with TLS from a test CA, skopeo.
 *
 * What it shows: `garbage-collect --delete-untagged` deletes the manifests an
 * index lists and keeps the index (pulls by tag then fail for each
 * architecture); the role's tool lists such tags (`indexes`, which gc.yml
 * refuses delete-untagged on), and its push finds the lost manifests behind
 * an unchanged tag and pushes the image again, after which each architecture
 * pulls by tag.
 *
 * Needs root (like the other registry tests) and: skopeo umoci docker-registry openssl.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildManifest, serializeManifest, type Artifact } from "../../bundle/manifest.js";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { buildImages, freePort, issue, makeCa, must, sh, startRegistry, tempDir, TOOL, type Ca, type Proc } from "./registry-harness.js";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const REF = "upstream.test/lab/multi:1.0";
const TARGET = "lab/multi:1.0";

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

describe("registry: multi-arch images survive garbage collection (loopback, distribution + skopeo)", function () {
  this.timeout(5 * 60_000);
  let dir: string;
  let ca: Ca;
  let layout: string;
  let registry: Proc | undefined;
  let port: number;
  let tls: { crt: string; key: string };
  let index: Descriptor;
  let children: Descriptor[];
  let trustedPem: string;
  const storage = () => path.join(dir, "registry/storage");
  const config = () => path.join(dir, "registry/config.yml");
  const host = () => `127.0.0.1:${port}`;
  const blob = (digest: string) => path.join(layout, "blobs/sha256", digest.slice("sha256:".length));
  const start = async () => {
    registry = await startRegistry({ dir: path.join(dir, "registry"), port, tls });
  };
  /**
   * A pull of the tag for one architecture (skopeo copy into a dir: layout):
   * the digest of the manifest it got (stdout), or the error.
   */
  const inspect = (arch: string) => {
    const into = path.join(dir, `pulled-${arch}`);
    rmSync(into, { recursive: true, force: true });
    const r = sh("skopeo", ["copy", "--quiet", "--override-os", "linux", "--override-arch", arch, "--src-cert-dir", ca.certDir, `docker://${host()}/${TARGET}`, `dir:${into}`]);
    if (r.code !== 0) return r;
    return { ...r, stdout: `sha256:${createHash("sha256").update(readFileSync(path.join(into, "manifest.json"))).digest("hex")}\n` };
  };
  const push = () => {
    const r = sh("python3", [TOOL, "push", path.join(dir, "manifest.json"), layout, host(), ca.certDir, "--images", JSON.stringify([{ source: REF, target: TARGET }]),
      "--trusted-key", trustedPem, "--site", "test"], {
      input: JSON.stringify({ user: "pusher", password: "unused-by-this-registry" }),
    });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { changed: boolean; pushed: string[]; present: number; repaired: string[] };
  };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    const missing = ["skopeo", "umoci", "docker-registry", "openssl"].filter((t) => sh("sh", ["-c", `command -v ${t}`]).code !== 0);
    assert.deepEqual(missing, [], `this test needs: ${missing.join(", ")} (test/packages.txt)`);
    dir = tempDir("airgap-multiarch-");
    ca = makeCa(path.join(dir, "ca"));
    port = await freePort();
    tls = issue(ca, "registry");
    // Two images, then the arm64 one's configuration says arm64.
    layout = buildImages(path.join(dir, "build"), [
      { name: "amd", base: "one", own: 20_000 },
      { name: "arm", base: "two", own: 20_000 },
    ], 50_000);
    must("umoci", ["config", "--image", `${layout}:arm`, "--architecture", "arm64"]);
    const top = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
    const byRef = (ref: string) => top.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === ref)!;
    children = [
      { mediaType: byRef("amd").mediaType, digest: byRef("amd").digest, size: byRef("amd").size, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: byRef("arm").mediaType, digest: byRef("arm").digest, size: byRef("arm").size, platform: { os: "linux", architecture: "arm64" } },
    ];
    const text = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children }));
    const hex = createHash("sha256").update(text).digest("hex");
    writeFileSync(path.join(layout, "blobs/sha256", hex), text);
    index = { mediaType: OCI_INDEX, digest: `sha256:${hex}`, size: text.length, annotations: { "org.opencontainers.image.ref.name": REF } };
    top.manifests.push(index);
    writeFileSync(path.join(layout, "index.json"), JSON.stringify(top));
    // The bundle's manifest, as the tool reads it: the image (its index) and its blobs.
    const blobs = new Set<string>([index.digest]);
    for (const c of children) {
      blobs.add(c.digest);
      const m = JSON.parse(readFileSync(blob(c.digest), "utf8")) as { config: Descriptor; layers: Descriptor[] };
      for (const b of [m.config, ...m.layers]) blobs.add(b.digest);
    }
    const artifacts: Artifact[] = [...blobs].map((d) => ({ kind: "image-blob", name: d, source: `docker://${REF}`, path: `oci/blobs/${d.slice(7)}`, size: statSync(blob(d)).size, sha256: d.slice(7) }));
    artifacts.push({ kind: "image", name: "upstream.test/lab/multi", tag: "1.0", source: `docker://${REF}`, path: `oci/refs/${REF}`, size: index.size, sha256: hex });
    // Signed by a key of this test's own: the tool checks the signature on the bytes it reads.
    const keys = await keygen(path.join(dir, "keys"));
    trustedPem = readFileSync(keys.publicKey, "utf8");
    const signed = Buffer.from(serializeManifest(buildManifest("test", [], artifacts)));
    writeFileSync(path.join(dir, "manifest.json"), signed);
    writeFileSync(path.join(dir, "manifest.json.sig"), signBytes(signed, await readPrivateKey(keys.privateKey)));
    await start();
  });

  after(async () => {
    await registry?.stop();
    if (dir && process.env.AIRGAP_KEEP_TMP !== "1") rmSync(dir, { recursive: true, force: true });
  });

  it("the role's tool pushes the index with both manifests; each architecture pulls by tag; a second push finds it whole", () => {
    const first = push();
    assert.deepEqual(first.pushed, [TARGET]);
    assert.equal(inspect("amd64").stdout.trim(), children[0].digest, inspect("amd64").stderr);
    assert.equal(inspect("arm64").stdout.trim(), children[1].digest, inspect("arm64").stderr);
    assert.deepEqual(push(), { changed: false, pushed: [], present: 1, repaired: [] });
  });

  it("lists the tags that are multi-arch indexes (what gc.yml refuses --delete-untagged on)", () => {
    const r = sh("python3", [TOOL, "indexes", storage()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { changed: false, indexes: [TARGET] });
  });

  it("garbage-collect --delete-untagged breaks the image: the index stays, each architecture's pull fails", async () => {
    await registry!.stop();
    registry = undefined;
    const gc = sh("docker-registry", ["garbage-collect", "--delete-untagged=true", config()]);
    assert.equal(gc.code, 0, gc.stderr);
    await start();
    for (const arch of ["amd64", "arm64"]) {
      const r = inspect(arch);
      assert.notEqual(r.code, 0, `${arch} still pulls: ${r.stdout}`);
      assert.match(r.stderr, /manifest unknown|not found|404/i, arch);
    }
    // The tag still names the same index: a check of the tag alone sees nothing to do.
    const raw = sh("skopeo", ["inspect", "--raw", "--cert-dir", ca.certDir, `docker://${host()}/${TARGET}`]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`, index.digest);
  });

  it("the tool's push repairs it (the lost manifests behind the unchanged tag); each architecture pulls by tag again", () => {
    const repaired = push();
    assert.deepEqual(repaired.repaired, [TARGET]);
    assert.deepEqual(repaired.pushed, [TARGET]);
    assert.equal(inspect("amd64").stdout.trim(), children[0].digest, inspect("amd64").stderr);
    assert.equal(inspect("arm64").stdout.trim(), children[1].digest, inspect("arm64").stderr);
    assert.deepEqual(push(), { changed: false, pushed: [], present: 1, repaired: [] });
  });

  it("garbage collection without --delete-untagged keeps every manifest", async () => {
    await registry!.stop();
    registry = undefined;
    const gc = sh("docker-registry", ["garbage-collect", "--delete-untagged=false", config()]);
    assert.equal(gc.code, 0, gc.stderr);
    await start();
    assert.equal(inspect("amd64").stdout.trim(), children[0].digest);
    assert.equal(inspect("arm64").stdout.trim(), children[1].digest);
  });
});
