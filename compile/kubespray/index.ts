/**
 * Kubespray offline: the catalogue of what each release downloads, the exact
 * list a site needs, the offline variables, and the zero-leak check.
 * docs/kubespray.md explains the whole.
 */
import type { KubesprayModel } from "../components/kubespray.js";
import type { CoreModel } from "../model/site.js";
import { computeList, type KubesprayArtifacts } from "./artifacts.js";

export type { KubesprayArtifacts, KubesprayFile, KubesprayImage } from "./artifacts.js";
export { shippedReleases, loadCatalogue } from "./catalogue.js";

/**
 * The files and images the site's cluster needs, for `airgap bundle`:
 * files as `{url, sha256, checksum, path: "files/<host>/<path>", …}`, images as
 * `{source: "registry.k8s.io/pause:3.10", path: "pause", tag: "3.10", target: "pause:3.10", arches, …}`.
 * `everything` overrides the site's own `kubespray.everything`.
 * Throws when the list cannot be made (the compile reports those as errors first).
 */
export function kubesprayArtifacts(core: CoreModel, kubespray: KubesprayModel, options: { everything?: boolean } = {}): KubesprayArtifacts {
  if (options.everything === undefined || options.everything === kubespray.everything) return kubespray.artifacts;
  const { artifacts, problems } = computeList({
    catalogue: kubespray.catalogue,
    kubernetes: kubespray.kubernetes,
    settings: kubespray.settings,
    groups: kubespray.groups,
    everything: options.everything,
  });
  if (problems.length) throw new Error(`the Kubespray list for ${core.name}: ${problems.map((p) => p.message).join("; ")}`);
  return artifacts;
}
