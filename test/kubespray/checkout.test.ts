/**
 * With a Kubespray checkout (`KUBESPRAY_DIR=/path/to/kubespray`): Kubespray's
 * own list rendering (contrib/offline/generate_list.sh, on a copy of the
 * checkout) with the compiled offline vars names no URL outside files_repo and
 * no image outside the site registry; its per-host rendering of what it
 * downloads equals airgap's list, and every item is in a manifest made from
 * that list; the compiled `deploy.yml` (site.yml, then the checkout's
 * cluster.yml) passes Ansible's syntax check with the checkout's roles; and
 * the shipped catalogue is what regenerating gives.
 * Skipped, saying so, without KUBESPRAY_DIR.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { compareLive, liveFetches, renderCompiled } from "../../kubespray/check.js";
import { loadCatalogue, serializeCatalogue, type Catalogue } from "../../compile/kubespray/catalogue.js";
import { readDefaults, renderCatalogue } from "../../kubespray/render.js";
import { missingFromManifest, resolveRefs } from "../../compile/kubespray/offline.js";
import { CLI } from "../helpers.js";
import { check, manifestOf, pinnedSite } from "./helpers.js";

const dir = process.env.KUBESPRAY_DIR;

/** Runs Kubespray's generate_list.sh on a copy of the checkout against a compiled inventory. */
function generateList(kubespray: string, inventory: string): { files: string[]; images: string[] } {
  const copy = mkdtempSync(path.join(os.tmpdir(), "airgap-kubespray-copy-"));
  try {
    execFileSync("sh", ["-c", `tar -C "$1" --exclude=.git -cf - . | tar -C "$2" -xf -`, "copy", kubespray, copy]);
    execFileSync("bash", ["contrib/offline/generate_list.sh", "-i", inventory], {
      cwd: copy, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ANSIBLE_NOCOLOR: "1" },
    });
    const read = (f: string) => readFileSync(path.join(copy, "contrib/offline/temp", f), "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
    return { files: read("files.list"), images: read("images.list") };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

function writeInventory(files: Map<string, string>): string {
  const out = mkdtempSync(path.join(os.tmpdir(), "airgap-inventory-"));
  for (const [f, content] of files) {
    if (!f.startsWith("inventory/")) continue;
    mkdirSync(path.dirname(path.join(out, f)), { recursive: true });
    writeFileSync(path.join(out, f), content);
  }
  return path.join(out, "inventory/hosts.yml");
}

describe("with a Kubespray checkout (KUBESPRAY_DIR)", function () {
  this.timeout(900000);
  before(function () {
    if (!dir) {
      console.log("    (skipped: set KUBESPRAY_DIR to a Kubespray checkout to run Kubespray's own list rendering against the compiled vars)");
      this.skip();
    }
  });

  /**
   * The example, and variants, as the release can take them: CRI-O where its
   * containerd templates drop the registry's pull account, Calico where it
   * cannot install Cilium offline (both refused by the compiler).
   */
  const variants: [string, (c: Catalogue) => string | undefined][] = [
    ["the example as it is", () => undefined],
    [
      "Cilium, CRI-O, etcd by kubeadm, add-ons",
      () => 'networkPlugin: "cilium", containerRuntime: "crio", etcdDeployment: "kubeadm", addons: ["helm", "metrics-server", "local-path-provisioner", "cert-manager", "argocd", "gateway-api", "hubble"]',
    ],
    [
      "versions and names the site changes: runc_version, calico_version, metrics_server_version, kube_vip_lb_fwdmethod masquerade",
      (c) => {
        const other = (name: string) => c.downloads.find((d) => d.name === name)!.file!.versions!.find((v) => v.arch === "amd64")!.version;
        return `addons: ["metrics-server", "kube-vip"], extraVars: { runc_version: "${other("runc")}", calico_version: "${other("calicoctl")}", metrics_server_version: "0.7.1", kube_vip_lb_fwdmethod: "masquerade" }`;
      },
    ],
  ];
  const takes = (c: Catalogue, extra: string | undefined): string | undefined => {
    let e = extra ?? "";
    if (!c.registryAuth?.containerd && !e.includes("containerRuntime")) e = `containerRuntime: "crio"${e ? `, ${e}` : ""}`;
    if (!c.downloads.some((d) => d.name === "cilium_chart")) e = e.replace('networkPlugin: "cilium"', 'networkPlugin: "calico"').replace(', "hubble"', "");
    return e || undefined;
  };
  for (const [label, make] of variants) {
    it(`${label}: nothing from outside, the same list as Kubespray's, all in the manifest`, async () => {
      const release = readDefaults(dir!).release;
      const c = loadCatalogue(release);
      assert.ok(c, `airgap ships no catalogue for Kubespray ${release}: regenerate it first (docs/kubespray.md)`);
      const r = await check(pinnedSite("site.ts", release, takes(c, make(c))));
      assert.deepEqual(r.errors.map((e) => `${e.code} ${e.message}`), []);
      const k = r.kubespray!;
      const vars = parse(r.files.get("inventory/group_vars/all/kubespray-offline.yml")!, { version: "1.1" }) as Record<string, unknown>;
      const filesRepo = resolveRefs(vars.files_repo, vars)!;
      const registry = resolveRefs(vars.registry_host, vars)!;
      const inventory = writeInventory(r.files);
      try {
        // Kubespray's own list: every URL and image it knows, rendered with the compiled vars.
        const own = generateList(dir!, inventory);
        const outsideFiles = own.files.filter((u) => !u.startsWith(`${filesRepo}/`));
        const outsideImages = own.images.filter((i) => !i.startsWith(`${registry}/`));
        console.log(`      Kubespray ${release} generate_list.sh: ${own.files.length} URLs, ${own.images.length} images; ` +
          `outside files_repo: ${outsideFiles.length}, outside ${registry}: ${outsideImages.length}`);
        assert.deepEqual(outsideFiles, [], "URLs outside files_repo");
        assert.deepEqual(outsideImages, [], "images outside the site registry");

        // What each host would download, per Kubespray's own rendering: the same as airgap's list.
        const hosts = renderCompiled(dir!, r.files);
        const report = compareLive(hosts, k.artifacts, vars);
        console.log(`      per-host rendering (${report.hosts} hosts): ${liveFetches(hosts).files.size} files, ${liveFetches(hosts).images.size} images; ` +
          `leaks ${report.leaks.length}, not in airgap's list ${report.notListed.length}, listed but not fetched ${report.notFetched.length}`);
        assert.deepEqual(report.leaks, []);
        assert.deepEqual(report.notListed, []);
        assert.deepEqual(report.notFetched, []);

        // Every one of them is in a manifest made from airgap's list (all of them are in the list, above).
        assert.deepEqual(missingFromManifest(k.artifacts, manifestOf("example", k.artifacts)), []);
      } finally {
        rmSync(path.dirname(path.dirname(inventory)), { recursive: true, force: true });
      }
    });
  }

  it("a site that names the checkout takes its lists from it: the same as the shipped catalogue's", async function () {
    const release = readDefaults(dir!).release;
    if (!loadCatalogue(release)) this.skip();
    const base = takes(loadCatalogue(release)!, undefined);
    const shipped = (await check(pinnedSite("site.ts", release, base))).kubespray!.artifacts;
    const live = await check(pinnedSite("site.ts", release, [base, `checkout: ${JSON.stringify(path.resolve(dir!))}`].filter(Boolean).join(", ")));
    assert.deepEqual(live.errors.map((e) => e.message), []);
    assert.deepEqual(live.kubespray!.artifacts, shipped);
  });

  it("deploy.yml runs the site, then the checkout's cluster.yml: Ansible's syntax check finds every role", async function () {
    this.timeout(180_000);
    const release = readDefaults(dir!).release;
    if (!loadCatalogue(release)) this.skip();
    const site = pinnedSite("site.ts", release, [takes(loadCatalogue(release)!, undefined), `checkout: ${JSON.stringify(path.resolve(dir!))}`].filter(Boolean).join(", "));
    const out = path.join(path.dirname(site), "out");
    execFileSync(process.execPath, [CLI, "compile", site, "-o", out], { stdio: "pipe" });
    const deploy = parse(readFileSync(path.join(out, "deploy.yml"), "utf8")) as { "ansible.builtin.import_playbook": string }[];
    assert.deepEqual(deploy.map((p) => p["ansible.builtin.import_playbook"]), ["site.yml", `${path.relative(out, path.resolve(dir!))}/cluster.yml`]);
    const r = execFileSync("ansible-playbook", ["--syntax-check", "deploy.yml"], { cwd: out, encoding: "utf8", stdio: "pipe" });
    assert.match(r, /playbook: deploy\.yml/);
  });

  it("the shipped catalogue is what regenerating from the checkout gives", function () {
    const release = readDefaults(dir!).release;
    const shipped = loadCatalogue(release);
    if (!shipped) this.skip();
    const fresh = renderCatalogue(dir!);
    if (fresh.commit && shipped!.commit && fresh.commit !== shipped!.commit) {
      console.log(`      (the checkout is at ${fresh.commit}, the catalogue was made at ${shipped!.commit}: compared anyway)`);
    }
    const strip = (c: typeof fresh) => serializeCatalogue({ ...c, ansible: "", commit: "" });
    assert.equal(strip(fresh), strip(shipped!));
  });

  after(() => {
    if (dir && !existsSync(dir)) console.log(`    KUBESPRAY_DIR ${dir} does not exist`);
  });
});
