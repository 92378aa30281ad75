/**
 * @lab Kubespray's OWN `cluster.yml`, from a release checkout, against the
 * compiled inventory of the lab site, with no route out from the nodes.
 *
 * Gated: runs only when `KUBESPRAY_DIR` names a Kubespray checkout of a
 * release airgap ships a catalogue for AND this file is given to mocha by
 * name (Kubespray changes the nodes for good: packages, sysctls, containerd;
 * the other lab tests must not run after it in the same lab). Otherwise the
 * suite is skipped, saying why. See docs/kubespray.md, "Kubespray's own
 * playbook in the lab", for the checkout and the Go builds.
 *
 *   KUBESPRAY_DIR=/path/to/kubespray-2.30.0 [KUBESPRAY_ENGINE_DIR=/path/to/engine-2.30.0] \
 *     [NERDCTL_GIT=<git dir>] [CRITOOLS_GIT=<git dir>] \
 *     npx mocha --no-config --timeout 60000 dist/test/e2e/kubespray-cluster.test.js
 *
 * KUBESPRAY_ENGINE_DIR: the engine's stand-ins, built before by
 * test/e2e/kubespray/build-engine.sh (default `$AIRGAP_E2E_DIR/engine-<release>`,
 * built when missing); NERDCTL_GIT, CRITOOLS_GIT: git directories that build
 * needs (nerdctl's mod/tigron; cri-tools 1.35.0, which the module proxy does not serve).
 *
 * What runs: the fixture (test/e2e/fixture.ts) brings the lab up, bundles,
 * imports and runs the compiled site.yml as for every lab test (airgap's
 * kubespray_node role installs Kubespray's node packages from the site
 * repository there, ping among them). Then, for the checkout's release:
 * - the lab site is compiled once more with `kubespray: { version: <the
 *   release>, kubernetes: <its catalogue's default> }` and the shipped
 *   catalogue: the project Kubespray runs against (a release whose containerd
 *   templates drop the pull account, 2.28.1, is refused by the compiler,
 *   AG121: the test asserts that on the lab site, without the lab, and stops);
 * - on the bastion side (this machine, online), `airgap bundle` of the lab
 *   site with a catalogue cut to the engine's files (below) pinned by their
 *   stand-ins' SHA-256, `--kubespray KUBESPRAY_DIR` (the release's source,
 *   `git archive` of its commit), and the site's index sourced from PyPI
 *   (the release's controller requirements: ansible, ansible-core, …; the
 *   lab's own test wheels left out); the admin gets it through that site's
 *   compiled site.yml;
 * - the controller inside is a network namespace on the site's bridge with a
 *   route to the nodes through the gateway host and the site's DNS, and no
 *   other route: there it runs the compiled runbook's own commands (fetch the
 *   release from files_repo, check it against the manifest, unpack it, venv
 *   and `pip install -r requirements.txt` from the site's index), then the
 *   release's `cluster.yml` from the unpacked folder against the project's
 *   inventory.
 *
 * What is NOT upstream, and only for this test run:
 * - containerd, runc, nerdctl and crictl are stand-ins built here from their
 *   Go modules at the versions the release pins (test/e2e/kubespray/
 *   build-engine.sh): real programs, but not upstream's bytes, so their
 *   checksums differ from the release's. The bundle carries them under
 *   their upstream paths (the cut catalogue pins their own SHA-256) and the
 *   run passes the same checksums as extra vars (`containerd_archive_checksum`,
 *   `runc_binary_checksum`, `nerdctl_archive_checksum`,
 *   `crictl_binary_checksum`); nothing else gets them.
 * - etcd and the CNI plugins (first in the download role's loop) get
 *   placeholders: tarballs holding one text file, carried and passed the
 *   same way (`etcd_binary_checksum`, `cni_binary_checksum`). They are not
 *   even fetched: the run stops earlier.
 * - The lab's own limits, as extra vars: `kubelet_protect_kernel_defaults:
 *   false` and `sysctl_minimum_values: {}` (nspawn hosts may not set
 *   kernel-wide sysctls; the second is 2.31.0's minimum for
 *   fs.inotify.max_user_instances) and `enable_nodelocaldns: false` (no
 *   CAP_SYS_MODULE for `modprobe dummy`).
 *
 * Where it stops: kubeadm (Kubernetes' own binaries cannot be had here).
 * The download role first fetches kubeadm on the first control-plane node
 * (prep_kubeadm_images, to list the images), before its loop. The test
 * asserts that the run failed there, in "Download_file | Download item" on
 * node1, that the kubeadm URL asked was under `files_repo` (the admin's
 * nginx logged it, 404, from node1 only), that
 * every step before passed (version and inventory asserts, facts,
 * bootstrap, preinstall's OS packages from the site repository, DNS and
 * time settings) and that the container engine is in place and running:
 * containerd from files_repo, configured by Kubespray, answering crictl.
 *
 * Then pulls as the kubelet does them: on node1, `crictl pull` (containerd's
 * CRI plugin, with the registry configuration Kubespray wrote from the
 * compiled `containerd_registries_mirrors`) of three images by their
 * upstream names (the release's `registry.k8s.io/pause`, a `quay.io/…` and a
 * `docker.io/…` one of the compiled registry list). The images are small
 * stand-ins built here with umoci and pushed by the push account from the
 * admin (the lab's bundle carries no Kubespray image). The pulls must pass
 * over verified TLS with the pull account, and fail without the account
 * (the header removed from containerd's hosts.toml) and without the site
 * CA (the `ca` removed, and containerd restarted with no system trust store).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { loadCatalogue, serializeCatalogue, type Catalogue } from "../../compile/kubespray/catalogue.js";
import { sourcePath, sourcePrefix } from "../../compile/kubespray/source.js";
import { parseRunbook } from "../../compile/emit/runbook.js";
import { CLI, ROOT } from "../helpers.js";
import { buildImages, type ImageSpec } from "../roles/registry-harness.js";
import { BUNDLE, EXAMPLE_SITE, FILES_MIRROR, formatRecap, KEYS, labBefore, labRequested, phase, run, SITE, taskStatus, WORK, type Lab, type LabRunResult, type PlaybookRun, parseRecap, type Result } from "./fixture.js";
import { startLabUpstream } from "./upstream.js";

const KUBESPRAY_DIR = process.env.KUBESPRAY_DIR;
const BUILD_ENGINE = path.join(ROOT, "test/e2e/kubespray/build-engine.sh");
const ARCH = "amd64";
/** The engine's files (built at the release's versions) and the first two of the download role's loop (placeholders). */
const ENGINE = ["containerd", "runc", "nerdctl", "crictl"];
const PLACEHOLDERS = ["etcd", "cni"];

/**
 * The controller inside: a network namespace on the lab's site bridge
 * (test/lab/hosts.conf: agbr0, 10.213.0.0/24), routed to the nodes through
 * the gateway host, resolving through the site's DNS, with no other route:
 * nothing it does can reach PyPI or GitHub.
 */
const NETNS = "agctl";
const NETNS_VETH = "agvctl0";
const NETNS_BRIDGE = "agbr0";
const NETNS_ADDR = "10.213.0.5";

/** Whether this mocha process was given this file by name. */
function namedOnCommandLine(): boolean {
  return process.argv.slice(2).some((a) => path.basename(a).startsWith("kubespray-cluster.test."));
}

/** Why the suite is skipped, or undefined when it runs. */
function skipReason(): string | undefined {
  if (!labRequested()) return "the lab tests were not asked for";
  if (!KUBESPRAY_DIR) return "KUBESPRAY_DIR is not set (a Kubespray release checkout; docs/kubespray.md)";
  if (!existsSync(path.join(KUBESPRAY_DIR, "cluster.yml"))) return `KUBESPRAY_DIR=${KUBESPRAY_DIR} has no cluster.yml`;
  if (!namedOnCommandLine()) return "Kubespray changes the lab's nodes for good: give this file to mocha by name, alone";
  return undefined;
}

/** The checkout's release, from its galaxy.yml. */
function checkoutRelease(dir: string): string {
  const m = /^version:\s*"?([0-9.]+)"?/m.exec(readFileSync(path.join(dir, "galaxy.yml"), "utf8"));
  if (!m) throw new Error(`${dir}/galaxy.yml names no version`);
  return m[1];
}

/** The one file variant of a download for a Kubernetes version and amd64. */
function fileVariant(c: Catalogue, name: string, kubernetes: string): { version: string; url: string } {
  const d = c.downloads.find((x) => x.name === name);
  const v = d?.file?.variants.filter((x) => x.arch === ARCH && (!x.kubernetes || x.kubernetes.includes(kubernetes)));
  if (!v || v.length !== 1) throw new Error(`Kubespray ${c.kubespray}: ${v?.length ?? 0} variants of ${name} for ${kubernetes}/${ARCH}`);
  return v[0];
}

/** `<host>/<path>` of an upstream URL (where the bundle puts it, under files_repo's `files/`). */
function servedPath(url: string): string {
  const u = new URL(url);
  return `${u.host}${decodeURIComponent(u.pathname)}`;
}

/** The last TASK header before the first "fatal:" line, and that line. */
function stoppedAt(output: string): { task: string; fatal: string } | undefined {
  const lines = output.split("\n");
  const at = lines.findIndex((l) => /^(fatal|failed): \[/.test(l));
  if (at < 0) return undefined;
  const header = lines.slice(0, at).reverse().find((l) => /^TASK \[/.test(l));
  return { task: header ? header.replace(/^TASK \[(.*)\].*$/, "$1") : "?", fatal: lines[at] };
}

/**
 * The shipped catalogue cut to what this run carries: the engine's files and
 * the placeholders, for the Kubernetes version and amd64, each pinned by its
 * stand-in's SHA-256; no image (the pulls below push their own); the release's
 * own commit and controller requirements kept. Kubeadm, kubelet, kubectl and
 * the rest are not in it, so not in the bundle: Kubespray's download of
 * kubeadm from files_repo gets 404.
 */
function engineCatalogue(c: Catalogue, kubernetes: string, sums: Record<string, string>): Catalogue {
  const downloads: Catalogue["downloads"] = [];
  for (const d of c.downloads) {
    if (![...ENGINE, ...PLACEHOLDERS].includes(d.name) || !d.file) continue;
    const v = fileVariant(c, d.name, kubernetes);
    const sum = sums[servedPath(v.url)];
    assert.ok(sum, `a stand-in for ${v.url}`);
    const { image: _image, ...fileOnly } = d;
    const { versions: _versions, ...part } = d.file;
    const variant = part.variants.find((x) => x.url === v.url)!;
    downloads.push({ ...fileOnly, file: { ...part, variants: [{ ...variant, kubernetes: [kubernetes], checksum: `sha256:${sum}` }] } });
  }
  return { ...c, kubernetes: { default: kubernetes, supported: [kubernetes] }, arches: [ARCH], downloads };
}

/** The commands of the compiled runbook's Kubespray steps (source, venv, cluster.yml), read back as the lab's runbook walker reads them. */
function runbookKubesprayCommands(readme: string): string[] {
  const steps = parseRunbook(readme);
  const of = (id: string) => {
    const s = steps.find((x) => x.id === id);
    assert.ok(s, `the runbook has the ${id} step`);
    assert.deepEqual(s.needs, [], `${id} needs nothing from the operator`);
    return s.commands;
  };
  return [...of("kubespray-source"), ...of("kubespray-venv"), ...of("kubespray")];
}

const DOMAIN = "lab.airgap.internal";
const REGISTRY = `registry.${DOMAIN}:5000`;

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a shell command as root in this machine's root namespace; fails unless it exits 0. */
async function local(command: string): Promise<string> {
  const r = await run("sh", ["-c", command]);
  if (r.code !== 0) throw new Error(`\`${command}\` exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Removes the controller's namespace and its link (what controllerUp made, by name). */
async function controllerDown(): Promise<void> {
  await run("sh", ["-c", `ip link del ${NETNS_VETH} 2>/dev/null; ip netns del ${NETNS} 2>/dev/null; rm -rf /etc/netns/${NETNS}; true`]);
}

/** The controller's namespace: on the site bridge, a route to the nodes through the gateway host, the site's DNS. */
async function controllerUp(lab: Lab): Promise<void> {
  await controllerDown();
  await local([
    `ip netns add ${NETNS}`,
    `ip link add ${NETNS_VETH} type veth peer name eth0 netns ${NETNS}`,
    `ip link set ${NETNS_VETH} master ${NETNS_BRIDGE} up`,
    `ip -n ${NETNS} link set lo up`,
    `ip -n ${NETNS} addr add ${NETNS_ADDR}/24 dev eth0`,
    `ip -n ${NETNS} link set eth0 up`,
    `ip -n ${NETNS} route add 10.215.0.0/24 via ${lab.address("gw")}`,
    `mkdir -p /etc/netns/${NETNS}`,
    `printf 'nameserver %s\\n' ${lab.address("admin")} > /etc/netns/${NETNS}/resolv.conf`,
  ].join(" && "));
}

/** Runs a shell command inside the controller's namespace. */
function inController(command: string, o: { cwd: string; env: NodeJS.ProcessEnv; log?: string }): Promise<Result> {
  return run("ip", ["netns", "exec", NETNS, "sh", "-ec", command], o);
}

describe("@lab kubespray cluster.yml: the release's own playbook against the compiled site", function () {
  let site: LabRunResult;
  let release: string;
  let catalogue: Catalogue;
  let kubernetes: string;
  let project: string;
  let engine: string;
  let cluster: PlaybookRun;
  let controller: { runbook: string[]; kit: Result; ca: string; cut: Result };
  let bundled: { manifest: { artifacts: { kind: string; path: string; sha256: string; size: number }[] }; sums: Record<string, string> };
  const urls: Record<string, string> = {};

  before(async function () {
    const why = skipReason();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    this.timeout(90 * 60_000);
    release = checkoutRelease(KUBESPRAY_DIR!);
    const c = loadCatalogue(release);
    if (!c) throw new Error(`airgap ships no catalogue for Kubespray ${release} (KUBESPRAY_DIR=${KUBESPRAY_DIR})`);
    catalogue = c;
    kubernetes = catalogue.kubernetes.default;
    // A release whose containerd templates drop the pull account (2.28.1) is
    // refused by the compiler (AG121): asserted on the lab site, without the lab.
    if (!catalogue.registryAuth?.containerd) {
      const refused = path.join(WORK, `lab-kubespray-${release}-refused.ts`);
      mkdirSync(WORK, { recursive: true });
      writeFileSync(refused, readFileSync(EXAMPLE_SITE, "utf8")
        .replace(/"(\.\.?\/[^"]*)"/g, (_, rel: string) => JSON.stringify(path.resolve(path.dirname(EXAMPLE_SITE), rel)))
        .replace(/kubespray: \{[^}]*\}/, `kubespray: { version: ${JSON.stringify(release)}, kubernetes: ${JSON.stringify(kubernetes)} }`));
      const r = await run(process.execPath, [CLI, "compile", refused, "-o", path.join(WORK, `project-kubespray-${release}`)]);
      console.log(`      e2e kubespray ${release}: airgap compile exit ${r.code}: ${r.stderr.split("\n").find((l) => /error AG/.test(l)) ?? r.stderr}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error AG121: Kubespray [\d.]+ cannot give containerd the registry's pull account/);
      console.log(`      skipped: Kubespray ${release} cannot give containerd the pull account (AG121): nothing of it can run against the lab site`);
      this.skip();
    }
    site = await labBefore(this);
    this.timeout(90 * 60_000);
    for (const name of [...ENGINE, ...PLACEHOLDERS, "kubeadm"]) urls[name] = fileVariant(catalogue, name, kubernetes).url;
    const labSite = readFileSync(SITE, "utf8");
    const withKubespray = (block: string) => {
      const moved = labSite.replace(/kubespray: \{[^}]*\}/, `kubespray: { ${block} }`);
      assert.notEqual(moved, labSite, `${SITE} has a one-line kubespray block`);
      return moved;
    };

    // The project Kubespray runs against: the lab site, Kubespray's block
    // moved to the checkout's release and its shipped catalogue.
    const siteFile = path.join(path.dirname(SITE), `lab-kubespray-${release}.ts`);
    writeFileSync(siteFile, withKubespray(`version: ${JSON.stringify(release)}, kubernetes: ${JSON.stringify(kubernetes)}`));
    project = path.join(WORK, `project-kubespray-${release}`);
    const compiled = await run(process.execPath, [CLI, "compile", siteFile, "-o", project]);
    assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);

    // The container engine's stand-ins, built at the release's versions (kept between runs).
    engine = process.env.KUBESPRAY_ENGINE_DIR ?? path.join(WORK, `engine-${release}`);
    const v = (n: string) => fileVariant(catalogue, n, kubernetes).version;
    const built = await run(BUILD_ENGINE, [engine, v("containerd"), v("runc"), v("nerdctl"), v("crictl")], { log: path.join(WORK, "build-engine.log") });
    phase(`kubespray: engine stand-ins built`, built.ms);
    assert.equal(built.code, 0, `build-engine.sh failed:\n${built.stderr.slice(-3000)}`);
    const sums = JSON.parse(readFileSync(path.join(engine, "checksums.json"), "utf8")) as Record<string, string>;
    // etcd and the CNI plugins: placeholders (see above).
    for (const name of PLACEHOLDERS) {
      const rel = servedPath(urls[name]);
      const file = path.join(engine, rel);
      if (!existsSync(file)) {
        const dir = path.join(engine, ".build", `${name}-placeholder`);
        const top = name === "etcd" ? path.basename(rel).replace(/\.tar\.gz$/, "") : ".";
        mkdirSync(path.join(dir, top), { recursive: true });
        writeFileSync(path.join(dir, top, "AIRGAP-PLACEHOLDER"), `airgap lab placeholder for ${urls[name]}; never run\n`);
        mkdirSync(path.dirname(file), { recursive: true });
        const t = await run("sh", ["-c", `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C ${q(dir)} -cf - ${q(top)} | gzip -n > ${q(file)}`]);
        assert.equal(t.code, 0, t.stderr);
      }
      const s = await run("sha256sum", [file]);
      sums[rel] = s.stdout.split(/\s+/)[0];
    }

    // The bundle for this run, made on the bastion (this machine, online):
    // the lab site with the engine's catalogue (its files pinned by the
    // stand-ins' SHA-256), the release's source archived from the checkout,
    // and the release's controller requirements resolved from PyPI (the
    // site's own Python packages are left out: they are the lab's test wheels).
    const ksCatalogue = path.join(WORK, `kubespray-${release}-engine.json`);
    writeFileSync(ksCatalogue, serializeCatalogue(engineCatalogue(catalogue, kubernetes, sums)));
    const bundleSite = path.join(path.dirname(SITE), `lab-kubespray-${release}-bundle.ts`);
    const withIndex = withKubespray(`version: ${JSON.stringify(release)}, kubernetes: ${JSON.stringify(kubernetes)}, catalogue: ${JSON.stringify(ksCatalogue)}`)
      .replace(/packages: \["airgap-lab-top"\],([\s\S]*?)source: \{ wheelhouse: [^}]*\}/, `packages: [],$1source: { index: "https://pypi.org/simple/" }`);
    assert.match(withIndex, /source: \{ index: "https:\/\/pypi\.org\/simple\/" \}/, "the lab site's pypi block as the test expects it");
    writeFileSync(bundleSite, withIndex);
    // The files mirror: the engine's tree and the lab's own file.
    const mirror = path.join(WORK, `mirror-kubespray-${release}`);
    rmSync(mirror, { recursive: true, force: true });
    mkdirSync(mirror, { recursive: true });
    symlinkSync(path.join(engine, "github.com"), path.join(mirror, "github.com"));
    symlinkSync(path.join(FILES_MIRROR, "files.example.org"), path.join(mirror, "files.example.org"));
    const upstream = await startLabUpstream(path.join(WORK, "upstream"));
    let b: Result;
    try {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PIP_")));
      b = await run(process.execPath, [CLI, "bundle", bundleSite, "-o", BUNDLE, "--files-from", mirror, "--include-base", "--cert-dir", upstream.certDir,
        "--key", path.join(KEYS, "airgap-bundle.key"), "--kubespray", KUBESPRAY_DIR!, "--no-kit"], { env, log: path.join(WORK, `kubespray-${release}-bundle.log`) });
    } finally {
      await upstream.stop();
    }
    phase(`kubespray ${release}: airgap bundle`, b.ms);
    assert.equal(b.code, 0, b.stderr.slice(-3000));
    bundled = { manifest: JSON.parse(readFileSync(path.join(BUNDLE, "manifest.json"), "utf8")), sums };
    // The admin serves it: the compiled site.yml of that site, given the bundle.
    const bundleProject = path.join(WORK, `project-kubespray-${release}-bundle`);
    const bc = await run(process.execPath, [CLI, "compile", bundleSite, "-o", bundleProject]);
    assert.equal(bc.code, 0, bc.stdout + bc.stderr);
    const served = await site.lab.playbook(`kubespray-${release}-site`, "site.yml", [], BUNDLE, bundleProject);
    phase(`kubespray ${release}: site.yml with its bundle`, served.ms);
    assert.equal(served.code, 0, `site.yml with the Kubespray bundle failed (log ${served.log}):\n${served.stdout.slice(-3000)}`);

    const extra = {
      // The stand-ins' own checksums, for this run only (Kubespray's variable names).
      containerd_archive_checksum: `sha256:${sums[servedPath(urls.containerd)]}`,
      runc_binary_checksum: `sha256:${sums[servedPath(urls.runc)]}`,
      nerdctl_archive_checksum: `sha256:${sums[servedPath(urls.nerdctl)]}`,
      crictl_binary_checksum: `sha256:${sums[servedPath(urls.crictl)]}`,
      etcd_binary_checksum: `sha256:${sums[servedPath(urls.etcd)]}`,
      cni_binary_checksum: `sha256:${sums[servedPath(urls.cni)]}`,
      // The lab's limits, not the site's: nspawn hosts share the machine's
      // kernel and may not change it. Kernel-wide sysctls (kernel.panic,
      // vm.overcommit_memory, …) are refused ("permission denied on key",
      // seen in the lab), and there is no CAP_SYS_MODULE for nodelocaldns'
      // `modprobe dummy`. Neither matters before kubeadm.
      kubelet_protect_kernel_defaults: false,
      enable_nodelocaldns: false,
      // 2.31.0's preinstall raises fs.inotify.max_user_instances to 8192
      // when lower ("Increase sysctl value if lower than minimum"; this
      // machine's is 128): the same kernel-wide limit. Kubespray sets that
      // minimum as a task variable, which an extra var replaces.
      sysctl_minimum_values: {},
    };
    const extraFile = path.join(WORK, `kubespray-${release}-standin-checksums.json`);
    writeFileSync(extraFile, `${JSON.stringify(extra, null, 2)}\n`);

    // The controller inside, with the network cut: the runbook's own commands
    // (fetch the release from files_repo, check it against the manifest,
    // unpack, venv from the site's index), then Kubespray's cluster.yml.
    await controllerUp(site.lab);
    const ca = path.join(WORK, "site-ca.crt");
    writeFileSync(ca, await site.lab.sh("admin", "cat /usr/local/share/ca-certificates/airgap-lab.crt"));
    const base: NodeJS.ProcessEnv = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: process.env.HOME ?? "/root",
      LANG: "C.UTF-8",
      // The site CA, as a host of the site trusts it; pip reads no config file, keeps no cache.
      CURL_CA_BUNDLE: ca,
      PIP_CERT: ca,
      PIP_CONFIG_FILE: "/dev/null",
      PIP_NO_CACHE_DIR: "1",
      PIP_DISABLE_PIP_VERSION_CHECK: "1",
    };
    const cut = await inController("ip route; getent hosts pypi.org github.com || echo unresolved", { cwd: WORK, env: base });
    const commands = runbookKubesprayCommands(readFileSync(path.join(project, "README.md"), "utf8"));
    const last = commands.pop()!;
    assert.equal(last, `(cd ${sourcePrefix(release)} && ~/kubespray-venv/bin/ansible-playbook -i ../inventory/hosts.yml -b cluster.yml)`);
    // The runbook's store is the imported one (~/airgap-lab/store); here the bundle folder, same manifest.
    const script = commands.map((l) => l.replace(`"$HOME/airgap-lab/store"/manifest.json`, path.join(BUNDLE, "manifest.json")));
    assert.ok(script.some((l) => l.includes(path.join(BUNDLE, "manifest.json"))), "the runbook checks the archive against the store's manifest");
    // The runbook's venv is ~/kubespray-venv: this run's HOME is a scratch folder.
    const home = path.join(WORK, `controller-home-${release}`);
    await local(`rm -rf ${q(home)} && mkdir -p ${q(home)} && cd ${q(project)} && rm -rf ${sourcePrefix(release)} ${sourcePrefix(release)}.tar.gz`);
    base.HOME = home;
    const kit = await inController(script.join("\n"), { cwd: project, env: base, log: path.join(WORK, `kubespray-${release}-controller.log`) });
    phase(`kubespray ${release}: controller kit (netns)`, kit.ms);
    controller = { runbook: script, kit, ca, cut };
    assert.equal(kit.code, 0, `the runbook's controller steps failed:\n${(kit.stdout + kit.stderr).slice(-3000)}`);

    const log = path.join(WORK, `kubespray-${release}-cluster.log`);
    writeFileSync(log, "");
    const venv = path.join(home, "kubespray-venv");
    const env = {
      ...base,
      ...Object.fromEntries(Object.entries(site.lab.env).filter(([k]) => k.startsWith("ANSIBLE_"))),
      // The pull account's password, read by the mirrors' header (the runbook: exported when cluster.yml runs).
      AIRGAP_LAB_REGISTRY_PULL_PASSWORD: process.env.AIRGAP_LAB_REGISTRY_PULL_PASSWORD,
      PATH: `${path.join(venv, "bin")}:${base.PATH}`,
      VIRTUAL_ENV: venv,
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_FORCE_COLOR: "0",
      ANSIBLE_RETRY_FILES_ENABLED: "0",
      // Kubespray's ansible.cfg caches facts in /tmp, shared with any other run: this run's own.
      ANSIBLE_CACHE_PLUGIN_CONNECTION: path.join(WORK, `kubespray-${release}-facts`),
    };
    const r = await inController(last.replace(/\)$/, ` -e @${q(extraFile)})`), { cwd: project, env, log });
    // profile_tasks' summary follows the recap: keep the lab's hosts only.
    const recap = new Map([...parseRecap(r.stdout)].filter(([h]) => site.lab.hosts.includes(h)));
    cluster = { ...r, recap, log };
    phase(`kubespray ${release}: cluster.yml`, r.ms);
    const stop = stoppedAt(r.stdout);
    console.log(`      e2e kubespray ${release} cluster.yml: exit ${r.code}; stopped at ${stop ? `[${stop.task}] ${stop.fatal.slice(0, 200)}` : "nothing"}`);
    console.log(`      e2e recap, kubespray ${release}: ${formatRecap(cluster.recap)}`);
  });

  after(async function () {
    await controllerDown();
  });

  it("the controller, with no way out, installs the release from files_repo and its requirements from the site's index alone", async () => {
    // The cut: a route to the site's networks only, no name outside the site.
    assert.doesNotMatch(controller.cut.stdout, /^default /m, controller.cut.stdout);
    assert.match(controller.cut.stdout, /unresolved/, controller.cut.stdout);
    const out = controller.kit.stdout + controller.kit.stderr;
    assert.match(out, new RegExp(`${sourcePrefix(release)}\\.tar\\.gz: OK`), "the archive matches the manifest's sha256");
    assert.match(out, /Looking in indexes: https:\/\/pypi\.lab\.airgap\.internal:\d+\/simple\//);
    for (const req of catalogue.controller!.requirements) {
      const [name, version] = req.split("==");
      const shown = await run(path.join(WORK, `controller-home-${release}`, "kubespray-venv/bin/python"), ["-m", "pip", "show", name], { env: { PATH: "/usr/bin:/bin", PIP_CONFIG_FILE: "/dev/null" } });
      assert.match(shown.stdout, new RegExp(`^Version: ${version.replace(/\./g, "\\.")}$`, "m"), `${req} in the venv`);
    }
    // What the admin served to the controller: the archive from the bundle, the wheels from the index.
    const repoLog = await site.lab.sh("admin", "cat /var/log/nginx/airgap-repo.access.log");
    assert.ok(repoLog.split("\n").some((l) => l.startsWith(`${NETNS_ADDR} `) && l.includes(`"GET /${sourcePath(release)} `) && / 200 /.test(l)), "the archive from files_repo");
    const pypiLog = await site.lab.sh("admin", "cat /var/log/nginx/airgap-pypi.access.log");
    for (const name of ["ansible", "ansible-core", "jmespath"]) {
      assert.ok(pypiLog.split("\n").some((l) => l.startsWith(`${NETNS_ADDR} `) && new RegExp(`"GET /(simple|pypi)/${name}/`).test(l) && / 200 /.test(l)), `${name} from the site's index`);
    }
    // The archive is the checkout's commit, as the manifest lists it.
    const a = bundled.manifest.artifacts.find((x) => x.path === sourcePath(release));
    assert.ok(a, `${sourcePath(release)} in the manifest`);
    assert.match(readFileSync(path.join(project, sourcePrefix(release), "requirements.txt"), "utf8"), new RegExp(`^${catalogue.controller!.requirements[0].replace(/\./g, "\\.")}$`, "m"));
  });

  it("carries the engine's stand-ins in the bundle, pinned by their own SHA-256", () => {
    for (const name of [...ENGINE, ...PLACEHOLDERS]) {
      const rel = servedPath(urls[name]);
      const a = bundled.manifest.artifacts.find((x) => x.path === `files/${rel}`);
      assert.ok(a, `files/${rel} in the manifest`);
      assert.equal(a.sha256, bundled.sums[rel], name);
    }
    assert.ok(!bundled.manifest.artifacts.some((x) => x.path === `files/${servedPath(urls.kubeadm)}`), "kubeadm is not in the bundle");
  });

  it("passes the version and inventory asserts, facts, bootstrap and preinstall on every node", () => {
    for (const node of ["node1", "node2"]) {
      const r = cluster.recap.get(node);
      assert.ok(r, `${node} in the recap (log ${cluster.log})`);
      assert.equal(r.unreachable, 0, node);
    }
    // Kubespray's own checks (run once, on the inventory's first host), then per node.
    assert.match(cluster.stdout, /TASK \[Check [\d.]+ <= Ansible version < [\d.]+\][^\n]*\nok: \[/, "Kubespray's Ansible version check");
    const inventoryChecks = cluster.stdout.split("\n").filter((l) => l.startsWith("TASK [validate_inventory : "));
    assert.ok(inventoryChecks.length > 5, "validate_inventory ran");
    for (const node of ["node1", "node2"]) {
      for (const [task, want] of [
        ["Gather minimal facts", /^ok$/],
        ["system_packages : Manage packages", /^(ok|changed)$/],
        ["kubernetes/preinstall : Stop if ip var does not match local ips", /^ok$/],
        ["kubernetes/preinstall : Stop if access_ip is not pingable", /^ok$/],
        ["kubernetes/preinstall : Check status of /etc/resolv.conf", /^ok$/],
        ["kubernetes/preinstall : Enable ip forwarding", /^(ok|changed)$/],
      ] as const) {
        assert.match(taskStatus(cluster.stdout, task, node) ?? "missing", want, `${node}: ${task} (log ${cluster.log})`);
      }
      // Kubespray's system packages: airgap's kubespray_node role installed
      // them from the site's repository in the first site.yml (ping among
      // them, which preinstall needs), so Kubespray's own install finds them.
      assert.equal(taskStatus(site.first.stdout, "kubespray_node : Install Kubespray's node packages from the site repository", node), "changed", `${node}: airgap's node role`);
      assert.match(cluster.stdout, new RegExp(`^(ok|changed): \\[${node}\\] => \\(item=install\\)`, "m"), `${node}: system_packages`);
    }
  });

  it("installs the container engine from files_repo and leaves containerd running", async () => {
    for (const node of ["node1", "node2"]) {
      assert.match(taskStatus(cluster.stdout, "container-engine/containerd : Containerd | Unpack containerd archive", node) ?? "missing", /^(ok|changed)$/, `${node} (log ${cluster.log})`);
      assert.equal((await site.lab.sh(node, "systemctl is-active containerd")).trim(), "active", node);
      const v = (n: string) => fileVariant(catalogue, n, kubernetes).version;
      assert.match(await site.lab.sh(node, "/usr/local/bin/containerd --version"), new RegExp(`v${v("containerd").replace(/\./g, "\\.")}\\b`));
      assert.match(await site.lab.sh(node, "/usr/local/bin/runc --version"), new RegExp(`runc version ${v("runc").replace(/\./g, "\\.")}\\b`));
      assert.match(await site.lab.sh(node, "/usr/local/bin/nerdctl --version"), new RegExp(`${v("nerdctl").replace(/\./g, "\\.")}\\b`));
      const info = await site.lab.sh(node, "/usr/local/bin/crictl version");
      assert.match(info, new RegExp(`RuntimeVersion:\\s+v${v("containerd").replace(/\./g, "\\.")}`), info);
      const versions = await site.lab.sh(node, "systemctl is-active containerd; /usr/local/bin/containerd --version; /usr/local/bin/runc --version | head -1; /usr/local/bin/nerdctl --version; /usr/local/bin/crictl --version");
      console.log(`      e2e ${node} engine: ${versions.trim().split("\n").join("; ")}`);
    }
  });

  it("stops at the kubeadm download, whose URL is under files_repo (404 from the admin's nginx)", async () => {
    assert.notEqual(cluster.code, 0, "Kubernetes' own binaries are not here: the run cannot pass");
    const stop = stoppedAt(cluster.stdout);
    assert.equal(stop?.task, "download : Download_file | Download item", `log ${cluster.log}`);
    // The download role fetches kubeadm first on the first control-plane node
    // (prep_kubeadm_images: it lists the images to pull), before its loop.
    const before = cluster.stdout.slice(0, cluster.stdout.indexOf(stop!.fatal));
    const k = before.lastIndexOf("TASK [download : Prep_kubeadm_images | Download kubeadm binary]");
    assert.ok(k >= 0, "prep_kubeadm_images ran");
    assert.equal(before.slice(k).split("download_file.yml for ").length - 1, 1, "the failed download is kubeadm's, the only one included after it");
    assert.match(stop!.fatal, /^fatal: \[node1\]/);
    const log = (await site.lab.sh("admin", "cat /var/log/nginx/airgap-repo.access.log")).split("\n");
    const want = `/files/${servedPath(urls.kubeadm)}`;
    const asked = log.filter((l) => l.includes(`"GET ${want} `));
    assert.ok(asked.length > 0, `${want} asked from the admin`);
    console.log(`      e2e kubeadm asked from files_repo (${asked.length}): ${asked[0]}`);
    for (const l of asked) {
      assert.ok(l.startsWith(`${site.lab.address("node1")} `), `asked by node1: ${l}`);
      assert.match(l, / 404 /, l);
    }
    // The engine's own files were served to each node (200).
    for (const node of ["node1", "node2"]) {
      const addr = site.lab.address(node);
      for (const name of ["containerd", "runc", "nerdctl", "crictl"]) {
        const p = `/files/${servedPath(urls[name])}`;
        assert.ok(log.some((l) => l.startsWith(`${addr} `) && l.includes(`"GET ${p} `) && / 200 /.test(l)), `${node} got ${p}`);
      }
    }
    assert.equal(cluster.recap.get("node1")?.failed, 1, formatRecap(cluster.recap));
  });

  describe("pulls as the kubelet does them (crictl through containerd's CRI plugin)", () => {
    /** `[upstream name, site registry target]` of the three images. */
    let images: [string, string][] = [];
    const certsd = (upstream: string) => `/etc/containerd/certs.d/${upstream.split("/")[0]}/hosts.toml`;

    before(async function () {
      this.timeout(10 * 60_000);
      const vars = parse(readFileSync(path.join(project, "inventory/group_vars/airgap_registry_servers/airgap.yml"), "utf8")) as { airgap_registry_kubespray_images: { source: string; target: string }[] };
      const list = vars.airgap_registry_kubespray_images;
      const pick = (prefix: string) => {
        const i = list.find((x) => x.source.startsWith(prefix));
        assert.ok(i, `the compiled registry list has a ${prefix} image`);
        return [i.source, i.target] as [string, string];
      };
      images = [pick("registry.k8s.io/pause:"), pick("quay.io/"), pick("docker.io/")];
      const specs: ImageSpec[] = images.map((_, n) => ({ name: `kubespray-${n}`, base: "kubespray", own: 100_000 }));
      const dir = path.join(WORK, "kubespray-images");
      mkdirSync(dir, { recursive: true });
      buildImages(dir, specs, 500_000);
      await site.lab.install("admin", "skopeo");
      const ssh = [...site.lab.env.AIRGAP_LAB_SSH_ARGS.split(/\s+/).filter(Boolean), "-o", "BatchMode=yes", `root@${site.lab.address("admin")}`];
      const copy = await run("sh", ["-c", `tar -C ${q(dir)} -cf - layout | ssh ${ssh.map(q).join(" ")} 'rm -rf /var/tmp/kubespray-images && mkdir -p /var/tmp/kubespray-images && tar -C /var/tmp/kubespray-images -xf -'`]);
      assert.equal(copy.code, 0, copy.stderr);
      const push = process.env.AIRGAP_LAB_REGISTRY_PUSH_PASSWORD;
      assert.ok(push, "the fixture sets AIRGAP_LAB_REGISTRY_PUSH_PASSWORD");
      for (const [n, [, target]] of images.entries()) {
        await site.lab.sh("admin", `skopeo copy --quiet --dest-creds ${q(`pusher:${push}`)} oci:/var/tmp/kubespray-images/layout:kubespray-${n} docker://${REGISTRY}/${target}`);
      }
    });

    it("Kubespray wrote a hosts.toml per upstream registry: the site registry, its CA, the pull account's header", async () => {
      for (const [upstream] of images) {
        const text = await site.lab.sh("node1", `cat ${certsd(upstream)}`);
        assert.match(text, new RegExp(`^server = "https://${REGISTRY.replace(/\./g, "\\.")}"`, "m"), text);
        assert.match(text, /^\s*ca = \["\/usr\/local\/share\/ca-certificates\/airgap-lab\.crt"\]/m, text);
        assert.match(text, /^\s*Authorization = \["Basic /m, "the pull account's header");
      }
    });

    it("crictl pulls each by its upstream name through the site registry, TLS verified, with the pull account", async () => {
      for (const [upstream] of images) {
        const r = await site.lab.ssh("node1", `crictl pull ${upstream}`);
        console.log(`      e2e crictl pull ${upstream}: exit ${r.code} ${(r.stdout + r.stderr).trim().split("\n").pop()}`);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      const listed = await site.lab.sh("node1", "crictl images");
      for (const [upstream] of images) {
        const [name, tag] = [upstream.slice(0, upstream.lastIndexOf(":")), upstream.slice(upstream.lastIndexOf(":") + 1)];
        assert.ok(listed.split("\n").some((l) => l.startsWith(`${name} `) && l.includes(` ${tag} `)), `${upstream} in crictl images:\n${listed}`);
      }
      // The site registry's nginx saw the pull account.
      const log = await site.lab.sh("admin", "cat /var/log/nginx/airgap-registry.access.log");
      const at = site.lab.address("node1");
      assert.ok(log.split("\n").some((l) => l.startsWith(`${at} `) && / puller /.test(l) && / 200 /.test(l) && /manifests/.test(l)), "manifests served to node1 as puller");
    });

    it("fails without the pull account (401)", async () => {
      const [upstream] = images[0];
      const file = certsd(upstream);
      await site.lab.sh("node1", `cp ${file} ${file}.airgap-test && sed -i '/\\.header\\]/d; /Authorization = /d' ${file}`);
      try {
        const r = await site.lab.ssh("node1", `crictl pull ${upstream}`);
        console.log(`      e2e crictl pull without the account: exit ${r.code} ${(r.stdout + r.stderr).trim().split("\n").pop()}`);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /authorization failed: no basic auth credentials|401 Unauthorized/, r.stderr);
      } finally {
        await site.lab.sh("node1", `mv ${file}.airgap-test ${file}`);
      }
    });

    it("fails without the site CA (no ca, containerd with no trust store)", async function () {
      this.timeout(3 * 60_000);
      const [upstream] = images[1];
      const file = certsd(upstream);
      const dropin = "/etc/systemd/system/containerd.service.d/airgap-test-no-trust.conf";
      await site.lab.sh("node1", `cp ${file} ${file}.airgap-test && sed -i '/^\\s*ca = /d' ${file} && mkdir -p ${path.dirname(dropin)} && printf '[Service]\\nEnvironment=SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent\\n' > ${dropin} && systemctl daemon-reload && systemctl restart containerd`);
      try {
        const r = await site.lab.ssh("node1", `crictl pull ${upstream}`);
        console.log(`      e2e crictl pull without the site CA: exit ${r.code} ${(r.stdout + r.stderr).trim().split("\n").pop()}`);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /x509: certificate signed by unknown authority|tls: failed to verify certificate/, r.stderr);
      } finally {
        await site.lab.sh("node1", `mv ${file}.airgap-test ${file} && rm -f ${dropin} && systemctl daemon-reload && systemctl restart containerd`);
      }
      const again = await site.lab.ssh("node1", `crictl pull ${upstream}`);
      assert.equal(again.code, 0, `restored: ${again.stderr}`);
    });
  });
});
