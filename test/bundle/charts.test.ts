/**
 * Helm charts (issue 19) on this machine's loopback, with the real helm
 * client throughout: a throwaway upstream (a classic chart repository served
 * over HTTP, an OCI registry with TLS holding a chart the other depends on,
 * the charts' images built locally) → `planCharts` (helm pull, digests,
 * provenance, helm template) → a signed bundle → the helm_repo role's tool
 * (check, accept, index, push) → the site's classic repository behind nginx
 * (the role's own template, TLS from a site CA) and the site registry as the
 * registry role sets it up (nginx with its accounts in front of distribution)
 * → helm repo add / search / pull / template and helm pull oci:// with the
 * pull account, refused without the CA or the account.
 *
 * The helm client: $AIRGAP_TEST_HELM, else built once per machine with
 * `go install helm.sh/helm/v3/cmd/helm@v3.18.4` (the version Kubespray 2.30.0
 * pins) into $TMPDIR/airgap-test-helm-3.18.4 (needs Go and the Go module
 * proxy). Needs root (like the other registry tests) and: skopeo umoci
 * docker-registry nginx openssl gpg ansible-core.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { planCharts, provenanceDigest, renderedImages, type PlannedCharts } from "../../bundle/charts.js";
import { synth, type SynthSite } from "../../compile/synth.js";
import { imageRequests } from "../../bundle/images.js";
import type { HelmModel } from "../../compile/components/helm.js";
import { keygen } from "../../bundle/sign.js";
import { makeBundle } from "./bundles.js";
import { addDependency, fileServer, makeChart, signingKey, testHelm } from "./chart-upstream.js";
import { sha256 } from "./helpers.js";
import { ROOT } from "../helpers.js";
import {
  buildImages, freePort, issue, makeCa, missingTools, must, pushAll, sh, startNginx, startRegistry, startSiteRegistry, tempDir,
  type Ca, type Proc, type SiteRegistry,
} from "../roles/registry-harness.js";

const TOOL = path.join(ROOT, "roles/helm_repo/files/airgap_charts.py");

describe("helm charts: bundle, classic repository and OCI in the site registry, with the real helm client", function () {
  this.timeout(600_000);
  let work: string;
  let helm: string;
  let env: NodeJS.ProcessEnv;
  let upstreamCa: Ca;
  let upstream: Proc;
  let upstreamHost: string;
  let classic: { url: string; close(): Promise<void> };
  let served: Map<string, string>;
  let repoDir: string;
  let key: string;
  let pem: string;
  let pubring: string;
  const procs: Proc[] = [];
  let siteRegistry: SiteRegistry | undefined;

  before(async function () {
    // Building helm the first time on a machine takes minutes.
    this.timeout(1_800_000);
    const missing = [...missingTools(), ...["gpg", "go"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0 && !(t === "go" && process.env.AIRGAP_TEST_HELM))];
    if (missing.length) throw new Error(`missing tools: ${missing.join(", ")} (test/packages.txt)`);
    helm = testHelm();
    work = tempDir("airgap-charts-test-");
    env = {
      ...process.env,
      HELM_CONFIG_HOME: path.join(work, "helm/config"),
      HELM_CACHE_HOME: path.join(work, "helm/cache"),
      HELM_DATA_HOME: path.join(work, "helm/data"),
      GNUPGHOME: path.join(work, "gnupg"),
    };
    // The upstream OCI registry, with TLS from its own CA.
    upstreamCa = makeCa(path.join(work, "upstream-ca"), "upstream CA");
    const port = await freePort();
    upstream = await startRegistry({ dir: path.join(work, "upstream"), port, tls: issue(upstreamCa, "upstream") });
    procs.push(upstream);
    upstreamHost = `127.0.0.1:${port}`;
    // The charts' images, built here.
    const layout = buildImages(path.join(work, "images"), [
      { name: "web", base: "a", own: 50_000 },
      { name: "base", base: "a", own: 40_000 },
      { name: "sidecar", base: "a", own: 30_000 },
    ], 200_000);
    await pushAll(layout, upstreamHost, upstreamCa.certDir, [["web", "test/web:1.0.0"], ["base", "test/base:0.1.0"], ["sidecar", "test/sidecar:2.0"]]);
    // A signing key (RSA: helm's OpenPGP has no Ed25519).
    const signer = signingKey(env.GNUPGHOME!, work);
    const secring = signer.secring;
    pubring = signer.pubring;
    // base 0.1.0 in the OCI registry; web 1.0.0 (signed) in the classic repository, depending on base.
    const src = path.join(work, "src");
    mkdirSync(src, { recursive: true });
    const base = makeChart(helm, env, src, "base", "0.1.0", `${upstreamHost}/test/base`, "0.1.0");
    must(helm, ["package", base, "--destination", src], { env });
    must(helm, ["push", path.join(src, "base-0.1.0.tgz"), `oci://${upstreamHost}/charts`, "--ca-file", upstreamCa.crt], { env });
    repoDir = path.join(work, "classic");
    mkdirSync(repoDir, { recursive: true });
    for (const [version, extra] of [["1.0.0", false], ["1.1.0", true]] as const) {
      const web = makeChart(helm, env, src, "web", version, `${upstreamHost}/test/web`, "1.0.0");
      addDependency(web, { name: "base", version: "0.1.0", repository: `oci://${upstreamHost}/charts`, tgz: path.join(src, "base-0.1.0.tgz") });
      if (extra) {
        // 1.1.0 also runs a sidecar in its deployment.
        const dep = path.join(web, "templates/deployment.yaml");
        writeFileSync(dep, readFileSync(dep, "utf8").replace(/      containers:\n/, `      containers:\n        - name: sidecar\n          image: "${upstreamHost}/test/sidecar:2.0"\n`));
      }
      must(helm, ["package", web, "--destination", repoDir, "--sign", "--key", "airgap chart test", "--keyring", secring], { env });
    }
    served = new Map();
    classic = await fileServer(repoDir, served);
    must(helm, ["repo", "index", repoDir, "--url", classic.url], { env });
    const keys = await keygen(path.join(work, "keys"));
    key = keys.privateKey;
    pem = readFileSync(keys.publicKey, "utf8");
  });

  after(async () => {
    await classic?.close();
    await siteRegistry?.stop();
    for (const p of procs.reverse()) await p.stop();
  });

  /** The helm model of a site carrying `charts` (compiled from a site file, as the bundle does). */
  async function model(charts: Record<string, unknown>[]): Promise<HelmModel> {
    const dir = tempDir("airgap-charts-site-");
    writeFileSync(path.join(dir, "keyring.gpg"), readFileSync(pubring));
    const file = path.join(dir, "site.ts");
    writeFileSync(
      file,
      `import { defineSite, fromEnv } from "airgap";\nexport default defineSite(${JSON.stringify({
        name: "charts",
        domain: "charts.test",
        networks: [{ name: "site", cidr: "10.20.0.0/24" }],
        hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
        services: { registry: { on: "admin", users: [{ name: "p", password: "@P", access: "push" }, { name: "q", password: "@Q", access: "pull" }] }, helm: { on: "admin", charts } },
      }, null, 2).replace('"@P"', 'fromEnv("P")').replace('"@Q"', 'fromEnv("Q")')});\n`,
    );
    const r = await synth(file);
    assert.deepEqual(r.errors.map((e) => `${e.code} ${e.message}`), []);
    lastSite = r.site!;
    return r.site!.models.helm!;
  }
  let lastSite: SynthSite | undefined;

  const web = (version = "1.0.0", more: Record<string, unknown> = {}) => ({
    repo: "", name: "web", version,
    images: [`${upstreamHost}/test/web:1.0.0`, `${upstreamHost}/test/base:0.1.0`, ...(version === "1.1.0" ? [`${upstreamHost}/test/sidecar:2.0`] : [])],
    ...more,
  });
  const baseChart = () => ({ repo: `oci://${upstreamHost}/charts`, name: "base", version: "0.1.0", images: [`${upstreamHost}/test/base:0.1.0`] });
  const lines: string[] = [];
  const log = { info: (s: string) => lines.push(s) };
  const plan = async (charts: Record<string, unknown>[]) =>
    planCharts(await model(charts.map((c) => ({ ...c, repo: c.repo === "" ? classic.url : c.repo }))), { env: process.env, log, certDir: upstreamCa.certDir, helm });

  let planned: PlannedCharts;

  it("pulls a classic chart (signed, verified with the keyring) and an OCI one, the archives' bytes as published, and reads their images", async () => {
    planned = (await plan([web("1.0.0", { keyring: "keyring.gpg" }), baseChart()]))!;
    try {
      const byPath = new Map(planned.artifacts.map((a) => [a.path, a]));
      assert.deepEqual([...byPath.keys()].sort(), [
        "charts/base-0.1.0.tgz", "charts/base-0.1.0.tgz.json", "charts/web-1.0.0.tgz", "charts/web-1.0.0.tgz.json", "charts/web-1.0.0.tgz.prov",
      ]);
      assert.equal(byPath.get("charts/web-1.0.0.tgz")!.sha256, sha256(readFileSync(path.join(repoDir, "web-1.0.0.tgz"))));
      assert.equal(byPath.get("charts/base-0.1.0.tgz")!.sha256, sha256(readFileSync(path.join(work, "src/base-0.1.0.tgz"))));
      assert.equal(byPath.get("charts/web-1.0.0.tgz")!.source, `${classic.url}/web-1.0.0.tgz`);
      // web renders its own image and its dependency's.
      assert.deepEqual(planned.rendered.get("web@1.0.0"), [`${upstreamHost}/test/base:0.1.0`, `${upstreamHost}/test/web:1.0.0`]);
      const meta = JSON.parse(readFileSync(new URL(byPath.get("charts/web-1.0.0.tgz.json")!.fetchUrl), "utf8"));
      assert.equal(meta.name, "web");
      assert.equal(meta.dependencies[0].name, "base");
      assert.ok(lines.some((l) => /chart web 1\.0\.0: .*provenance verified with the keyring/.test(l)), lines.join("\n"));
      // The listed images are carried like every other image, once each.
      assert.deepEqual(imageRequests(lastSite!.core, lastSite!.models).map((i) => `${i.source} ${i.target}`), [
        `${upstreamHost}/test/base:0.1.0 test/base:0.1.0`,
        `${upstreamHost}/test/web:1.0.0 test/web:1.0.0`,
      ]);
    } finally {
      rmSync(planned.scratch, { recursive: true, force: true });
    }
  });

  it("refuses a chart whose bytes are not the site's pin, naming both digests", async () => {
    const wrong = "0".repeat(64);
    await assert.rejects(plan([web("1.0.0", { digest: `sha256:${wrong}` })]), (e: Error) => e.message.includes(`the site pins ${wrong}`) && e.message.includes(sha256(readFileSync(path.join(repoDir, "web-1.0.0.tgz")))));
  });

  it("refuses a chart the repository serves with other bytes than its index.yaml names", async () => {
    // Another web 1.0.0, served under the same name (the index still names the first one's digest).
    const other = path.join(work, "other");
    mkdirSync(other, { recursive: true });
    const chart = makeChart(helm, env, other, "web", "1.0.0", `${upstreamHost}/test/web`, "1.0.0");
    writeFileSync(path.join(chart, "Chart.yaml"), readFileSync(path.join(chart, "Chart.yaml"), "utf8").replace(/^description: .*$/m, "description: not the published one"));
    must(helm, ["package", chart, "--destination", other], { env });
    served.set("web-1.0.0.tgz", path.join(other, "web-1.0.0.tgz"));
    served.set("web-1.0.0.tgz.prov", path.join(other, "none"));
    try {
      await assert.rejects(plan([web("1.0.0", { images: [`${upstreamHost}/test/web:1.0.0`] })]), /index\.yaml says/);
    } finally {
      served.clear();
    }
  });

  it("refuses a provenance file that records another archive, and a keyring that did not sign it", async () => {
    const prov = readFileSync(path.join(repoDir, "web-1.0.0.tgz.prov"), "utf8");
    assert.equal(provenanceDigest(prov, "web-1.0.0.tgz"), sha256(readFileSync(path.join(repoDir, "web-1.0.0.tgz"))));
    served.set("web-1.0.0.tgz.prov", path.join(repoDir, "web-1.1.0.tgz.prov"));
    try {
      await assert.rejects(plan([web()]), /provenance file records no sha256 for web-1\.0\.0\.tgz/);
    } finally {
      served.clear();
    }
    // A keyring without the publisher's key: helm pull --verify fails.
    const otherHome = path.join(work, "gnupg-other");
    mkdirSync(otherHome, { recursive: true, mode: 0o700 });
    must("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", "someone else <else@test>", "rsa2048", "sign", "never"], { env: { ...env, GNUPGHOME: otherHome } });
    const saved = readFileSync(pubring);
    writeFileSync(pubring, spawnSync("gpg", ["--export", "someone else"], { env: { ...env, GNUPGHOME: otherHome } }).stdout);
    try {
      await assert.rejects(plan([web("1.0.0", { keyring: "keyring.gpg" })]), /helm pull failed/);
    } finally {
      writeFileSync(pubring, saved);
    }
  });

  it("stops on an image the chart renders that the site neither lists nor excludes, and goes on once it is excluded", async () => {
    await assert.rejects(plan([web("1.1.0", { images: [`${upstreamHost}/test/web:1.0.0`, `${upstreamHost}/test/base:0.1.0`] })]), (e: Error) =>
      e.message.includes(`chart web 1.1.0 renders ${upstreamHost}/test/sidecar:2.0`) && !e.message.includes("test/web:"));
    const ok = await plan([web("1.1.0", { images: [`${upstreamHost}/test/web:1.0.0`, `${upstreamHost}/test/base:0.1.0`], exclude: [`${upstreamHost}/test/sidecar:2.0`] })]);
    rmSync(ok!.scratch, { recursive: true, force: true });
    assert.deepEqual(renderedImages("kind: Pod\nspec:\n  containers:\n    - image: busybox\n  initContainers:\n    - image: a.io/b:1\n---\n"), ["a.io/b:1", "busybox"]);
  });

  describe("served inside: the role's tool, nginx with the role's template, the site registry", () => {
    let bundleDir: string;
    let root: string;
    let siteCa: Ca;
    let nginxPort: number;
    let url: string;
    let helmEnv: NodeJS.ProcessEnv;

    /** An empty folder under the test's (helm pull writes into an existing one). */
    const fresh = (name: string) => {
      const d = path.join(work, name);
      mkdirSync(d, { recursive: true });
      return d;
    };

    /** A signed bundle of a plan's chart files, and the tool's check/accept/place, as roles/helm_repo/tasks/bundle.yml does. */
    async function deliver(p: PlannedCharts, charts: { name: string; version: string; path: string }[]): Promise<void> {
      rmSync(bundleDir, { recursive: true, force: true });
      await makeBundle(bundleDir, p.artifacts.map((a) => ({ kind: "file" as const, path: a.path, content: readFileSync(new URL(a.fetchUrl)), name: a.name, version: a.version })), key, { site: "charts" });
      const trust = ["--trusted-key", pem, "--site", "charts"];
      const check = JSON.parse(must("python3", [TOOL, "check", bundleDir, "--charts", JSON.stringify(charts), ...trust]));
      mkdirSync(path.join(root, "incoming"), { recursive: true });
      for (const f of ["manifest.json", "manifest.json.sig"]) writeFileSync(path.join(root, "incoming", f), readFileSync(path.join(bundleDir, f)));
      must("python3", [TOOL, "accept", path.join(root, "incoming/manifest.json"), path.join(root, "incoming/manifest.json.sig"), path.join(root, "manifest.json"), ...trust]);
      for (const f of check.files) writeFileSync(path.join(root, f.path), readFileSync(path.join(bundleDir, "blobs/sha256", f.sha256)));
      rmSync(p.scratch, { recursive: true, force: true });
    }

    before(async () => {
      bundleDir = path.join(work, "bundle");
      root = tempDir("airgap-charts-root-");
      mkdirSync(path.join(root, "charts"), { recursive: true });
      siteCa = makeCa(path.join(work, "site-ca"), "site CA");
      const p = await plan([web("1.0.0", { keyring: "keyring.gpg" }), baseChart()]);
      await deliver(p!, [
        { name: "web", version: "1.0.0", path: "charts/web-1.0.0.tgz" },
        { name: "base", version: "0.1.0", path: "charts/base-0.1.0.tgz" },
      ]);
      nginxPort = await freePort();
      url = `https://127.0.0.1:${nginxPort}/`;
      assert.equal(JSON.parse(must("python3", [TOOL, "index", path.join(root, "charts"), url])).changed, true);
      // The role's nginx file, rendered by Ansible with the role's defaults.
      const cert = issue(siteCa, `charts-${nginxPort}`, ["charts.charts.test"]);
      const conf = path.join(work, "nginx-charts");
      mkdirSync(conf, { recursive: true });
      const playbook = path.join(conf, "render.yml");
      writeFileSync(playbook, JSON.stringify([{
        hosts: "localhost", gather_facts: false,
        vars_files: [path.join(ROOT, "roles/helm_repo/defaults/main.yml"), path.join(ROOT, "roles/nginx/defaults/main.yml"), path.join(ROOT, "roles/nginx/vars/main.yml")],
        tasks: [
          { name: "tls", "ansible.builtin.template": { src: path.join(ROOT, "roles/nginx/templates/tls.conf.j2"), dest: path.join(conf, "tls.conf"), mode: "0644" } },
          { name: "nginx", "ansible.builtin.template": { src: path.join(ROOT, "roles/helm_repo/templates/airgap-charts.conf.j2"), dest: path.join(conf, "charts.conf"), mode: "0644" } },
        ],
      }]));
      writeFileSync(path.join(conf, "vars.json"), JSON.stringify({
        airgap_nginx_tls_profile: path.join(conf, "tls.conf"), airgap_nginx_log_dir: conf,
        airgap_helm_repo_address: "127.0.0.1", airgap_helm_repo_port: nginxPort, airgap_helm_repo_names: ["charts.charts.test"],
        airgap_helm_repo_allow: [], airgap_helm_repo_root: root, airgap_helm_repo_certificate: cert.crt, airgap_helm_repo_certificate_key: cert.key,
      }));
      must("ansible-playbook", ["-i", "localhost,", "-c", "local", playbook, "-e", `@${path.join(conf, "vars.json")}`], { env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0" } });
      procs.push(await startNginx(path.join(conf, "run"), path.join(conf, "charts.conf"), nginxPort));
      siteRegistry = await startSiteRegistry(path.join(work, "site-registry"), siteCa);
      helmEnv = { ...env, HELM_CONFIG_HOME: path.join(work, "client/config"), HELM_CACHE_HOME: path.join(work, "client/cache"), HELM_DATA_HOME: path.join(work, "client/data"), HELM_REGISTRY_CONFIG: path.join(work, "client/registry.json") };
    });

    it("helm repo add needs the site CA; then search, pull (the bundled bytes) and template (only the site's images)", () => {
      const bare = sh(helm, ["repo", "add", "nosite", url], { env: helmEnv });
      assert.notEqual(bare.code, 0);
      assert.match(bare.stderr, /certificate/);
      must(helm, ["repo", "add", "site", url, "--ca-file", siteCa.crt], { env: helmEnv });
      const search = must(helm, ["search", "repo", "site/", "--versions"], { env: helmEnv });
      assert.match(search, /site\/web\s+1\.0\.0/);
      assert.match(search, /site\/base\s+0\.1\.0/);
      const dest = path.join(work, "pulled-classic");
      mkdirSync(dest, { recursive: true });
      must(helm, ["pull", "site/web", "--version", "1.0.0", "--destination", dest], { env: helmEnv });
      assert.equal(sha256(readFileSync(path.join(dest, "web-1.0.0.tgz"))), sha256(readFileSync(path.join(repoDir, "web-1.0.0.tgz"))));
      // The index names the charts at the site's URL, with their digests.
      const index = parse(readFileSync(path.join(root, "charts/index.yaml"), "utf8"));
      assert.deepEqual(index.entries.web[0].urls, [`${url}web-1.0.0.tgz`]);
      assert.equal(index.entries.web[0].digest, sha256(readFileSync(path.join(repoDir, "web-1.0.0.tgz"))));
      // helm template with the images' registry rewritten to the site's: every image is one the site registry would serve.
      const out = must(helm, ["template", "w", path.join(dest, "web-1.0.0.tgz"), "--skip-tests", "--set", `image.repository=${siteRegistry!.host}/test/web`, "--set", `base.image.repository=${siteRegistry!.host}/test/base`], { env: helmEnv });
      assert.deepEqual(renderedImages(out), [`${siteRegistry!.host}/test/base:0.1.0`, `${siteRegistry!.host}/test/web:1.0.0`]);
      // A write is refused (the repository is read-only).
      const put = sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", siteCa.crt, "-X", "PUT", "--data-binary", "x", `${url}web-9.9.9.tgz`]);
      assert.equal(put.stdout, "403");
    });

    it("pushes the charts into the site registry with the push account (once: a second push changes nothing); pull account pulls, anonymous and pull-account pushes are refused", () => {
      const reg = siteRegistry!;
      const push = (account: { user: string; password: string }) =>
        sh("python3", [TOOL, "push", path.join(root, "charts"), reg.host, siteCa.crt, "--namespace", "charts"], { input: JSON.stringify(account) });
      const first = push(reg.push);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(JSON.parse(first.stdout), { changed: true, pushed: ["charts/base:0.1.0", "charts/web:1.0.0"], present: 0 });
      assert.deepEqual(JSON.parse(must("python3", [TOOL, "push", path.join(root, "charts"), reg.host, siteCa.crt], { input: JSON.stringify(reg.push) })), { changed: false, pushed: [], present: 2 });
      // Anonymous: refused.
      const anon = sh(helm, ["pull", `oci://${reg.host}/charts/web`, "--version", "1.0.0", "--ca-file", siteCa.crt, "--destination", fresh("anon")], { env: helmEnv });
      assert.notEqual(anon.code, 0);
      assert.match(anon.stderr, /401|unauthorized|basic credential not found/i, anon.stderr);
      must(helm, ["registry", "login", reg.host, "--username", reg.pull.user, "--password-stdin", "--ca-file", siteCa.crt], { env: helmEnv, input: reg.pull.password });
      const dest = path.join(work, "pulled-oci");
      mkdirSync(dest, { recursive: true });
      must(helm, ["pull", `oci://${reg.host}/charts/web`, "--version", "1.0.0", "--ca-file", siteCa.crt, "--destination", dest], { env: helmEnv });
      assert.equal(sha256(readFileSync(path.join(dest, "web-1.0.0.tgz"))), sha256(readFileSync(path.join(repoDir, "web-1.0.0.tgz"))));
      // The pull account cannot push.
      const denied = sh(helm, ["push", path.join(dest, "web-1.0.0.tgz"), `oci://${reg.host}/charts/denied`, "--ca-file", siteCa.crt], { env: helmEnv });
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /403|forbidden|denied/i, denied.stderr);
      // Without the CA, even with the account: refused.
      const noCa = sh(helm, ["pull", `oci://${reg.host}/charts/web`, "--version", "1.0.0", "--destination", fresh("noca")], { env: helmEnv });
      assert.notEqual(noCa.code, 0);
      assert.match(noCa.stderr, /certificate/);
    });

    it("a new bundle with a version bump serves both versions; the index is not rewritten when nothing changed", async () => {
      assert.equal(JSON.parse(must("python3", [TOOL, "index", path.join(root, "charts"), url])).changed, false);
      const p = await plan([web("1.1.0"), baseChart()]);
      await deliver(p!, [
        { name: "web", version: "1.1.0", path: "charts/web-1.1.0.tgz" },
        { name: "base", version: "0.1.0", path: "charts/base-0.1.0.tgz" },
      ]);
      assert.deepEqual(JSON.parse(must("python3", [TOOL, "index", path.join(root, "charts"), url])), { changed: true, charts: 3 });
      must(helm, ["repo", "update", "site"], { env: helmEnv });
      const search = must(helm, ["search", "repo", "site/web", "--versions"], { env: helmEnv });
      assert.match(search, /site\/web\s+1\.1\.0/);
      assert.match(search, /site\/web\s+1\.0\.0/);
      const pushed = JSON.parse(must("python3", [TOOL, "push", path.join(root, "charts"), siteRegistry!.host, siteCa.crt], { input: JSON.stringify(siteRegistry!.push) }));
      assert.deepEqual(pushed.pushed, ["charts/web:1.1.0"]);
      assert.ok(readdirSync(path.join(root, "charts")).includes("web-1.0.0.tgz"));
    });
  });
});
