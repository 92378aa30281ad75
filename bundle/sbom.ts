/**
 * The bundle's software bill of materials, CycloneDX 1.6 JSON
 * (https://cyclonedx.org/docs/1.6/json/): one component per artifact the
 * manifest lists (image blobs are parts of their image, not components), with
 * its package URL, SHA-256 and upstream address.
 *
 * It is a pure function of the signed manifest's bytes: `airgap bundle` writes
 * it beside manifest.json (`sbom.cdx.json`), `airgap import` writes the same
 * bytes into the store from the manifest it has just verified, and
 * `airgap inspect --sbom` prints it for any bundle or transfer. Deterministic:
 * no timestamp; the serial number is derived from the manifest's SHA-256.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Artifact, Manifest } from "./manifest.js";

/** This airgap's version (package.json), named in the SBOM as the tool that wrote it. */
export function airgapVersion(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  return (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
}

export const SBOM_FILE = "sbom.cdx.json";

/** A CycloneDX component, as much of it as airgap fills. */
export interface SbomComponent {
  type: "library" | "file" | "container";
  "bom-ref": string;
  name: string;
  version?: string;
  purl?: string;
  hashes: { alg: "SHA-256"; content: string }[];
  externalReferences?: { type: "distribution"; url: string }[];
  properties: { name: string; value: string }[];
}

/** `urn:uuid:` of an RFC 4122 name-based (version 5 layout) UUID made from a SHA-256. */
function serialFrom(sha256: string): string {
  const h = sha256.slice(0, 32).split("");
  h[12] = "5";
  h[16] = "89ab"[parseInt(h[16], 16) & 3];
  const s = h.join("");
  return `urn:uuid:${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

const enc = (s: string) => encodeURIComponent(s);

/** A package URL (https://github.com/package-url/purl-spec) for an artifact; undefined for kinds with none. */
export function purlOf(a: Artifact): string | undefined {
  const q = (params: [string, string | undefined][]) => {
    const set = params.filter((p): p is [string, string] => p[1] !== undefined).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return set.length ? `?${set.map(([k, v]) => `${k}=${enc(v)}`).join("&")}` : "";
  };
  switch (a.kind) {
    case "deb": {
      const vendor = a.release?.startsWith("ubuntu") ? "ubuntu" : "debian";
      return `pkg:deb/${vendor}/${enc(a.name)}${a.version ? `@${enc(a.version)}` : ""}${q([["arch", a.arch], ["distro", a.release]])}`;
    }
    case "rpm":
      return `pkg:rpm/${enc(a.release?.split("-")[0] ?? "rpm")}/${enc(a.name)}${a.version ? `@${enc(a.version)}` : ""}${q([["arch", a.arch], ["distro", a.release]])}`;
    case "kit":
      // The controller's kit: wheels under kit/python/, npm packages (Node.js, airgap) elsewhere.
      if (a.path.startsWith("kit/python/")) return `pkg:pypi/${enc(a.name.toLowerCase().replace(/[-_.]+/g, "-"))}${a.version ? `@${enc(a.version)}` : ""}`;
      return `pkg:npm/${enc(a.name)}${a.version ? `@${enc(a.version)}` : ""}`;
    case "wheel":
      return `pkg:pypi/${enc(a.name.toLowerCase().replace(/[-_.]+/g, "-"))}${a.version ? `@${enc(a.version)}` : ""}`;
    case "image": {
      // pkg:oci/<last path segment>@<digest>?repository_url=<registry/path>&tag=<tag>
      const last = a.name.split("/").at(-1)!;
      return `pkg:oci/${enc(last.toLowerCase())}@${enc(`sha256:${a.sha256}`)}${q([["repository_url", a.name], ["tag", a.tag]])}`;
    }
    case "file": {
      const file = a.path.split("/").at(-1)!;
      return `pkg:generic/${enc(file)}${a.version ? `@${enc(a.version)}` : ""}${q([["checksum", `sha256:${a.sha256}`], ["download_url", /^https?:\/\//.test(a.source) ? a.source : undefined]])}`;
    }
    default:
      return undefined;
  }
}

function component(a: Artifact): SbomComponent {
  const purl = purlOf(a);
  return {
    type: a.kind === "image" ? "container" : a.kind === "file" ? "file" : "library",
    "bom-ref": `${a.kind}:${a.path}`,
    name: a.kind === "file" ? a.path.split("/").at(-1)! : a.name,
    ...(a.version !== undefined ? { version: a.version } : a.tag !== undefined ? { version: a.tag } : {}),
    ...(purl ? { purl } : {}),
    hashes: [{ alg: "SHA-256", content: a.sha256 }],
    ...(/^https?:\/\//.test(a.source) ? { externalReferences: [{ type: "distribution", url: a.source }] } : {}),
    properties: [
      { name: "airgap:kind", value: a.kind },
      { name: "airgap:path", value: a.path },
      { name: "airgap:size", value: String(a.size) },
      { name: "airgap:source", value: a.source },
    ],
  };
}

/**
 * The CycloneDX document for a manifest. `manifestSha256` is the SHA-256 of
 * the manifest's exact bytes (the serial number and the subject's version come
 * from it); `tool` names the airgap that wrote it.
 */
export function sbomFor(m: Manifest, manifestSha256: string, tool: { version: string }): Record<string, unknown> {
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    serialNumber: serialFrom(manifestSha256),
    version: 1,
    metadata: {
      tools: { components: [{ type: "application", name: "airgap", version: tool.version }] },
      component: { type: "platform", "bom-ref": `site:${m.site}`, name: m.site, version: `manifest-sha256:${manifestSha256}` },
    },
    components: m.artifacts.filter((a) => a.kind !== "image-blob").map(component),
  };
}

/** The SBOM's bytes: stable JSON (two-space indent, trailing newline). */
export function serializeSbom(m: Manifest, manifestBytes: Buffer, tool: { version: string } = { version: airgapVersion() }): string {
  return JSON.stringify(sbomFor(m, createHash("sha256").update(manifestBytes).digest("hex"), tool), null, 2) + "\n";
}
