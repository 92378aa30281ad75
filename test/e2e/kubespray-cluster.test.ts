/**
 * @lab Kubespray's OWN `cluster.yml`, from a release checkout, against the
 * compiled inventory of the lab site, with no route out from the nodes.
 *
 * Gated: runs only when `KUBESPRAY_DIR` names a Kubespray checkout of a
 * release airgap ships a catalogue for AND this file is given to mocha by
 * name (Kubespray changes the nodes for good: packages, sysctls, containerd;
 * the other lab tests must not run after it in the same lab). Otherwise the
 * suite is skipped, saying why. See docs/kubespray.md, "Kubespray's own
 * playbook in the lab", for the checkout, the venv and the Go builds.
 *
 *   KUBESPRAY_DIR=/path/to/kubespray-2.30.0 KUBESPRAY_VENV=/path/to/venv \
 *     npx mocha --no-config --timeout 60000 dist/test/e2e/kubespray-cluster.test.js
 *
 * What runs: the fixture (test/e2e/fixture.ts) brings the lab up, bundles,
 * imports and runs the compiled site.yml as for every lab test. Then the
 * lab site is compiled once more with `kubespray: { version: <the
 * checkout's release>, kubernetes: <its catalogue's default> }` (the shipped
 * catalogue, no stand-in catalogue), and the release's own `cluster.yml`
 * runs with the venv's ansible-playbook (the Ansible the release pins) from
 * the checkout's folder (its ansible.cfg and roles) against that compiled
 * inventory, from the controller (the lab's root namespace).
 *
 * What is NOT upstream, and only for this test run:
 * - containerd, runc, nerdctl and crictl are stand-ins built here from their
 *   Go modules at the versions the release pins (test/e2e/kubespray/
 *   build-engine.sh): real programs, but not upstream's bytes, so their
 *   checksums differ from the release's. The run passes the stand-ins'
 *   checksums as extra vars (`containerd_archive_checksum`,
 *   `runc_binary_checksum`, `nerdctl_archive_checksum`,
 *   `crictl_binary_checksum`); nothing else gets them.
 * - etcd and the CNI plugins (first in the download role's loop) get
 *   placeholders: tarballs holding one text file, with their own checksums
 *   passed the same way (`etcd_binary_checksum`, `cni_binary_checksum`).
 *   With 2.30.0 they are not even fetched: the run stops earlier.
 * - The lab's own limits, as extra vars: `kubelet_protect_kernel_defaults:
 *   false` (nspawn hosts may not set kernel-wide sysctls) and
 *   `enable_nodelocaldns: false` (no CAP_SYS_MODULE for `modprobe dummy`);
 *   the nodes get `iputils-ping` from the site repository before the run
 *   (Kubespray 2.30.0 leaves it out in its bootstrap play).
 * - These files are not in the bundle (the lab site carries stand-ins for
 *   2.28.1 only): the test puts them into the admin's served tree
 *   (`files/<host>/<path>`, where the bundle would; a file the bundle serves
 *   at that path is set aside) and restores the tree after.
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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { loadCatalogue, type Catalogue } from "../../compile/kubespray/catalogue.js";
import { CLI, ROOT } from "../helpers.js";
import { buildImages, type ImageSpec } from "../roles/registry-harness.js";
import { formatRecap, labBefore, labRequested, phase, run, SITE, taskStatus, WORK, type LabRunResult, type PlaybookRun, parseRecap } from "./fixture.js";

const KUBESPRAY_DIR = process.env.KUBESPRAY_DIR;
const BUILD_ENGINE = path.join(ROOT, "test/e2e/kubespray/build-engine.sh");
/** The admin's served tree (roles/repo_server: `airgap_repo_server_root`/www), files_repo is its `files/`. */
const SERVED_FILES = "/srv/airgap/www/files";
const ARCH = "amd64";

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

/** `files/<host>/<path>` of an upstream URL (where the bundle puts it, under files_repo). */
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

const DOMAIN = "lab.airgap.internal";
const REGISTRY = `registry.${DOMAIN}:5000`;

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe("@lab kubespray cluster.yml: the release's own playbook against the compiled site", function () {
  let site: LabRunResult;
  let release: string;
  let catalogue: Catalogue;
  let kubernetes: string;
  let project: string;
  let engine: string;
  let placed: string[] = [];
  let cluster: PlaybookRun;
  const urls: Record<string, string> = {};

  before(async function () {
    const why = skipReason();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    site = await labBefore(this);
    this.timeout(60 * 60_000);
    release = checkoutRelease(KUBESPRAY_DIR!);
    const c = loadCatalogue(release);
    if (!c) throw new Error(`airgap ships no catalogue for Kubespray ${release} (KUBESPRAY_DIR=${KUBESPRAY_DIR})`);
    catalogue = c;
    kubernetes = catalogue.kubernetes.default;
    for (const name of ["containerd", "runc", "nerdctl", "crictl", "etcd", "cni", "kubeadm"]) urls[name] = fileVariant(catalogue, name, kubernetes).url;

    // The lab site, Kubespray's block moved to the checkout's release and the shipped catalogue.
    const text = readFileSync(SITE, "utf8");
    const moved = text.replace(/kubespray: \{[^}]*\}/, `kubespray: { version: ${JSON.stringify(release)}, kubernetes: ${JSON.stringify(kubernetes)} }`);
    assert.notEqual(moved, text, `${SITE} has a one-line kubespray block`);
    const siteFile = path.join(path.dirname(SITE), `lab-kubespray-${release}.ts`);
    writeFileSync(siteFile, moved);
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
    for (const name of ["etcd", "cni"]) {
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
    const checksum = (name: string) => {
      const sum = sums[servedPath(urls[name])];
      assert.ok(sum, `a stand-in for ${urls[name]}`);
      return `sha256:${sum}`;
    };
    const extra = {
      containerd_archive_checksum: checksum("containerd"),
      runc_binary_checksum: checksum("runc"),
      nerdctl_archive_checksum: checksum("nerdctl"),
      crictl_binary_checksum: checksum("crictl"),
      etcd_binary_checksum: checksum("etcd"),
      cni_binary_checksum: checksum("cni"),
      // The lab's limits, not the site's: nspawn hosts share the machine's
      // kernel and may not change it. Kernel-wide sysctls (kernel.panic,
      // vm.overcommit_memory, …) are refused ("permission denied on key",
      // seen in the lab), and there is no CAP_SYS_MODULE for nodelocaldns'
      // `modprobe dummy`. Neither matters before kubeadm.
      kubelet_protect_kernel_defaults: false,
      enable_nodelocaldns: false,
    };
    const extraFile = path.join(WORK, `kubespray-${release}-standin-checksums.json`);
    writeFileSync(extraFile, `${JSON.stringify(extra, null, 2)}\n`);

    // Served where the bundle would put them (files/<host>/<path>), the tree restored in after().
    placed = Object.keys(sums);
    const ssh = [...site.lab.env.AIRGAP_LAB_SSH_ARGS.split(/\s+/).filter(Boolean), "-o", "BatchMode=yes", `root@${site.lab.address("admin")}`];
    // A file the bundle already serves there (the lab's stand-in catalogue may
    // name the same URL) is set aside, and put back in after().
    const aside = placed.map((f) => `if [ -e ${q(f)} ]; then mv ${q(f)} ${q(`${f}.airgap-aside`)}; fi`).join("; ");
    const copy = await run("sh", ["-c", `tar -C ${q(engine)} -cf - ${placed.map(q).join(" ")} | ssh ${ssh.map(q).join(" ")} ${q(`cd ${SERVED_FILES} && { ${aside}; } && tar --no-same-owner -xf - && chmod -R a+rX ${placed.map(q).join(" ")}`)}`]);
    assert.equal(copy.code, 0, copy.stderr);

    // Kubespray 2.30.0 installs iputils-ping only when `main_access_ip` is
    // defined, which it is not in its bootstrap play (bootstrap_os alone,
    // without kubespray_defaults): on a minimal Debian node, preinstall's
    // "Stop if access_ip is not pingable" then fails with no `ping`. The
    // bundle carries the package (Kubespray's system packages); the nodes
    // get it from the site's repository first, as an OS image would have it.
    for (const node of ["node1", "node2"]) await site.lab.install(node, "iputils-ping");

    // Kubespray's own cluster.yml, with the release's Ansible, from the checkout's folder.
    const venv = process.env.KUBESPRAY_VENV ?? path.join(KUBESPRAY_DIR!, ".venv");
    const playbook = path.join(venv, "bin/ansible-playbook");
    assert.ok(existsSync(playbook), `no ${playbook}: set KUBESPRAY_VENV to a venv with the checkout's requirements.txt`);
    const log = path.join(WORK, `kubespray-${release}-cluster.log`);
    writeFileSync(log, "");
    const env = {
      ...process.env,
      ...Object.fromEntries(Object.entries(site.lab.env).filter(([k]) => k.startsWith("ANSIBLE_"))),
      PATH: `${path.join(venv, "bin")}:${process.env.PATH}`,
      VIRTUAL_ENV: venv,
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_FORCE_COLOR: "0",
      ANSIBLE_RETRY_FILES_ENABLED: "0",
      // Kubespray's ansible.cfg caches facts in /tmp, shared with any other run: this run's own.
      ANSIBLE_CACHE_PLUGIN_CONNECTION: path.join(WORK, `kubespray-${release}-facts`),
    };
    const r = await run(playbook, ["-i", path.join(project, "inventory/hosts.yml"), "-b", "cluster.yml", "-e", `@${extraFile}`], { cwd: KUBESPRAY_DIR, env, log });
    // profile_tasks' summary follows the recap: keep the lab's hosts only.
    const recap = new Map([...parseRecap(r.stdout)].filter(([h]) => site.lab.hosts.includes(h)));
    cluster = { ...r, recap, log };
    phase(`kubespray ${release}: cluster.yml`, r.ms);
    const stop = stoppedAt(r.stdout);
    console.log(`      e2e kubespray ${release} cluster.yml: exit ${r.code}; stopped at ${stop ? `[${stop.task}] ${stop.fatal.slice(0, 200)}` : "nothing"}`);
    console.log(`      e2e recap, kubespray ${release}: ${formatRecap(cluster.recap)}`);
  });

  after(async function () {
    if (!site || placed.length === 0) return;
    const back = placed.map((f) => `rm -f ${q(f)}; if [ -e ${q(`${f}.airgap-aside`)} ]; then mv ${q(`${f}.airgap-aside`)} ${q(f)}; fi`).join("; ");
    await site.lab.ssh("admin", `cd ${SERVED_FILES} && ${back}`);
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
      // Kubespray's system packages, installed from the site's repository.
      assert.match(cluster.stdout, new RegExp(`^changed: \\[${node}\\] => \\(item=install\\)`, "m"), `${node}: system_packages installed`);
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
