/**
 * @lab registry: the site registry the compiled admin playbook set up and
 * seeded from the bundle (images from the throwaway upstream of
 * test/e2e/upstream.ts), checked with real clients: skopeo on a node with
 * the pull account over TLS verified by the site CA in the system store;
 * anonymous and pull-account writes refused; no CA, no connection; a host
 * outside the site's networks refused; the bundle's shared layer stored
 * once; another run changes nothing and writes nothing to the registry.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE, formatRecap, labBefore, phase, taskStatus, type LabRunResult } from "./fixture.js";
import { LAB_IMAGES, labImageRef } from "./upstream.js";

const DOMAIN = "lab.airgap.internal";
const REGISTRY = `registry.${DOMAIN}:5000`;
const PULL_USER = "puller";
const WRITES = "grep -cE '\"(POST|PUT|PATCH|DELETE) ' /var/log/nginx/airgap-registry.access.log || true";

function pullPassword(): string {
  const p = process.env.AIRGAP_LAB_REGISTRY_PULL_PASSWORD;
  assert.ok(p, "the fixture sets AIRGAP_LAB_REGISTRY_PULL_PASSWORD");
  return p;
}

/** A shell-quoted word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe("@lab registry: seeded from the bundle, pull-only for the nodes", function () {
  let site: LabRunResult;
  let images: { name: string; tag?: string; source: string; sha256: string }[];

  before(async function () {
    site = await labBefore(this);
    images = (site.manifest.artifacts as unknown as { kind: string; name: string; tag?: string; source: string; sha256: string }[]).filter((a) => a.kind === "image");
  });

  describe("the bundle", () => {
    it("carries the site's images, each shared layer once", () => {
      assert.deepEqual(images.map((i) => `${i.name}:${i.tag}`).sort(), LAB_IMAGES.map(labImageRef).sort());
      const blobs = site.manifest.artifacts.filter((a) => a.kind === "image-blob");
      assert.equal(new Set(blobs.map((b) => b.sha256)).size, blobs.length, "no blob listed twice");
      const layers = images.map((i) => (JSON.parse(readFileSync(path.join(BUNDLE, "blobs/sha256", i.sha256), "utf8")) as { layers: { digest: string }[] }).layers.map((l) => l.digest));
      const base = layers[0][0];
      assert.ok(layers.every((l) => l[0] === base), "the images share their base layer");
      assert.equal(blobs.filter((b) => `sha256:${b.sha256}` === base).length, 1, "the base layer is stored once");
      // manifest + config + base + own layer each, the base once.
      assert.equal(blobs.length, 1 + 3 * images.length);
    });
  });

  describe("on the admin", () => {
    it("distribution listens on its unix socket only (no TCP port); nginx on the site address", async () => {
      const listening = await site.lab.sh("admin", "ss -Hltn");
      assert.doesNotMatch(listening, /:500[12]\b/, listening);
      assert.doesNotMatch(listening, /(0\.0\.0\.0|\*|\[::\]):5000\b/, listening);
      const unix = await site.lab.sh("admin", "ss -Hlxp");
      assert.match(unix, /\/run\/airgap-registry\/registry\.sock\b.*docker-registry/, unix);
      assert.match(listening, new RegExp(`${site.lab.address("admin").replace(/\./g, "\\.")}:5000\\b`), listening);
      assert.equal((await site.lab.sh("admin", "systemctl is-active docker-registry nginx")).trim(), "active\nactive");
    });

    it("keeps the accounts bcrypt-hashed, readable by nginx only", async () => {
      const st = await site.lab.sh("admin", "stat -c '%a %U %G' /etc/docker/registry/htpasswd");
      assert.equal(st.trim(), "640 root www-data");
      const text = await site.lab.sh("admin", "cut -d: -f1,2 /etc/docker/registry/htpasswd | sed 's/\\(\\$2y\\$[0-9]*\\$\\).*/\\1/'");
      assert.deepEqual(text.trim().split("\n").sort(), ["puller:$2y$05$", "pusher:$2y$05$"]);
    });
  });

  describe("from a node", () => {
    const ref = (i: number) => `docker://${REGISTRY}/airgap-lab/${LAB_IMAGES[i].name}:1.0`;

    before(async function () {
      this.timeout(5 * 60_000);
      // The client, from the site's own repository (examples/lab.ts carries it).
      for (const node of ["node1", "node2"]) await site.lab.sh(node, "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends skopeo >/dev/null");
    });

    it("skopeo inspects each seeded image with the pull account over verified TLS: the bundle's digest", async () => {
      for (const [i, s] of LAB_IMAGES.entries()) {
        const out = await site.lab.sh("node1", `skopeo inspect --creds ${q(`${PULL_USER}:${pullPassword()}`)} ${ref(i)}`);
        const want = images.find((x) => `${x.name}:${x.tag}` === labImageRef(s))!.sha256;
        assert.equal((JSON.parse(out) as { Digest: string }).Digest, `sha256:${want}`);
      }
    });

    it("skopeo copies a seeded image with the pull account", async () => {
      const r = await site.lab.ssh("node2", `rm -rf /tmp/pulled && skopeo copy --quiet --src-creds ${q(`${PULL_USER}:${pullPassword()}`)} ${ref(1)} oci:/tmp/pulled:x && test -f /tmp/pulled/index.json`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    it("refuses an anonymous pull", async () => {
      const r = await site.lab.ssh("node1", `skopeo inspect --no-creds ${ref(0)}`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unauthorized|authentication required/, r.stderr);
    });

    it("refuses a push with the pull account (403)", async () => {
      const r = await site.lab.ssh("node2", `skopeo copy --quiet --dest-creds ${q(`${PULL_USER}:${pullPassword()}`)} oci:/tmp/pulled:x docker://${REGISTRY}/airgap-lab/by-a-node:1`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /403|Forbidden/, r.stderr);
    });

    it("fails verification without the site CA", async () => {
      const r = await site.lab.ssh("node1", `SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent skopeo inspect --creds ${q(`${PULL_USER}:${pullPassword()}`)} ${ref(0)}`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /x509: certificate signed by unknown authority/, r.stderr);
    });
  });

  it("image blobs are not on the package repository's web server (the registry's accounts guard them)", async () => {
    const blob = site.manifest.artifacts.find((a) => a.kind === "image-blob");
    assert.ok(blob, "the bundle has image blobs");
    await site.lab.install("node1", "curl");
    const code = await site.lab.sh("node1", `curl -s -o /dev/null -w '%{http_code}' https://repo.${DOMAIN}/${blob.path}`);
    assert.equal(code.trim(), "404");
  });

  it("refuses a host outside the site's networks (403 from nginx)", async () => {
    assert.equal(await site.lab.httpsStatus("outsider", `https://${site.lab.address("admin")}:5000/v2/`), 403);
  });

  it("another run changes nothing and pushes nothing, with the bundle or without", async function () {
    this.timeout(15 * 60_000);
    const before = Number((await site.lab.sh("admin", WRITES)).trim());
    const again = await site.lab.playbook("registry-again", "playbooks/admin.yml");
    phase("registry: admin.yml again", again.ms);
    console.log(`      e2e recap, registry again: ${formatRecap(again.recap)}`);
    assert.equal(again.code, 0, `log: ${again.log}`);
    assert.equal(again.recap.get("admin")?.changed, 0, formatRecap(again.recap));
    assert.equal(taskStatus(again.stdout, "registry : Push the images the registry does not hold yet", "admin"), "ok");
    assert.match(again.stdout, /"0 images pushed \[\], 3 already there\."/);
    assert.equal(Number((await site.lab.sh("admin", WRITES)).trim()), before, "no write reached the registry");
    // Without a bundle: checked against the last bundle's manifest kept on the admin.
    const bare = await site.lab.playbook("registry-no-bundle", "playbooks/admin.yml", [], null);
    assert.equal(bare.code, 0, `log: ${bare.log}`);
    assert.equal(bare.recap.get("admin")?.changed, 0, formatRecap(bare.recap));
    assert.equal(taskStatus(bare.stdout, "registry : Push the images the registry does not hold yet", "admin"), "ok");
    assert.equal(Number((await site.lab.sh("admin", WRITES)).trim()), before, "no write reached the registry");
  });
});
