/**
 * @lab end to end: the compiled playbooks against the lab, proven with real
 * clients on its hosts. In order: the first run (fixture), the lab has no
 * way out, the site's package repository and files_repo, the CA, a tampered
 * bundle refused (an altered blob, another key, an unsigned folder at the
 * registry and the index), then a second full run that changes nothing, a
 * run without the bundle that keeps serving, and a new bundle served by
 * switching releases; the previous one again is refused as a rollback, and
 * taken back on purpose with airgap_allow_rollback.
 *
 * Another service's checks go in a file of their own (e.g. test/e2e/dns.test.ts):
 *
 *   import { labBefore, type LabRunResult } from "./fixture.js";
 *   describe("@lab dns", () => {
 *     let site: LabRunResult;
 *     before(async function () { site = await labBefore(this); await site.lab.install("node1", "bind9-dnsutils"); });
 *     it("node1 resolves repo.lab.airgap.internal", async () => { await site.lab.sh("node1", "dig +short repo.lab.airgap.internal"); });
 *
 * The site's `repos.packages` (examples/lab.ts) are carried in the bundle,
 * not installed: a check installs the client it needs (`lab.install`).
 *   });
 *
 * labBefore() skips when mocha was given only other test files (see
 * AIRGAP_E2E in fixture.ts), and sets everything up once per mocha process,
 * whichever file asks first; the lab goes down after the last test of the
 * process.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI } from "../helpers.js";
import { formatRecap, KEYS, labBefore, phase, run, signBundle, STORE, taskStatus, WORK, type LabRunResult, type PlaybookRun } from "./fixture.js";

const DOMAIN = "lab.airgap.internal";
const REPO = `https://repo.${DOMAIN}`;
const NODES = ["node1", "node2"];
const SITE_HOSTS = ["admin", "gw", ...NODES];
/** In Debian, not in the lab's bundle. */
const NOT_BUNDLED = "sl";

describe("@lab site: the compiled playbooks against the lab", function () {
  let site: LabRunResult;

  before(async function () {
    site = await labBefore(this);
  });

  describe("first run", () => {
    it("succeeds on every host", () => {
      assert.deepEqual([...site.first.recap.keys()].sort(), SITE_HOSTS, formatRecap(site.first.recap));
      for (const [host, r] of site.first.recap) {
        assert.equal(r.failed + r.unreachable, 0, `${host}: ${formatRecap(site.first.recap)}`);
      }
    });
  });

  describe("the lab has no way out", () => {
    for (const host of [...SITE_HOSTS, "outsider"]) {
      it(`${host}: no default route, only lab subnets`, async () => {
        const routes = await site.lab.sh(host, "ip -4 route show");
        assert.doesNotMatch(routes, /^default/m, routes);
        for (const line of routes.trim().split("\n")) assert.match(line, /^10\.21[345]\.0\.0\/24 /, routes);
      });
    }
  });

  describe("package repository (repos)", () => {
    it("nodes have the site repository as their only package source, the originals kept aside", async () => {
      for (const node of NODES) {
        const sources = await site.lab.sh(node, "grep -rhv '^#' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -v '^$' || true");
        assert.match(sources, new RegExp(`^URIs: ${REPO}/debian$`, "m"), sources);
        assert.doesNotMatch(sources, /deb\.debian\.org|trusted=yes/i, sources);
        assert.match(sources, /^Signed-By: \/etc\/apt\/keyrings\/airgap-archive-keyring\.asc$/m);
        const kept = await site.lab.sh(node, "cat /etc/apt/airgap-original-sources/sources.list");
        assert.match(kept, /^deb http/m, "the original sources.list is kept aside");
      }
    });

    it("apt-get update succeeds against the admin only, with a signed index", async () => {
      for (const node of NODES) {
        const r = await site.lab.ssh(node, "apt-get update");
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const fetched = r.stdout.split("\n").filter((l) => /^(Get|Hit|Ign|Err):/.test(l));
        assert.ok(fetched.length > 0, r.stdout);
        for (const l of fetched) assert.match(l, new RegExp(`^(Get|Hit):\\d+ ${REPO}/debian bookworm`), l);
        assert.doesNotMatch(r.stdout + r.stderr, /^(W|E):/m, r.stdout + r.stderr);
      }
    });

    it("apt-get install of a bundled package succeeds, from the site repository", async () => {
      const r = await site.lab.ssh("node1", "DEBIAN_FRONTEND=noninteractive apt-get install -y curl");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const policy = await site.lab.sh("node1", "apt-cache policy curl");
      assert.match(policy, new RegExp(`${REPO}/debian bookworm/main amd64 Packages`), policy);
      await site.lab.sh("node1", "curl --version");
    });

    it(`apt-get install of a package not in the bundle (${NOT_BUNDLED}) fails with apt's own error`, async () => {
      assert.ok(!site.manifest.artifacts.some((a) => a.name === NOT_BUNDLED), `${NOT_BUNDLED} must not be in the bundle`);
      const r = await site.lab.ssh("node2", `DEBIAN_FRONTEND=noninteractive apt-get install -y ${NOT_BUNDLED}`);
      assert.equal(r.code, 100, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`^E: Unable to locate package ${NOT_BUNDLED}$`, "m"), r.stderr);
    });

    it("a bundled file comes from files_repo over verified TLS, its sha256 the manifest's", async () => {
      const file = site.manifest.artifacts.find((a) => a.kind === "file");
      assert.ok(file, "the lab's bundle carries a plain file");
      // The URL Kubespray's files_repo points at; curl verifies against the system trust store.
      const kubespray = readFileSync(path.join(WORK, "project/inventory/group_vars/all/kubespray-offline.yml"), "utf8");
      assert.match(kubespray, new RegExp(`^files_repo: "?${REPO}/files"?$`, "m"), kubespray);
      const out = await site.lab.sh("node1", `curl -fsS ${REPO}/${file.path} | sha256sum`);
      assert.equal(out.split(" ")[0], file.sha256);
    });

    it("serves the site's networks only: a host outside them gets 403", async () => {
      // outsider (10.214.0.20) trusts no site CA and has no site DNS: by address, unverified.
      assert.equal(await site.lab.httpsStatus("outsider", `https://${site.lab.address("admin")}/airgap-archive-keyring.gpg`), 403);
      const inside = await site.lab.sh("node2", `python3 -c 'import urllib.request; print(urllib.request.urlopen("${REPO}/airgap-archive-keyring.gpg").status)'`);
      assert.equal(inside.trim(), "200");
    });

    it("keeps keys off the web and private", async () => {
      const modes = await site.lab.sh("admin", "stat -c '%a %U %n' /var/lib/airgap/repo-gnupg /etc/airgap/ca/private /etc/airgap/ca/private/ca.key /etc/airgap/pki/private/repo.key");
      assert.deepEqual(modes.trim().split("\n").map((l) => l.split(" ").slice(0, 2).join(" ")), ["700 root", "700 root", "600 root", "600 root"], modes);
      const hidden = await site.lab.sh("node1", `curl -s -o /dev/null -w '%{http_code}' ${REPO}/.airgap-release.json`);
      assert.equal(hidden, "404");
      const served = await site.lab.sh("admin", "find -L /srv/airgap/www -type f ! -name '*.deb' -printf '%P\\n' | sort");
      assert.doesNotMatch(served, /private|gnupg|\.key$|secring|pubring\.kbx/, served);
    });
  });

  describe("site CA", () => {
    it("every site host trusts it: TLS to the repository verifies with the system store", async () => {
      for (const host of SITE_HOSTS) {
        await site.lab.sh(host, `test -s /usr/local/share/ca-certificates/airgap-lab.crt && grep -q "$(sed -n 2p /usr/local/share/ca-certificates/airgap-lab.crt)" /etc/ssl/certs/ca-certificates.crt`);
      }
      const cert = await site.lab.sh("node1", `curl -sS -o /dev/null -w '%{ssl_verify_result} %{http_code}' ${REPO}/`);
      assert.equal(cert, "0 200");
    });

    it("the repository's certificate names the service and the host, by name and address", async () => {
      const text = await site.lab.sh("admin", "openssl x509 -noout -ext subjectAltName -in /etc/airgap/pki/repo.crt");
      for (const san of [`DNS:repo.${DOMAIN}`, `DNS:admin.${DOMAIN}`, `IP Address:${site.lab.address("admin")}`]) assert.ok(text.includes(san), `${san} in ${text}`);
    });
  });

  describe("a tampered bundle", () => {
    let refused: PlaybookRun;
    let before: string;
    let beforeServed = (): string => before;
    const tampered = path.join(WORK, "tampered");
    const state = "readlink /srv/airgap/www; find -L /srv/airgap/www -type f -printf '%P %s %T@\\n' | sort | sha256sum; ls /srv/airgap/releases /srv/airgap/store/manifests";

    it("is refused by the admin playbook, naming the file, nothing served changed", async function () {
      this.timeout(5 * 60_000);
      const deb = site.manifest.artifacts.find((a) => a.kind === "deb" && a.name === "curl")!;
      // A copy of the imported store (hard links), with one byte changed in one .deb blob.
      const started = Date.now();
      for (const [cmd, args] of [
        ["rm", ["-rf", tampered]],
        ["cp", ["-al", STORE, tampered]],
        ["cp", ["--remove-destination", path.join(STORE, "blobs/sha256", deb.sha256), path.join(tampered, "blobs/sha256", deb.sha256)]],
      ] as const) {
        const r = await run(cmd, [...args]);
        assert.equal(r.code, 0, r.stderr);
      }
      const blob = path.join(tampered, "blobs/sha256", deb.sha256);
      const flip = await run("python3", ["-c", `import sys; f=open(sys.argv[1],'r+b'); f.seek(1000); b=f.read(1); f.seek(1000); f.write(bytes([b[0]^1]))`, blob]);
      assert.equal(flip.code, 0, flip.stderr);
      assert.notEqual(createHash("sha256").update(readFileSync(blob)).digest("hex"), deb.sha256);
      before = await site.lab.sh("admin", state);
      beforeServed = () => before;
      refused = await site.lab.playbook("run-tampered", "playbooks/admin.yml", ["-e", `airgap_repo_server_bundle=${tampered}`]);
      phase("tampered bundle run (admin.yml)", Date.now() - started);
      console.log(`      e2e recap, tampered bundle: ${formatRecap(refused.recap)}`);
      assert.notEqual(refused.code, 0, "the playbook must fail");
      assert.match(refused.stdout, new RegExp(`is refused.*${deb.path.replace(/[.+]/g, "\\$&")}: its blob blobs/sha256/${deb.sha256} has sha256 [0-9a-f]{64}, the manifest says ${deb.sha256}`));
      assert.equal(refused.recap.get("admin")?.changed, 0, formatRecap(refused.recap));
      assert.equal(await site.lab.sh("admin", state), before, "what the admin serves is unchanged");
    });

    it("signed by another key: refused by the signature check, nothing served changed", async function () {
      this.timeout(5 * 60_000);
      const started = Date.now();
      const other = path.join(WORK, "other-keys");
      const copy = path.join(WORK, "tampered-signature");
      for (const [cmd, args] of [["rm", ["-rf", other, copy]], ["cp", ["-al", STORE, copy]]] as const) {
        const r = await run(cmd, [...args]);
        assert.equal(r.code, 0, r.stderr);
      }
      const keygen = await run(process.execPath, [CLI, "keygen", other]);
      assert.equal(keygen.code, 0, keygen.stderr);
      await signBundle(copy, path.join(other, "airgap-bundle.key"));
      const r = await site.lab.playbook("run-other-key", "playbooks/admin.yml", ["-e", `airgap_repo_server_bundle=${copy}`]);
      phase("bundle signed by another key (admin.yml)", Date.now() - started);
      assert.notEqual(r.code, 0, "the playbook must fail");
      assert.match(r.stdout, /is refused.*the manifest's signature does not verify against the site's trusted key/);
      assert.equal(r.recap.get("admin")?.changed, 0, formatRecap(r.recap));
      assert.equal(await site.lab.sh("admin", state), before, "what the admin serves is unchanged");
    });

    it("the admin host checks the signature itself: an altered manifest is refused there", async () => {
      const pem = readFileSync(path.join(KEYS, "airgap-bundle.pub"), "utf8");
      const verify = (manifest: string) =>
        site.lab.ssh("admin", `k=$(cat); cd /srv/airgap/store/incoming && python3 /usr/local/lib/airgap/airgap_bundle.py verify-signature ${manifest} manifest.json.sig --trusted-key "$k"`, pem);
      const good = await verify("manifest.json");
      assert.equal(good.code, 0, good.stdout + good.stderr);
      // An altered copy on the admin itself (a temporary file there, removed after).
      const altered = (await site.lab.sh("admin", `f=$(mktemp) && sed 's/"site": "lab"/"site": "lbb"/' /srv/airgap/store/incoming/manifest.json > "$f" && echo "$f"`)).trim();
      const bad = await verify(altered);
      await site.lab.sh("admin", `rm -f ${altered}`);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stderr, /signature does not verify against the site's trusted key/);
    });

    it("an unsigned bundle folder given as airgap_bundle is refused by the registry and by the Python index themselves, nothing changed", async function () {
      this.timeout(10 * 60_000);
      const started = Date.now();
      const unsigned = path.join(WORK, "unsigned");
      for (const [cmd, args] of [["rm", ["-rf", unsigned]], ["cp", ["-al", STORE, unsigned]], ["rm", ["-f", path.join(unsigned, "manifest.json.sig")]]] as const) {
        const r = await run(cmd, [...args]);
        assert.equal(r.code, 0, r.stderr);
      }
      // What the registry and the index hold: their current manifests, the tags' digests (distribution's own files), the index pages and packages.
      const held = "sha256sum /var/lib/airgap/registry/manifest.json* /srv/airgap-pypi/manifest.json* 2>&1; " +
        "find /var/lib/docker-registry /srv/airgap-pypi -type f -printf '%P %s\n' | sort | sha256sum";
      const before = await site.lab.sh("admin", held);
      // The repository server is told to keep what it serves (its own bundle empty): only the registry and the index take UNSIGNED.
      const registry = await site.lab.playbook("unsigned-registry", "playbooks/admin.yml", ["-e", `airgap_bundle=${unsigned}`, "-e", "airgap_repo_server_bundle="], null);
      console.log(`      e2e recap, unsigned bundle at the registry: ${formatRecap(registry.recap)}`);
      assert.notEqual(registry.code, 0, "the playbook must fail");
      assert.match(registry.stdout, /is refused for the registry; nothing was pushed\..*the bundle is unsigned/);
      assert.equal(registry.recap.get("admin")?.changed, 0, formatRecap(registry.recap));
      // The registry told to keep its own: the index takes UNSIGNED.
      const pypi = await site.lab.playbook("unsigned-pypi", "playbooks/admin.yml",
        ["-e", `airgap_bundle=${unsigned}`, "-e", "airgap_repo_server_bundle=", "-e", "airgap_registry_bundle="], null);
      console.log(`      e2e recap, unsigned bundle at the index: ${formatRecap(pypi.recap)}`);
      assert.notEqual(pypi.code, 0, "the playbook must fail");
      assert.match(pypi.stdout, /is refused for the Python index; nothing changed\..*the bundle is unsigned/);
      assert.equal(pypi.recap.get("admin")?.changed, 0, formatRecap(pypi.recap));
      assert.equal(await site.lab.sh("admin", held), before, "the registry and the index hold what they held");
      assert.equal(await site.lab.sh("admin", state), beforeServed(), "what the repository serves is unchanged");
      phase("unsigned bundle at the registry and the index (admin.yml twice)", Date.now() - started);
    });

    it("nodes still install from the repository as before", async () => {
      const r = await site.lab.ssh("node2", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall curl");
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });
  });

  describe("second run", () => {
    let second: PlaybookRun;

    it("succeeds and changes nothing on any host (changed=0)", async function () {
      this.timeout(10 * 60_000);
      second = await site.lab.playbook("run-2", "site.yml");
      phase("second run (site.yml)", second.ms);
      console.log(`      e2e recap, second run: ${formatRecap(second.recap)}`);
      assert.equal(second.code, 0, `log: ${second.log}\n${second.stdout.split("\n").slice(-40).join("\n")}`);
      assert.deepEqual([...second.recap.keys()].sort(), SITE_HOSTS);
      const changed = second.stdout.split("\n").filter((l) => /^changed: /.test(l) || /^TASK \[/.test(l));
      const culprits = changed.filter((l, i) => /^TASK/.test(l) && /^changed/.test(changed[i + 1] ?? ""));
      for (const [host, r] of second.recap) assert.equal(r.changed, 0, `${host} changed=${r.changed}: ${culprits.join(" | ")}`);
    });

    it("without the bundle, the admin keeps serving what it has (changed=0)", async function () {
      this.timeout(5 * 60_000);
      const bare = await site.lab.playbook("run-no-bundle", "playbooks/admin.yml", [], null);
      phase("run without the bundle (admin.yml)", bare.ms);
      console.log(`      e2e recap, without the bundle: ${formatRecap(bare.recap)}`);
      assert.equal(bare.code, 0, `log: ${bare.log}\n${bare.stdout.split("\n").slice(-30).join("\n")}`);
      assert.equal(bare.recap.get("admin")?.changed, 0, formatRecap(bare.recap));
      const out = await site.lab.sh("node1", `curl -fsS ${REPO}/debian/dists/bookworm/InRelease | head -1`);
      assert.match(out, /BEGIN PGP SIGNED MESSAGE/);
    });
  });

  describe("a new bundle", () => {
    const next = path.join(WORK, "bundle-next");
    const extra = { path: "files/files.example.org/airgap/lab/next.txt", content: "a file only the next bundle carries\n" };
    const sha = createHash("sha256").update(extra.content).digest("hex");
    let first: string;

    it("is served by switching to a new release; the nodes' package lists follow", async function () {
      this.timeout(6 * 60_000);
      const started = Date.now();
      // The same bundle plus one file: another manifest (signed with the site's key), so another release.
      for (const [cmd, args] of [["rm", ["-rf", next]], ["cp", ["-al", STORE, next]]] as const) {
        const r = await run(cmd, [...args]);
        assert.equal(r.code, 0, r.stderr);
      }
      writeFileSync(path.join(next, "blobs/sha256", sha), extra.content);
      const manifest = JSON.parse(readFileSync(path.join(STORE, "manifest.json"), "utf8")) as { sequence: number; created: string; artifacts: object[] };
      // The next bundle of the site: one more in its sequence.
      manifest.sequence += 1;
      manifest.created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      manifest.artifacts.push({ kind: "file", name: "next.txt", source: "https://files.example.org/airgap/lab/next.txt", path: extra.path, size: extra.content.length, sha256: sha });
      rmSync(path.join(next, "manifest.json"));
      writeFileSync(path.join(next, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
      await signBundle(next);
      first = (await site.lab.sh("admin", "readlink /srv/airgap/www")).trim();
      const admin = await site.lab.playbook("run-next", "playbooks/admin.yml", [], next);
      console.log(`      e2e recap, new bundle: ${formatRecap(admin.recap)}`);
      assert.equal(admin.code, 0, `log: ${admin.log}`);
      const now = (await site.lab.sh("admin", "readlink /srv/airgap/www")).trim();
      assert.notEqual(now, first, "www points at a new release");
      await site.lab.sh("admin", `test -f /srv/airgap/${first}/.airgap-release.json`);
      const nodes = await site.lab.playbook("run-next-nodes", "playbooks/nodes.yml", ["--limit", "node1"], null);
      assert.equal(nodes.code, 0, `log: ${nodes.log}`);
      assert.equal(taskStatus(nodes.stdout, "repo_client : Refresh the package lists", "node1"), "changed", "node1 refreshes its lists");
      const got = await site.lab.sh("node1", `curl -fsS ${REPO}/${extra.path} | sha256sum`);
      assert.equal(got.split(" ")[0], sha);
      const r = await site.lab.ssh("node1", "apt-get update");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      phase("new bundle (admin.yml, nodes.yml on node1)", Date.now() - started);
    });

    it("the previous bundle again is refused as a rollback by every consumer, nothing served changed", async function () {
      this.timeout(5 * 60_000);
      const now = (await site.lab.sh("admin", "readlink /srv/airgap/www")).trim();
      const r = await site.lab.playbook("run-rollback", "playbooks/admin.yml");
      phase("previous bundle again, refused (admin.yml)", r.ms);
      assert.notEqual(r.code, 0, "the playbook must fail");
      assert.match(r.stdout, /manifest is refused on admin; nothing served changed\..*is older than the current \d+ .*airgap_allow_rollback=true/);
      // The one change: the received manifest in the host's incoming folder (where accept reads it); nothing the host serves or stores.
      const changed: string[] = [];
      let task = "";
      for (const line of r.stdout.split("\n")) {
        const t = /^TASK \[(.*)\]/.exec(line);
        if (t) task = t[1];
        else if (line.startsWith("changed: [admin]") && !changed.includes(task)) changed.push(task);
      }
      assert.deepEqual(changed, ["repo_server : Receive the bundle's manifest and signature"], formatRecap(r.recap));
      assert.equal((await site.lab.sh("admin", "readlink /srv/airgap/www")).trim(), now);
      // The registry and the index, given it on their own, refuse it too.
      const registry = await site.lab.playbook("run-rollback-registry", "playbooks/admin.yml", ["-e", `airgap_bundle=${STORE}`, "-e", "airgap_repo_server_bundle="], null);
      assert.notEqual(registry.code, 0);
      assert.match(registry.stdout, /refused for the registry on admin; nothing was pushed\..*is older than the current/);
      const pypi = await site.lab.playbook("run-rollback-pypi", "playbooks/admin.yml",
        ["-e", `airgap_bundle=${STORE}`, "-e", "airgap_repo_server_bundle=", "-e", "airgap_registry_bundle="], null);
      assert.notEqual(pypi.code, 0);
      assert.match(pypi.stdout, /refused for the Python index on admin; nothing changed\..*is older than the current/);
    });

    it("the previous bundle again with airgap_allow_rollback=true: back to the kept release, not rebuilt, and logged", async function () {
      this.timeout(5 * 60_000);
      const back = await site.lab.playbook("run-back", "playbooks/admin.yml", ["-e", "airgap_allow_rollback=true"]);
      phase("previous bundle again, on purpose (admin.yml)", back.ms);
      assert.equal(back.code, 0, `log: ${back.log}`);
      assert.equal((await site.lab.sh("admin", "readlink /srv/airgap/www")).trim(), first);
      assert.equal(taskStatus(back.stdout, "repo_server : Build and sign the release of this bundle", "admin"), "ok", "the kept release is reused");
      assert.equal(taskStatus(back.stdout, "repo_server : Serve this release (atomic switch)", "admin"), "changed");
      const journal = await site.lab.sh("admin", "journalctl -q -o cat -t airgap-bundle");
      assert.match(journal, /rollback accepted on purpose \(airgap_allow_rollback\): site lab, sequence \d+ .* is older than the current/);
    });
  });
});
