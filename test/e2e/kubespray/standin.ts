/**
 * Writes the lab's stand-in Kubespray catalogue and files (run once, commit
 * the output; `node dist/test/e2e/kubespray/standin.js`).
 *
 * The real checksums are for real binaries the lab cannot fetch, so the lab
 * site (examples/lab.ts, `kubespray.catalogue`) takes a catalogue derived from
 * a shipped one: the file downloads a calico + containerd cluster needs, for
 * one Kubernetes version and amd64, each under its real upstream URL and
 * Kubespray variable, with a small stand-in file in the test mirror
 * (test/e2e/mirror/<host>/<path>) whose sha256 replaces Kubespray's pin.
 * Images are left out: the registry tests carry their own. The controller's
 * Python requirements are the lab's test wheel airgap-lab-controller
 * (test/bundle/make_wheels.py): the lab has no way to PyPI.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCatalogue, serializeCatalogue, type Catalogue } from "../../../compile/kubespray/catalogue.js";
import { ROOT } from "../../helpers.js";

const RELEASE = "2.30.0";
const KUBERNETES = "1.32.8";
const ARCH = "amd64";
const NAMES = ["calicoctl", "cni", "containerd", "crictl", "etcd", "kubeadm", "kubectl", "kubelet", "nerdctl", "runc"];
const MIRROR = path.join(ROOT, "test/e2e/mirror");
export const STANDIN_CATALOGUE = path.join(ROOT, "test/e2e/kubespray", `kubespray-${RELEASE}-standin.json`);

function main(): void {
  const real = loadCatalogue(RELEASE);
  if (!real) throw new Error(`no shipped catalogue for Kubespray ${RELEASE}`);
  const downloads: Catalogue["downloads"] = [];
  for (const d of real.downloads) {
    if (!NAMES.includes(d.name) || !d.file) continue;
    const variants = d.file.variants
      .filter((v) => v.arch === ARCH && (!v.kubernetes || v.kubernetes.includes(KUBERNETES)))
      .map((v) => {
        const content = `airgap lab stand-in for ${d.name} ${v.version} linux/${v.arch} (${v.url})\n`;
        const u = new URL(v.url);
        const file = path.join(MIRROR, u.host, decodeURIComponent(u.pathname));
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
        const checksum = `sha256:${createHash("sha256").update(content).digest("hex")}`;
        return { ...(v.kubernetes ? { kubernetes: [KUBERNETES] } : {}), arch: v.arch, version: v.version, url: v.url, checksum };
      });
    if (variants.length !== 1) throw new Error(`${d.name}: ${variants.length} variants for ${KUBERNETES}/${ARCH}`);
    const { image: _image, ...fileOnly } = d;
    // Other versions keep their real checksums, which no stand-in has: left out.
    const { versions: _versions, ...part } = d.file;
    downloads.push({ ...fileOnly, file: { ...part, variants } });
  }
  const standin: Catalogue = {
    ...real,
    commit: "lab stand-in",
    kubernetes: { default: KUBERNETES, supported: [KUBERNETES] },
    arches: [ARCH],
    downloads,
    controller: { requirements: ["airgap-lab-controller==1.0"] },
  };
  writeFileSync(STANDIN_CATALOGUE, serializeCatalogue(standin));
  console.log(`${path.relative(ROOT, STANDIN_CATALOGUE)}: ${downloads.length} downloads, stand-ins under ${path.relative(ROOT, MIRROR)}`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) main();
