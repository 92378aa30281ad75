/** Test bundles shared by the transfer and hostile-bundle tests: signed folders of given items, tree digests. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildManifest, serializeManifest, type Artifact, type Repository } from "../../bundle/manifest.js";
import { readPrivateKey, signBytes } from "../../bundle/sign.js";
import { listFiles, sha256 } from "./helpers.js";

/** Content of one artifact of a test bundle. */
export interface Item {
  kind: Artifact["kind"];
  path: string;
  content: Buffer;
  tag?: string;
  /** Packages: name (default: the file's), version, architecture and OS release. */
  name?: string;
  version?: string;
  arch?: string;
  release?: Artifact["release"];
}

/** Options of makeBundle. */
export interface BundleSpec {
  /** @default "t" */
  site?: string;
  /** @default the next of a counter: bundles made later are newer */
  sequence?: number;
  repositories?: Repository[];
  /** Changes the manifest (as parsed JSON) after it is built and before it is signed: hostile bundles. */
  edit?: (m: Record<string, any>) => void;
}

let lastSequence = 0;

/**
 * Writes a signed bundle folder (blobs, manifest.json, manifest.json.sig) of
 * these items, for site `site`; each bundle made gets the next sequence
 * unless `sequence` is given (bundles made later are newer, as on a bastion).
 */
export async function makeBundle(dir: string, items: Item[], keyFile: string, o: BundleSpec = {}): Promise<Buffer> {
  mkdirSync(path.join(dir, "blobs/sha256"), { recursive: true });
  const artifacts: Artifact[] = items.map((i) => {
    const digest = sha256(i.content);
    writeFileSync(path.join(dir, "blobs/sha256", digest), i.content);
    const name = i.name ?? (i.kind === "image-blob" ? `sha256:${digest}` : i.kind === "image" ? "registry.example/app" : path.basename(i.path));
    return {
      kind: i.kind, name, ...(i.version ? { version: i.version } : {}), ...(i.arch ? { arch: i.arch } : {}), ...(i.release ? { release: i.release } : {}),
      ...(i.tag ? { tag: i.tag } : {}), source: `https://up.example/${i.path}`, path: i.path, size: i.content.length, sha256: digest,
    };
  });
  const sequence = o.sequence ?? ++lastSequence;
  const created = new Date(Date.UTC(2026, 10, 1) + sequence * 60_000).toISOString().replace(/\.\d+Z$/, "Z");
  let text = Buffer.from(serializeManifest(buildManifest(o.site ?? "t", o.repositories ?? [], artifacts, { sequence, created })));
  if (o.edit) {
    const m = JSON.parse(text.toString()) as Record<string, any>;
    o.edit(m);
    text = Buffer.from(JSON.stringify(m, null, 2) + "\n");
  }
  writeFileSync(path.join(dir, "manifest.json"), text);
  writeFileSync(path.join(dir, "manifest.json.sig"), signBytes(text, await readPrivateKey(keyFile)));
  return text;
}

/** An OCI image: two shared base layers, one layer of its own, config and manifest; every blob an item. */
export function image(tag: string, base: Buffer[], own: Buffer): Item[] {
  const layers = [...base, own];
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${sha256(l)}`) } }));
  const desc = (b: Buffer, mediaType: string) => ({ mediaType, digest: `sha256:${sha256(b)}`, size: b.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: desc(config, "application/vnd.oci.image.config.v1+json"),
      layers: layers.map((l) => desc(l, "application/vnd.oci.image.layer.v1.tar+gzip")),
    }),
  );
  const blob = (b: Buffer): Item => ({ kind: "image-blob", path: `oci/blobs/sha256/${sha256(b)}`, content: b });
  return [...layers.map(blob), blob(config), blob(manifest), { kind: "image", path: `oci/refs/registry.example/app:${tag}`, content: manifest, tag }];
}

/** One line per file of the tree: path and sha256 (the staging folder included). */
export function treeHash(dir: string): string {
  if (!existsSync(dir)) return "(absent)";
  return listFiles(dir)
    .map((f) => `${f} ${sha256(readFileSync(path.join(dir, f)))}`)
    .join("\n");
}

/** Member names of a tar, in order (GNU tar lists them). */
export function members(file: string): string[] {
  const r = spawnSync("tar", ["-tf", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split("\n");
}


/** A real .deb (dpkg-deb --build) of package `name`, version 1.0, for `arch`, holding one small file. */
export function tinyDeb(dir: string, name: string, arch = "amd64"): Buffer {
  const root = path.join(dir, `${name}-deb`);
  mkdirSync(path.join(root, "DEBIAN"), { recursive: true });
  mkdirSync(path.join(root, "usr/share/doc", name), { recursive: true });
  writeFileSync(path.join(root, "DEBIAN/control"), `Package: ${name}\nVersion: 1.0\nArchitecture: ${arch}\nMaintainer: airgap tests <t@example.invalid>\nDescription: test package\n`);
  writeFileSync(path.join(root, "usr/share/doc", name, "README"), `${name}\n`);
  const out = path.join(dir, `${name}_1.0_${arch}.deb`);
  const r = spawnSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", root, out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out);
}
