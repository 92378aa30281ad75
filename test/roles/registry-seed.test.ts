/**
 * The registry end to end on this machine's loopback, with the real tools:
 * test images built with umoci and served by a throwaway upstream registry
 * (TLS from a test CA); copied into a bundle's store by bundle/images.ts;
 * carried into a host store, laid out and pushed by the role's tool; served
 * by distribution behind nginx configured from the role's own templates;
 * then the access rules checked with skopeo and curl.
 *
 * Needs root (nginx's workers run as www-data, which reads the htpasswd
 * file) and: skopeo umoci docker-registry nginx apache2-utils openssl
 * ansible-core python3-yaml curl.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { copyImages, probeImages, type ImageRequest, type ImageResult } from "../../bundle/images.js";
import { buildManifest, serializeManifest, type Manifest } from "../../bundle/manifest.js";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { Store } from "../../bundle/store.js";
import {
  makeCa,
  missingTools,
  sh,
  startSiteRegistry,
  startUpstream,
  tempDir,
  TOOL,
  type Ca,
  type Proc,
  type SiteRegistry,
} from "./registry-harness.js";

function sink() {
  const parts: string[] = [];
  return { write: (s: string) => (parts.push(s), true), text: () => parts.join("") };
}

const SPECS = [
  { name: "app-one", base: "debianish", own: 40_000 },
  { name: "app-two", base: "debianish", own: 50_000 },
  { name: "app-three", base: "debianish", own: 60_000 },
];

/** The site's trusted key (PEM) for the tool's commands that read a manifest. */
let trustedPem = "";
const READS_MANIFEST = new Set(["check", "accept", "missing", "ingest", "layout", "push", "prune"]);

function tool(args: string[], input?: string) {
  const [cmd, ...rest] = args;
  const trust = READS_MANIFEST.has(cmd) ? ["--trusted-key", trustedPem, "--site", "test"] : [];
  const r = sh("python3", [TOOL, cmd, ...trust, ...rest], { input });
  return { ...r, json: r.code === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
}

function accessLogWrites(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((l) => /"(POST|PUT|PATCH|DELETE) /.test(l));
}

describe("registry: upstream → bundle → host store → site registry (loopback, real tools)", function () {
  this.timeout(10 * 60_000);
  let dir: string;
  let ca: Ca;
  let upstream: { host: string; registry: Proc };
  let site: SiteRegistry;
  let requests: ImageRequest[];
  let first: ImageResult;
  let manifest: Manifest;
  let keyFile: string;
  const bundleDir = () => path.join(dir, "bundle");
  const hostStore = () => path.join(dir, "host/store");
  const layout = () => path.join(dir, "host/oci");
  const manifestFile = () => path.join(bundleDir(), "manifest.json");
  const imagesArg = () => JSON.stringify(requests.map((r) => ({ source: r.source, target: r.target })));

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    const missing = missingTools();
    assert.deepEqual(missing, [], `the registry tests need: ${missing.join(", ")} (test/packages.txt)`);
    dir = tempDir("airgap-registry-");
    ca = makeCa(path.join(dir, "ca"));
    const u = await startUpstream(dir, ca, SPECS, SPECS.map((s) => [s.name, `lab/${s.name}:1.0`]));
    upstream = { host: u.host, registry: u.registry };
    requests = SPECS.map((s) => ({ source: `${u.host}/lab/${s.name}:1.0`, target: `lab/${s.name}:1.0`, arches: ["amd64"] }));
    site = await startSiteRegistry(path.join(dir, "site"), ca);
    const k = await keygen(path.join(dir, "keys"));
    keyFile = k.privateKey;
    trustedPem = readFileSync(k.publicKey, "utf8");
  });

  after(async () => {
    await site?.stop();
    await upstream?.registry.stop();
    if (dir && process.env.AIRGAP_KEEP_TMP !== "1") rmSync(dir, { recursive: true, force: true });
  });

  describe("the bundle", () => {
    it("copies every image into one store, each shared layer once", async () => {
      const store = new Store(bundleDir());
      await store.open();
      const err = sink();
      first = await copyImages(store, requests, { certDir: ca.certDir, stderr: err });
      await store.close();
      assert.deepEqual(first.failures, [], err.text());
      manifest = buildManifest("test", [], first.artifacts);
      const text = Buffer.from(serializeManifest(manifest));
      writeFileSync(manifestFile(), text);
      writeFileSync(manifestFile() + ".sig", signBytes(text, await readPrivateKey(keyFile)));
      const images = manifest.artifacts.filter((a) => a.kind === "image");
      const sources = requests.map((r) => r.source).sort();
      assert.deepEqual(images.map((a) => `${a.name}:${a.tag}`).sort(), sources);
      assert.deepEqual(images.map((a) => a.path).sort(), sources.map((s) => `oci/refs/${s}`));
      // Each image: manifest, config, the base layer, its own layer; the base is shared.
      const blobs = manifest.artifacts.filter((a) => a.kind === "image-blob");
      assert.equal(new Set(blobs.map((b) => b.sha256)).size, blobs.length, "no blob listed twice");
      assert.equal(blobs.length, 1 + 3 * 3, blobs.map((b) => b.name).join(" "));
      const layers = images.map((i) => (JSON.parse(readFileSync(path.join(bundleDir(), "blobs/sha256", i.sha256), "utf8")) as { layers: { digest: string }[] }).layers);
      const base = layers[0][0].digest;
      for (const l of layers) {
        assert.equal(l.length, 2);
        assert.equal(l[0].digest, base, "every image starts from the same base layer");
      }
      assert.equal(blobs.filter((b) => `sha256:${b.sha256}` === base).length, 1, "the base layer is listed once");
      // Every listed blob is in the store with its digest.
      for (const b of blobs) {
        const data = readFileSync(path.join(bundleDir(), "blobs/sha256", b.sha256));
        assert.equal(createHash("sha256").update(data).digest("hex"), b.sha256);
        assert.equal(data.length, b.size);
      }
      assert.ok(!existsSync(path.join(bundleDir(), ".partial")), "no partial folder left");
    });

    it("the dry run's image sizes (skopeo inspect --raw, no layer fetched) are the copied blobs' sizes", async () => {
      const probes = await probeImages(requests, { certDir: ca.certDir });
      const sizes = new Map<string, number>();
      for (const p of probes) {
        assert.ok(p.blobs, p.error);
        for (const [hex, size] of p.blobs) sizes.set(hex, size);
      }
      // Upstream's OCI images are copied as they are: the same blobs, the same bytes as the copy reports.
      const copied = new Map(manifest.artifacts.filter((a) => a.kind === "image-blob").map((a) => [a.sha256, a.size]));
      assert.deepEqual([...sizes].sort(), [...copied].sort());
      assert.equal([...sizes.values()].reduce((n, s) => n + s, 0), first.bytes);
      const missing = await probeImages([{ ...requests[0], source: requests[0].source.replace(":1.0", ":9.9") }], { certDir: ca.certDir });
      assert.match(missing[0].error ?? "", /manifest unknown|not found|9\.9/i);
    });

    it("a second copy fetches no blob and gives the same manifest", async () => {
      const store = new Store(bundleDir());
      await store.open();
      const again = await copyImages(store, requests, { certDir: ca.certDir, stderr: sink() });
      await store.close();
      assert.deepEqual(again.failures, []);
      assert.equal(again.newBlobs, 0);
      assert.equal(serializeManifest(buildManifest("test", [], again.artifacts)), readFileSync(manifestFile(), "utf8"));
    });

    it("a damaged blob in the store is found, removed and fetched again", async () => {
      const own = manifest.artifacts.find((a) => a.kind === "image-blob" && a.size > 30_000 && a.size < 70_000)!;
      const file = path.join(bundleDir(), "blobs/sha256", own.sha256);
      const data = readFileSync(file);
      data[100] ^= 1;
      writeFileSync(file, data);
      const store = new Store(bundleDir());
      await store.open();
      const err = sink();
      const again = await copyImages(store, requests, { certDir: ca.certDir, stderr: err });
      await store.close();
      assert.deepEqual(again.failures, []);
      assert.match(err.text(), new RegExp(`blob ${own.sha256} .* damaged`));
      assert.equal(createHash("sha256").update(readFileSync(file)).digest("hex"), own.sha256);
    });

    it("fails naming the image when upstream does not have it, and without the upstream CA", async () => {
      const store = new Store(bundleDir());
      await store.open();
      const missing = await copyImages(store, [{ source: `${upstream.host}/lab/nope:1.0`, target: "lab/nope:1.0", arches: ["amd64"] }], { certDir: ca.certDir, stderr: sink() });
      const untrusted = await copyImages(store, [requests[0]], { stderr: sink() });
      await store.close();
      assert.equal(missing.failures.length, 1);
      assert.match(missing.failures[0].artifact, /image 127\.0\.0\.1:\d+\/lab\/nope:1\.0/);
      assert.match(untrusted.failures[0]?.reason ?? "", /x509|certificate/);
    });
  });

  describe("the admin side (the role's tool)", () => {
    it("the host store gets only what it lacks, each blob verified on arrival; a damaged transfer is refused", () => {
      const missing = tool(["missing", manifestFile(), hostStore()]);
      assert.equal(missing.code, 0, missing.stderr);
      const hexes = missing.json!.missing as string[];
      assert.equal(hexes.length, manifest.artifacts.filter((a) => a.kind === "image" || a.kind === "image-blob").reduce((s, a) => s.add(a.sha256), new Set<string>()).size);
      const tar = path.join(dir, "transfer.tar");
      assert.equal(tool(["pack", bundleDir(), tar, ...hexes]).code, 0);
      // One byte flipped in the transfer: nothing enters the store.
      const bad = path.join(dir, "bad.tar");
      const flip = sh("python3", ["-c", [
        "import shutil, sys, tarfile",
        "shutil.copyfile(sys.argv[1], sys.argv[2])",
        "m = tarfile.open(sys.argv[1]).getmembers()[0]",
        "f = open(sys.argv[2], 'r+b'); f.seek(m.offset_data + 10); b = f.read(1); f.seek(m.offset_data + 10); f.write(bytes([b[0] ^ 1]))",
      ].join("\n"), tar, bad]);
      assert.equal(flip.code, 0, flip.stderr);
      const refused = tool(["ingest", bad, manifestFile(), hostStore()]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /arrived with \d+ bytes and sha256/);
      assert.equal(readdirSync(path.join(hostStore(), "blobs/sha256")).length, 0);
      const ok = tool(["ingest", tar, manifestFile(), hostStore()]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(tool(["missing", manifestFile(), hostStore()]).json!.missing, []);
    });

    it("refuses a bundle that lacks a listed image, naming it", () => {
      const r = tool(["check", bundleDir(), "--site", "test", "--images", JSON.stringify([{ source: "quay.io/x/y:1", target: "x/y:1" }])]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /image quay\.io\/x\/y:1: the site lists it \(pushed as x\/y:1\) but the bundle does not carry it/);
      assert.equal(tool(["check", bundleDir(), "--site", "other", "--images", imagesArg()]).code, 1);
      assert.equal(tool(["check", bundleDir(), "--site", "test", "--images", imagesArg()]).code, 0);
    });

    it("lays the images out over the store (idempotent)", () => {
      const r = tool(["layout", manifestFile(), hostStore(), layout(), "--images", imagesArg()]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { changed: true, images: 3 });
      assert.deepEqual(tool(["layout", manifestFile(), hostStore(), layout(), "--images", imagesArg()]).json, { changed: false, images: 3 });
      const index = JSON.parse(readFileSync(path.join(layout(), "index.json"), "utf8")) as { manifests: { annotations: Record<string, string> }[] };
      assert.deepEqual(index.manifests.map((m) => m.annotations["org.opencontainers.image.ref.name"]).sort(), requests.map((q) => q.source).sort());
      const inspect = sh("skopeo", ["inspect", `oci:${layout()}:${requests[0].source}`]);
      assert.equal(inspect.code, 0, inspect.stderr);
    });

    it("hashes every blob of the images it pushes first: a blob altered in the host store is refused, nothing pushed", () => {
      const own = manifest.artifacts.find((a) => a.kind === "image-blob" && a.size > 30_000 && a.size < 70_000)!;
      const file = path.join(hostStore(), "blobs/sha256", own.sha256);
      const saved = readFileSync(file);
      const data = Buffer.from(saved);
      data[200] ^= 1;
      writeFileSync(file, data);
      try {
        const before = accessLogWrites(site.accessLog).length;
        const r = tool(["push", manifestFile(), layout(), site.host, ca.certDir, "--images", imagesArg()], JSON.stringify({ user: site.push.user, password: site.push.password }));
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, new RegExp(`image blob ${own.sha256}: its blob blobs/sha256/${own.sha256} has sha256 [0-9a-f]{64}, the manifest says ${own.sha256}`));
        assert.match(r.stderr, /nothing was pushed/);
        assert.equal(accessLogWrites(site.accessLog).length, before, "no write reached the registry");
      } finally {
        writeFileSync(file, saved);
      }
    });

    it("refuses one target listed from two sources, before it pushes anything", () => {
      const twice = [{ source: requests[0].source, target: "lab/same:1.0" }, { source: requests[1].source, target: "lab/same:1.0" }];
      const r = tool(["push", manifestFile(), layout(), site.host, ca.certDir, "--images", JSON.stringify(twice)], JSON.stringify({ user: site.push.user, password: site.push.password }));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /lab\/same:1\.0 is listed from two sources/);
    });

    it("pushes every image under its target, keeping the bundle's digests; an image two services list is pushed once", () => {
      // As the registry's own list and a chart's images give it (the helm lab once spun here forever).
      const listed = [...requests, ...requests.slice(0, 2)].map((q) => ({ source: q.source, target: q.target }));
      const r = tool(["push", manifestFile(), layout(), site.host, ca.certDir, "--images", JSON.stringify(listed), "--jobs", "3"], JSON.stringify({ user: site.push.user, password: site.push.password }));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { changed: true, pushed: requests.map((q) => q.target).sort(), present: 0, repaired: [] });
      for (const q of requests) {
        const i = sh("skopeo", ["inspect", "--cert-dir", ca.certDir, "--authfile", site.pull.authFile, `docker://${site.host}/${q.target}`]);
        assert.equal(i.code, 0, i.stderr);
        const want = manifest.artifacts.find((a) => a.kind === "image" && `${a.name}:${a.tag}` === q.source)!.sha256;
        assert.equal((JSON.parse(i.stdout) as { Digest: string }).Digest, `sha256:${want}`);
      }
    });

    it("a second push sends nothing: no write reaches the registry", () => {
      const before = accessLogWrites(site.accessLog).length;
      assert.ok(before > 0, "the first push wrote through nginx");
      const r = tool(["push", manifestFile(), layout(), site.host, ca.certDir, "--images", imagesArg()], JSON.stringify({ user: site.push.user, password: site.push.password }));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { changed: false, pushed: [], present: 3, repaired: [] });
      assert.equal(accessLogWrites(site.accessLog).length, before);
    });

    it("refuses to push with a pull account", () => {
      const r = tool(["push", manifestFile(), layout(), site.host, ca.certDir, "--images", JSON.stringify([{ source: requests[0].source, target: "lab/other:1.0" }])],
        JSON.stringify({ user: site.pull.user, password: site.pull.password }));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /push of .* as lab\/other:1\.0 failed: .*403/);
    });
  });

  describe("the site registry's access rules (skopeo and curl)", () => {
    const ref = () => `docker://${site.host}/${requests[1].target}`;

    it("the pull account inspects and copies an image over verified TLS", () => {
      const i = sh("skopeo", ["inspect", "--cert-dir", ca.certDir, "--authfile", site.pull.authFile, ref()]);
      assert.equal(i.code, 0, i.stderr);
      const out = path.join(dir, "pulled");
      const c = sh("skopeo", ["copy", "--quiet", "--src-cert-dir", ca.certDir, "--src-authfile", site.pull.authFile, ref(), `oci:${out}:x`]);
      assert.equal(c.code, 0, c.stderr);
      assert.ok(statSync(path.join(out, "index.json")).isFile());
    });

    it("refuses an anonymous pull", () => {
      const r = sh("skopeo", ["inspect", "--cert-dir", ca.certDir, "--no-creds", ref()]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unauthorized|authentication required/);
    });

    it("refuses a push with the pull account (403), accepts it with the push account", () => {
      const src = `oci:${layout()}:${requests[0].source}`;
      const pull = sh("skopeo", ["copy", "--quiet", "--dest-cert-dir", ca.certDir, "--dest-authfile", site.pull.authFile, src, `docker://${site.host}/lab/by-puller:1`]);
      assert.notEqual(pull.code, 0);
      assert.match(pull.stderr, /403|Forbidden/);
      const push = sh("skopeo", ["copy", "--quiet", "--dest-cert-dir", ca.certDir, "--dest-authfile", site.push.authFile, src, `docker://${site.host}/lab/by-pusher:1`]);
      assert.equal(push.code, 0, push.stderr);
    });

    it("fails verification without the site CA", () => {
      const r = sh("skopeo", ["inspect", "--authfile", site.pull.authFile, ref()], { env: { ...process.env, SSL_CERT_FILE: "/dev/null", SSL_CERT_DIR: "/nonexistent" } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /x509: certificate signed by unknown authority/);
    });

    it("answers each account and method as designed", () => {
      const code = (args: string[]) => sh("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.crt, ...args]).stdout;
      const v2 = `https://${site.host}/v2/`;
      const upload = `https://${site.host}/v2/lab/x/blobs/uploads/`;
      const manifestUrl = `https://${site.host}/v2/${requests[1].target.replace(":", "/manifests/")}`;
      assert.equal(code([v2]), "401", "anonymous");
      assert.equal(code(["-u", `${site.pull.user}:${site.pull.password}`, v2]), "200", "pull account reads");
      assert.equal(code(["-u", `${site.pull.user}:wrong`, v2]), "401", "wrong password");
      assert.equal(code(["-u", `${site.pull.user}:${site.pull.password}`, "-X", "POST", upload]), "403", "pull account writes");
      assert.equal(code(["-u", `${site.pull.user}:${site.pull.password}`, "-X", "DELETE", manifestUrl]), "403", "pull account deletes");
      assert.equal(code(["-u", `${site.push.user}:wrong`, "-X", "POST", upload]), "401", "push account, wrong password");
      assert.equal(code(["-X", "POST", upload]), "401", "anonymous write: challenged");
      assert.equal(code(["-u", `${site.push.user}:${site.push.password}`, "-X", "POST", upload]), "202", "push account starts an upload");
      assert.equal(code(["-u", `${site.pull.user}:${site.pull.password}`, `https://${site.host}/`]), "404", "nothing but the API");
    });

    it("the backend has no TCP port, and its socket refuses a local unprivileged user (nginx's group passes)", () => {
      const config = readFileSync(path.join(site.dir, "config.yml"), "utf8");
      assert.match(config, /^ {2}net: unix$/m);
      // What an unprivileged local process would try: a push straight to distribution, past nginx.
      const direct = (user: string) =>
        sh("runuser", ["-u", user, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", site.socket, "-X", "POST", "http://registry/v2/lab/x/blobs/uploads/"]);
      // nobody can walk to the folder (the parents are 0755), not into it.
      assert.equal(sh("runuser", ["-u", "nobody", "--", "test", "-d", path.dirname(site.socket)]).code, 0);
      const nobody = direct("nobody");
      assert.equal(nobody.code, 7, `curl as nobody must fail to connect (exit 7), got ${nobody.code} ${nobody.stdout}`);
      assert.equal(nobody.stdout, "000");
      const front = direct("www-data");
      assert.equal(front.code, 0, front.stderr);
      assert.equal(front.stdout, "202", "nginx's workers' group reaches the backend");
    });
  });
});
