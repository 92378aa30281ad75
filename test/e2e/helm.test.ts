/**
 * @lab helm: Helm charts inside the site (issue 19), with the network cut.
 *
 * On the bastion's loopback, a throwaway upstream: a classic chart
 * repository (HTTP) holding `web` (signed), and the lab's upstream registry
 * (test/e2e/upstream.ts, TLS) holding `base` as an OCI chart; `web` depends
 * on `base`; their images are the lab's own test images. The lab site plus a
 * `helm` service carrying both is bundled into a bundle folder of its own,
 * compiled, and its site.yml run with that bundle. Then, on node1 with the
 * real helm client (3.18.4, the version Kubespray 2.30.0 pins, built here
 * from the Go module proxy and copied over): `helm repo add` with the site CA
 * (refused without it), `helm search repo`, `helm pull` gives the bundled
 * bytes, `helm pull oci://registry…/charts/web` with the pull account (an
 * anonymous pull and a pull-account push refused), `helm template` names only
 * images the site registry serves (skopeo inspect from the node). A second
 * site.yml changes nothing; a new bundle with web 1.1.0 serves both versions.
 *
 * The helm bundles go to a folder of their own (hard links from the lab's
 * bundle, so nothing is fetched twice): later files read the lab's bundle.
 * At the end the lab's own site runs again from the store (an older bundle
 * than the helm ones, so taken back on purpose), as the files after this
 * one expect.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE, FILES_MIRROR, formatRecap, KEYS, labBefore, phase, run, SITE, STORE, WORK, type LabRunResult } from "./fixture.js";
import { startLabUpstream, UPSTREAM } from "./upstream.js";
import { addDependency, fileServer, makeChart, signingKey, testHelm } from "../bundle/chart-upstream.js";
import { must, tempDir } from "../roles/registry-harness.js";
import { CLI } from "../helpers.js";

const DOMAIN = "lab.airgap.internal";
const REGISTRY = `registry.${DOMAIN}:5000`;
const CHARTS_URL = `https://charts.${DOMAIN}:8443/`;
/** The classic upstream's port on the bastion's loopback (fixed: the site file names it). */
const CLASSIC_PORT = 5918;
const WEB_IMAGE = `${UPSTREAM}/airgap-lab/app-one:1.0`;
const BASE_IMAGE = `${UPSTREAM}/airgap-lab/app-two:1.0`;

/** A shell-quoted word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Manifest {
  artifacts: { kind: string; path: string; sha256: string }[];
}

describe("@lab helm: charts served as a classic repository and in the registry, pulled with the real helm client", function () {
  let site: LabRunResult;
  let helm: string;
  let project: string;
  let manifest: Manifest;
  let work: string;
  /** The helm bundles' folder (the fixture's BUNDLE stays the lab's own). */
  let bundle: string;
  const pull = () => {
    const p = process.env.AIRGAP_LAB_REGISTRY_PULL_PASSWORD;
    assert.ok(p, "the fixture sets AIRGAP_LAB_REGISTRY_PULL_PASSWORD");
    return p;
  };

  /** The lab site with a helm service carrying `web` at `webVersion` and `base`, written beside SITE. */
  function helmSite(webVersion: string): string {
    const lab = readFileSync(SITE, "utf8");
    const block = `helm: {
      on: "admin",
      charts: [
        { repo: "http://127.0.0.1:${CLASSIC_PORT}", name: "web", version: ${JSON.stringify(webVersion)}, keyring: ${JSON.stringify(path.join(work, "charts.pub.gpg"))}, images: [${JSON.stringify(WEB_IMAGE)}, ${JSON.stringify(BASE_IMAGE)}] },
        { repo: "oci://${UPSTREAM}/charts", name: "base", version: "0.1.0", images: [${JSON.stringify(BASE_IMAGE)}] },
      ],
    },
    registry: {`;
    const out = lab.replace("    registry: {", block);
    assert.notEqual(out, lab, `${SITE} has the "    registry: {" line the test adds the helm service before`);
    const file = path.join(path.dirname(SITE), `lab-helm-${webVersion}.ts`);
    writeFileSync(file, out);
    return file;
  }

  /** Bundles `siteFile` into the helm bundles' folder with the upstream up (charts and images), compiles it, runs its site.yml with that bundle. */
  async function deliver(siteFile: string, name: string): Promise<{ recap: string; code: number; log: string }> {
    const upstream = await startLabUpstream(path.join(WORK, "upstream"));
    const classic = await fileServer(path.join(work, "classic"), new Map(), CLASSIC_PORT);
    let b;
    try {
      // base, an OCI chart in the upstream registry (which starts empty of charts each time).
      must(helm, ["push", path.join(work, "src/base-0.1.0.tgz"), `oci://${UPSTREAM}/charts`, "--ca-file", path.join(upstream.certDir, "ca.crt")], { env: helmEnv() });
      b = await run(process.execPath, [CLI, "bundle", siteFile, "-o", bundle, "--include-base", "--files-from", FILES_MIRROR, "--cert-dir", upstream.certDir,
        "--key", path.join(KEYS, "airgap-bundle.key")], { env: { ...process.env, AIRGAP_HELM: helm }, log: path.join(WORK, `${name}-bundle.log`) });
    } finally {
      await classic.close();
      await upstream.stop();
    }
    phase(`${name}: airgap bundle`, b.ms);
    assert.equal(b.code, 0, b.stderr.slice(-3000));
    manifest = JSON.parse(readFileSync(path.join(bundle, "manifest.json"), "utf8"));
    project = path.join(WORK, `project-${name}`);
    const c = await run(process.execPath, [CLI, "compile", siteFile, "-o", project]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    const r = await site.lab.playbook(`${name}-site`, "site.yml", [], bundle, project);
    phase(`${name}: site.yml`, r.ms);
    return { recap: formatRecap(r.recap), code: r.code, log: r.log };
  }

  const helmEnv = () => ({ ...process.env, HELM_CONFIG_HOME: path.join(work, "helm/config"), HELM_CACHE_HOME: path.join(work, "helm/cache"), HELM_DATA_HOME: path.join(work, "helm/data") });
  /** helm on node1, with its own settings folder. */
  const nodeHelm = (args: string, env = "") => site.lab.ssh("node1", `${env} HELM_CONFIG_HOME=/root/helm-e2e/config HELM_CACHE_HOME=/root/helm-e2e/cache HELM_DATA_HOME=/root/helm-e2e/data /usr/local/bin/helm ${args}`);
  const bundled = (p: string) => manifest.artifacts.find((a) => a.path === p)?.sha256;

  before(async function () {
    site = await labBefore(this);
    this.timeout(60 * 60_000);
    helm = testHelm();
    work = path.join(WORK, "helm");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    bundle = path.join(work, "bundle");
    const cp = await run("cp", ["-al", BUNDLE, bundle]);
    assert.equal(cp.code, 0, cp.stderr);
    // The charts: base 0.1.0 (OCI, runs app-two), web 1.0.0 and 1.1.0 (classic, signed, run app-one, depend on base).
    const src = path.join(work, "src");
    const classicDir = path.join(work, "classic");
    mkdirSync(src, { recursive: true });
    mkdirSync(classicDir, { recursive: true });
    const env = helmEnv();
    const signer = signingKey(tempDir("airgap-helm-gnupg-"), work, "airgap lab charts <charts@lab>");
    writeFileSync(path.join(work, "charts.pub.gpg"), readFileSync(signer.pubring));
    const base = makeChart(helm, env, src, "base", "0.1.0", `${UPSTREAM}/airgap-lab/app-two`, "1.0");
    must(helm, ["package", base, "--destination", src], { env });
    for (const version of ["1.0.0", "1.1.0"]) {
      const web = makeChart(helm, env, src, "web", version, `${UPSTREAM}/airgap-lab/app-one`, "1.0");
      addDependency(web, { name: "base", version: "0.1.0", repository: `oci://${UPSTREAM}/charts`, tgz: path.join(src, "base-0.1.0.tgz") });
      must(helm, ["package", web, "--destination", classicDir, "--sign", "--key", signer.name, "--keyring", signer.secring], { env });
    }
    must(helm, ["repo", "index", classicDir, "--url", `http://127.0.0.1:${CLASSIC_PORT}`], { env });
    // Only web 1.0.0 at first: 1.1.0 is the later bump.
    const first = await deliver(helmSite("1.0.0"), "helm-1");
    console.log(`      e2e recap, helm site: ${first.recap}`);
    assert.equal(first.code, 0, `site.yml with the helm service failed; log ${first.log}`);
    // The helm client on node1 (a static binary).
    const sshArgs = site.lab.env.AIRGAP_LAB_SSH_ARGS.split(/\s+/).filter(Boolean);
    const copied = await run("scp", [...sshArgs, "-o", "BatchMode=yes", helm, `root@${site.lab.address("node1")}:/usr/local/bin/helm`]);
    assert.equal(copied.code, 0, copied.stderr);
    // skopeo for the template test, from the site's own repository (the lab site carries it).
    await site.lab.install("node1", "skopeo");
  });

  after(async function () {
    if (!site) return;
    this.timeout(15 * 60_000);
    const back = await site.lab.playbook("helm-back-to-lab", "site.yml", ["-e", "airgap_allow_rollback=true"], STORE);
    phase("helm: back to the lab site (site.yml)", back.ms);
    assert.equal(back.code, 0, `log: ${back.log}`);
  });

  it("the bundle carries both charts with their metadata and web's provenance, the archives as published", () => {
    assert.equal(bundled("charts/web-1.0.0.tgz"), must("sha256sum", [path.join(work, "classic/web-1.0.0.tgz")]).split(/\s+/)[0]);
    assert.equal(bundled("charts/base-0.1.0.tgz"), must("sha256sum", [path.join(work, "src/base-0.1.0.tgz")]).split(/\s+/)[0]);
    for (const p of ["charts/web-1.0.0.tgz.json", "charts/web-1.0.0.tgz.prov", "charts/base-0.1.0.tgz.json"]) assert.ok(bundled(p), p);
  });

  it("helm repo add needs the site CA; search lists the charts; pull gives the bundled bytes", async () => {
    // Go reads both the file and the folder of system roots: empty both.
    const noCa = await nodeHelm(`repo add noca ${CHARTS_URL}`, "SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent");
    assert.notEqual(noCa.code, 0);
    assert.match(noCa.stderr, /certificate/);
    const added = await nodeHelm(`repo add site ${CHARTS_URL} --ca-file /etc/ssl/certs/ca-certificates.crt --force-update`);
    assert.equal(added.code, 0, added.stderr);
    const search = await nodeHelm("search repo site/ --versions");
    assert.match(search.stdout, /site\/web\s+1\.0\.0/);
    assert.match(search.stdout, /site\/base\s+0\.1\.0/);
    // helm pull does not make its destination (first lab run: "open /root/helm-e2e/classic/web-1.0.0.tgz…: no such file").
    await site.lab.sh("node1", "mkdir -p /root/helm-e2e/classic");
    const pulled = await nodeHelm("pull site/web --version 1.0.0 --destination /root/helm-e2e/classic");
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal((await site.lab.sh("node1", "sha256sum /root/helm-e2e/classic/web-1.0.0.tgz")).split(/\s+/)[0], bundled("charts/web-1.0.0.tgz"));
  });

  it("helm pull oci:// works with the pull account only; the pull account cannot push", async () => {
    await site.lab.sh("node1", "mkdir -p /root/helm-e2e/oci /root/helm-e2e/anon");
    const anon = await nodeHelm(`pull oci://${REGISTRY}/charts/web --version 1.0.0 --destination /root/helm-e2e/anon`, "HELM_REGISTRY_CONFIG=/root/helm-e2e/anon.json");
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /401|unauthorized|basic credential not found/i);
    const login = await site.lab.ssh("node1", `HELM_REGISTRY_CONFIG=/root/helm-e2e/registry.json /usr/local/bin/helm registry login ${REGISTRY} --username puller --password-stdin`, pull());
    assert.equal(login.code, 0, login.stderr);
    const oci = await nodeHelm(`pull oci://${REGISTRY}/charts/web --version 1.0.0 --destination /root/helm-e2e/oci`, "HELM_REGISTRY_CONFIG=/root/helm-e2e/registry.json");
    assert.equal(oci.code, 0, oci.stderr);
    assert.equal((await site.lab.sh("node1", "sha256sum /root/helm-e2e/oci/web-1.0.0.tgz")).split(/\s+/)[0], bundled("charts/web-1.0.0.tgz"));
    const push = await nodeHelm(`push /root/helm-e2e/oci/web-1.0.0.tgz oci://${REGISTRY}/charts/pushed`, "HELM_REGISTRY_CONFIG=/root/helm-e2e/registry.json");
    assert.notEqual(push.code, 0);
    assert.match(push.stderr, /403|forbidden|denied/i);
  });

  it("helm template of the pulled chart names only images the site registry serves", async () => {
    const out = await site.lab.sh("node1",
      `/usr/local/bin/helm template w /root/helm-e2e/classic/web-1.0.0.tgz --skip-tests --set image.repository=${REGISTRY}/airgap-lab/app-one --set base.image.repository=${REGISTRY}/airgap-lab/app-two | grep -E '^\\s+image:' | sed -E 's/.*image: *"?([^"]+)"?/\\1/' | sort -u`);
    const images = out.split("\n").filter(Boolean);
    assert.deepEqual(images, [`${REGISTRY}/airgap-lab/app-one:1.0`, `${REGISTRY}/airgap-lab/app-two:1.0`]);
    for (const image of images) {
      const r = await site.lab.ssh("node1", `skopeo inspect --raw --creds ${q(`puller:${pull()}`)} docker://${image}`);
      assert.equal(r.code, 0, `${image}: ${r.stderr}`);
    }
  });

  it("a second site.yml changes nothing", async function () {
    this.timeout(20 * 60_000);
    const again = await site.lab.playbook("helm-2-site", "site.yml", [], bundle, project);
    console.log(`      e2e recap, helm second run: ${formatRecap(again.recap)}`);
    assert.equal(again.code, 0, again.log);
    for (const [host, r] of again.recap) assert.equal(r.changed, 0, `${host} changed ${r.changed} (log ${again.log})`);
  });

  it("a new bundle with web 1.1.0 serves both versions of web", async function () {
    this.timeout(30 * 60_000);
    const bump = await deliver(helmSite("1.1.0"), "helm-bump");
    console.log(`      e2e recap, helm bump: ${bump.recap}`);
    assert.equal(bump.code, 0, bump.log);
    assert.equal((await nodeHelm("repo update site")).code, 0);
    const search = await nodeHelm("search repo site/web --versions");
    assert.match(search.stdout, /site\/web\s+1\.1\.0/);
    assert.match(search.stdout, /site\/web\s+1\.0\.0/);
    const oci = await nodeHelm(`pull oci://${REGISTRY}/charts/web --version 1.1.0 --destination /root/helm-e2e/oci`, "HELM_REGISTRY_CONFIG=/root/helm-e2e/registry.json");
    assert.equal(oci.code, 0, oci.stderr);
  });
});
