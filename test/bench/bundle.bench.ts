/**
 * Bundle bench (`node dist/test/bench/bundle.bench.js`; part of `npm run
 * bench`): a test image set built here with umoci (20 images on three shared
 * bases, each with a layer of its own), served by a throwaway registry on the
 * loopback and bundled by bundle/images.ts (skopeo), then:
 *
 *   - delta size: one image's tag bumped (a new own layer on the same base),
 *     bundled again, exported with --since the old manifest; delta / full
 *     transfer file (target < 0.1);
 *   - import throughput: `airgap import` of the full transfer file (signature,
 *     every blob hashed, staging, renames) vs plain `tar -x` of the same file
 *     into an empty folder (target <= 1.5x), median of 3 runs each; beside
 *     it SHA-256 alone over the file (the floor of any verification) and
 *     `tar -x` followed by `sha256sum` of every blob (checking by hand).
 *
 * Prints ratios; never fails on time. Skips, saying why, without umoci,
 * skopeo or docker-registry. AIRGAP_BENCH_BASE_MB (16: the largest base),
 * AIRGAP_BENCH_IMAGES (20, at least 3), AIRGAP_BENCH_RUNS (3: runs per
 * timing, the median printed); `npm test` runs it once at a tiny size
 * (bench.test.ts).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { copyImages, type ImageRequest } from "../../bundle/images.js";
import { buildManifest, serializeManifest } from "../../bundle/manifest.js";
import { formatBytes, formatRate } from "../../bundle/progress.js";
import { keygen, readPrivateKey, readPublicKey, signBytes } from "../../bundle/sign.js";
import { Store } from "../../bundle/store.js";
import { exportBundle, importTransfer } from "../../bundle/transfer.js";
import { freePort, makeCa, startUpstream, tempDir, type ImageSpec } from "../roles/registry-harness.js";

const COUNT = Math.max(3, Number(process.env.AIRGAP_BENCH_IMAGES ?? 20));
const RUNS = Math.max(1, Number(process.env.AIRGAP_BENCH_RUNS ?? 3));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const missing = ["umoci", "skopeo", "docker-registry", "openssl", "tar"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length) {
    console.log(`bundle bench: skipped, needs ${missing.join(", ")}`);
    return;
  }
  const baseMb = Number(process.env.AIRGAP_BENCH_BASE_MB ?? 16);
  const dir = tempDir("airgap-bundle-bench-");
  const stops: (() => Promise<void>)[] = [];
  try {
    const ca = makeCa(path.join(dir, "ca"));
    const keys = await keygen(path.join(dir, "keys"));
    const key = await readPrivateKey(keys.privateKey);
    const trust = await readPublicKey(keys.publicKey);
    // One base size per upstream build (buildImages makes one base per layout); the bumped image is built with its base.
    const bases = [
      { name: "large", bytes: baseMb * 1_000_000 },
      { name: "medium", bytes: (baseMb / 2) * 1_000_000 },
      { name: "small", bytes: (baseMb / 4) * 1_000_000 },
    ];
    const specs: ImageSpec[] = Array.from({ length: COUNT }, (_, i) => ({ name: `app-${String(i + 1).padStart(2, "0")}`, base: bases[i % 3].name, own: 500_000 + i * 50_000 }));
    const bumped: ImageSpec = { name: "app-01-next", base: specs[0].base, own: specs[0].own };
    const hostOf = new Map<ImageSpec, string>();
    for (const b of bases) {
      const mine = specs.filter((s) => s.base === b.name);
      if (b.name === bumped.base) mine.push(bumped);
      const names = mine.map((s): [string, string] => [s.name, s === bumped ? "bench/app-01:1.1" : `bench/${s.name}:1.0`]);
      const up = await startUpstream(path.join(dir, `up-${b.name}`), ca, mine, names, { port: await freePort(), baseBytes: b.bytes });
      stops.push(() => up.registry.stop());
      for (const s of mine) hostOf.set(s, up.host);
    }
    const request = (s: ImageSpec, tag: string): ImageRequest => ({ source: `${hostOf.get(s)}/bench/${s.name.replace("-next", "")}:${tag}`, target: `bench/${s.name.replace("-next", "")}:${tag}`, arches: ["amd64"] });
    console.log(`bundle bench: ${COUNT} images on 3 shared bases (${bases.map((b) => formatBytes(b.bytes)).join(", ")}), then app-01 bumped 1.0 -> 1.1`);

    // Bundle before and after the bump, in one store (as on the bastion).
    const bundle = path.join(dir, "bundle");
    const store = new Store(bundle);
    const manifests: string[] = [];
    for (const list of [specs.map((s) => request(s, "1.0")), [request(bumped, "1.1"), ...specs.slice(1).map((s) => request(s, "1.0"))]]) {
      await store.open();
      const r = await copyImages(store, list, { certDir: ca.certDir, jobs: 4, stderr: { write: () => true } });
      await store.close();
      if (r.failures.length) throw new Error(r.failures.map((f) => f.message).join("\n"));
      const text = serializeManifest(buildManifest("bench", [], r.artifacts));
      writeFileSync(path.join(bundle, "manifest.json"), text);
      writeFileSync(path.join(bundle, "manifest.json.sig"), signBytes(Buffer.from(text), key));
      const copy = path.join(dir, `manifest-${manifests.length + 1}.json`);
      writeFileSync(copy, text);
      manifests.push(copy);
    }

    const full = await exportBundle({ dir: bundle, file: path.join(dir, "full.tar") });
    const delta = await exportBundle({ dir: bundle, file: path.join(dir, "delta.tar"), since: manifests[0] });
    console.log(`  delta after one image tag bump: ${delta.blobs} blobs, ${formatBytes(delta.bytes)}; full transfer ${full.blobs} blobs, ${formatBytes(full.bytes)}`);
    console.log(`  ratio delta / full = ${(delta.bytes / full.bytes).toFixed(4)} (target < 0.1)`);

    // Import vs tar -x of the same file, warm page cache for both (one untimed tar -x first).
    const out = path.join(dir, "out");
    const untar = () => {
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      const r = spawnSync("tar", ["-xf", full.file, "-C", out]);
      if (r.status !== 0) throw new Error(`tar -x: ${r.stderr}`);
    };
    untar();
    const tarMs: number[] = [];
    const importMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      tarMs.push(await timed(untar));
      rmSync(out, { recursive: true, force: true });
      const site = path.join(dir, "site-store");
      rmSync(site, { recursive: true, force: true });
      importMs.push(await timed(() => importTransfer({ inputs: [full.file], store: site, trust })));
    }
    // The floor of any verification: SHA-256 over the same bytes, on one core (this CPU's speed, SHA extensions or not).
    const hashMs: number[] = [];
    for (let i = 0; i < RUNS; i++) hashMs.push(await timed(async () => {
      const h = createHash("sha256");
      for await (const piece of createReadStream(full.file, { highWaterMark: 1 << 20 })) h.update(piece as Buffer);
      h.digest();
    }));
    // What a careful operator does by hand: tar -x, then sha256sum of every blob.
    const checkMs: number[] = [];
    for (let i = 0; i < RUNS; i++) checkMs.push(await timed(() => {
      untar();
      const r = spawnSync("sh", ["-c", "sha256sum blobs/sha256/* > /dev/null"], { cwd: out });
      if (r.status !== 0) throw new Error(`sha256sum: ${r.stderr}`);
    }));
    const [t, im, hm, cm] = [median(tarMs), median(importMs), median(hashMs), median(checkMs)];
    console.log(`  import of the full transfer (${formatBytes(full.bytes)}): ${im.toFixed(0)} ms (${formatRate(full.bytes, im)}); tar -x of the same file: ${t.toFixed(0)} ms (${formatRate(full.bytes, t)})`);
    console.log(`  sha256 alone over the file: ${hm.toFixed(0)} ms (${formatRate(full.bytes, hm)}); tar -x then sha256sum of every blob: ${cm.toFixed(0)} ms`);
    console.log(`  ratio import / tar -x = ${(im / t).toFixed(2)}x (target <= 1.5x); import / (tar -x + sha256sum) = ${(im / cm).toFixed(2)}x; import / (tar -x + sha256 floor) = ${(im / (t + hm)).toFixed(2)}x`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (process.env.AIRGAP_KEEP_TMP !== "1") rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
