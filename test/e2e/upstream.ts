/**
 * The lab's upstream registry: examples/lab.ts lists images at
 * 127.0.0.1:5917, which no public registry is. While the fixture bundles,
 * a throwaway registry (Debian's docker-registry, run by hand with its own
 * configuration, TLS from a throwaway CA) serves there, on the bastion's
 * loopback only, three images built here with umoci that share a base layer.
 * `airgap bundle` copies them from it, verifying TLS with `--cert-dir`.
 */
import path from "node:path";
import { makeCa, startUpstream, type ImageSpec } from "../roles/registry-harness.js";

export const UPSTREAM_PORT = 5917;
export const UPSTREAM = `127.0.0.1:${UPSTREAM_PORT}`;
/** The images, as examples/lab.ts lists them: `[layout tag, path:tag upstream]`. */
export const LAB_IMAGES: ImageSpec[] = [
  { name: "app-one", base: "lab", own: 300_000 },
  { name: "app-two", base: "lab", own: 400_000 },
  { name: "app-three", base: "lab", own: 500_000 },
];
export const labImageRef = (s: ImageSpec) => `${UPSTREAM}/airgap-lab/${s.name}:1.0`;

/** Starts the upstream with the lab's images; `stop()` ends its process. */
export async function startLabUpstream(dir: string): Promise<{ certDir: string; stop: () => Promise<void> }> {
  const ca = makeCa(path.join(dir, "ca"), "airgap lab upstream CA");
  const u = await startUpstream(dir, ca, LAB_IMAGES, LAB_IMAGES.map((s) => [s.name, `airgap-lab/${s.name}:1.0`]), { port: UPSTREAM_PORT, baseBytes: 3_000_000 });
  return { certDir: ca.certDir, stop: () => u.registry.stop() };
}
