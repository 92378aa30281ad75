/**
 * @lab Kubespray's files, offline: each file the stand-in catalogue lists
 * (test/e2e/kubespray/standin.ts; same URLs and Kubespray variables as the
 * shipped 2.30.0 catalogue, small stand-in contents) is fetched on the nodes
 * of its Kubespray group the way Kubespray's download role does it:
 * `get_url` with the URL built from the base variable (`{{ github_url }}/…`,
 * `{{ dl_k8s_io_url }}/…`) as the compiled offline vars set it, and
 * Kubespray's checksum. The URL must be under `files_repo`, nginx on the
 * admin must have served it to that node, and the upstream URL must not
 * answer from the node at all.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Catalogue } from "../../compile/kubespray/catalogue.js";
import { ROOT } from "../helpers.js";
import { formatRecap, labBefore, phase, WORK, type LabRunResult } from "./fixture.js";

const CATALOGUE = path.join(ROOT, "test/e2e/kubespray/kubespray-2.30.0-standin.json");
const DEST = "/var/tmp/airgap-kubespray";

interface Fetch {
  name: string;
  /** Kubespray's group whose hosts download it. */
  groups: string[];
  /** The URL as Kubespray's variable writes it: `{{ base }}` and the upstream path. */
  template: string;
  upstream: string;
  checksum: string;
}

function fetches(c: Catalogue): Fetch[] {
  return c.downloads.flatMap((d) => {
    if (!d.file?.base) return [];
    const base = c.bases[d.file.base];
    return d.file.variants.map((v) => {
      assert.ok(v.url.startsWith(base), `${v.url} starts with ${d.file!.base}`);
      assert.ok(v.checksum?.startsWith("sha256:"), `${d.name} is pinned by sha256`);
      return { name: d.name, groups: d.groups, template: `{{ ${d.file!.base} }}${v.url.slice(base.length)}`, upstream: v.url, checksum: v.checksum! };
    });
  });
}

/** A playbook doing what Kubespray's download_file does for each file: get_url with its checksum. */
function playbook(list: Fetch[]): string {
  const tasks = list.flatMap((f) => [
    `    - name: Download ${f.name} as Kubespray does`,
    "      ansible.builtin.get_url:",
    `        url: ${JSON.stringify(f.template)}`,
    `        dest: ${DEST}/${f.name}`,
    `        checksum: ${JSON.stringify(f.checksum)}`,
    '        mode: "0644"',
    `      register: got_${f.name}`,
    `      when: inventory_hostname in (${f.groups.map((g) => `groups[${JSON.stringify(g)}]`).join(" + ")})`,
    `    - name: The URL of ${f.name} is under files_repo`,
    "      ansible.builtin.assert:",
    "        that:",
    `          - got_${f.name}.url.startswith(files_repo ~ "/")`,
    `        fail_msg: "{{ got_${f.name}.url }} is not under {{ files_repo }}"`,
    `      when: got_${f.name} is not skipped`,
  ]);
  return ["---", "- name: Fetch Kubespray's files the way Kubespray does", "  hosts: k8s_cluster", "  gather_facts: false", "  tasks:",
    `    - name: Start from an empty folder`, "      ansible.builtin.file:", `        path: ${DEST}`, "        state: absent",
    `    - name: Make the folder`, "      ansible.builtin.file:", `        path: ${DEST}`, "        state: directory", '        mode: "0755"',
    ...tasks, ""].join("\n");
}

describe("@lab kubespray: a node fetches Kubespray's files through the compiled URLs", function () {
  let site: LabRunResult;
  const catalogue = JSON.parse(readFileSync(CATALOGUE, "utf8")) as Catalogue;
  const list = fetches(catalogue);

  before(async function () {
    site = await labBefore(this);
  });

  it("the bundle carries each file of the list under files/<host>/<path>", () => {
    const files = new Map(site.manifest.artifacts.filter((a) => a.kind === "file").map((a) => [a.path, a.sha256]));
    for (const f of list) {
      const u = new URL(f.upstream);
      assert.equal(files.get(`files/${u.host}${u.pathname}`), f.checksum.slice("sha256:".length), f.upstream);
    }
  });

  it("get_url with Kubespray's URL variables and checksums fetches each file on its nodes from the site", async function () {
    this.timeout(5 * 60_000);
    const file = path.join(WORK, "kubespray-files.yml");
    writeFileSync(file, playbook(list));
    const r = await site.lab.playbook("kubespray-files", file, [], null);
    phase("kubespray: files through the compiled URLs", r.ms);
    assert.equal(r.code, 0, `log: ${r.log}\n${r.stdout.slice(-3000)}`);
    console.log(`      e2e recap, Kubespray files: ${formatRecap(r.recap)}`);
    for (const node of ["node1", "node2"]) {
      const groups = node === "node1" ? ["k8s_cluster", "kube_control_plane", "etcd"] : ["k8s_cluster", "kube_node"];
      const want = list.filter((f) => f.groups.some((g) => groups.includes(g)));
      const sums = await site.lab.sh(node, `cd ${DEST} && sha256sum *`);
      const got = sums.trim().split("\n").map((l) => l.split(/\s+/)).map(([sum, name]) => `${name} sha256:${sum}`).sort();
      assert.deepEqual(got, want.map((f) => `${f.name} ${f.checksum}`).sort(), node);
    }
  });

  it("nginx on the admin served them to the nodes under files/", async () => {
    const log = await site.lab.sh("admin", "cat /var/log/nginx/airgap-repo.access.log");
    const nodes = ["node1", "node2"].map((n) => site.lab.address(n));
    for (const f of list) {
      const u = new URL(f.upstream);
      const line = log.split("\n").find((l) => l.includes(`"GET /files/${u.host}${u.pathname} `) && / 200 /.test(l));
      assert.ok(line, `no 200 for /files/${u.host}${u.pathname} in the admin's nginx logs`);
      assert.ok(nodes.includes(line.split(" ")[0]), `served to a node: ${line}`);
    }
  });

  it("the upstream URL does not answer from a node (no name, no route)", async () => {
    await site.lab.install("node1", "curl");
    const r = await site.lab.ssh("node1", `curl -sS --max-time 5 -o /dev/null ${list[0].upstream}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Could not resolve host|Failed to connect|timed out/, r.stderr);
  });
});
