/**
 * Registry bench (`node dist/test/bench/registry.bench.js`, as root): 20
 * images sharing three base layers, served by a throwaway upstream registry
 * on the loopback, bundled by bundle/images.ts, then seeded into a
 * fresh site registry (distribution behind nginx, from the role's templates):
 *
 *   - our push (the role's tool: digest check, several at a time, an image
 *     that shares a layer waiting only for the push that uploads it, so a
 *     shared layer is uploaded once and mounted elsewhere, from the bundle's
 *     OCI layout) vs kubespray-offline's load-tag-push loop (one
 *     docker-archive tarball per image, pushed one after the other, every
 *     layer uploaded by every image), and vs one `skopeo copy` per image in
 *     sequence from the same OCI layout (which mounts shared layers too);
 *   - the bundle's size for those images vs the sum of one docker-archive
 *     tarball per image.
 *
 * Prints ratios; never fails on time. AIRGAP_BENCH_JOBS (4),
 * AIRGAP_BENCH_BASE_MB (16: the largest base; the others are 1/2 and 1/4),
 * AIRGAP_BENCH_IMAGES (20, at least 3); `npm test` runs it once at a tiny
 * size where it can (root, the tools; bench.test.ts).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { copyImages, type ImageRequest } from "../../bundle/images.js";
import { buildManifest, serializeManifest } from "../../bundle/manifest.js";
import { formatBytes } from "../../bundle/progress.js";
import { keygen, readPrivateKey, signBytes } from "../../bundle/sign.js";
import { Store } from "../../bundle/store.js";
import {
  buildImages,
  freePort,
  issue,
  makeCa,
  missingTools,
  pushAll,
  shAsync,
  startRegistry,
  startSiteRegistry,
  tempDir,
  TOOL,
  type ImageSpec,
  type SiteRegistry,
} from "../roles/registry-harness.js";

const COUNT = Math.max(3, Number(process.env.AIRGAP_BENCH_IMAGES ?? 20));

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function check(r: { code: number; stderr: string }, what: string): Promise<void> {
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stderr}`);
}

/** containers/image keeps a blob info cache (where each layer was pushed, to mount it elsewhere). */
const SYSTEM_CACHE = "/var/lib/containers/cache";

/**
 * `cmd args` with its own blob info cache `cache` (a folder bind-mounted over
 * the system one in a private mount namespace): each measurement starts from
 * an empty cache, as on a fresh admin host, and none reads another's.
 */
function withCache(cache: string, cmd: string, args: string[], input?: string) {
  mkdirSync(cache, { recursive: true });
  mkdirSync(SYSTEM_CACHE, { recursive: true });
  return shAsync("unshare", ["--mount", "--propagation", "private", "sh", "-c", `mount --bind "$0" ${SYSTEM_CACHE} && exec "$@"`, cache, cmd, ...args], { input });
}

async function main(): Promise<void> {
  // `npm run bench` runs every benchmark: this one says why it cannot run here and goes on.
  if (process.getuid?.() !== 0) {
    console.log("registry bench: skipped, needs root (nginx workers as www-data, a private mount namespace)");
    return;
  }
  const missing = missingTools();
  if (missing.length) {
    console.log(`registry bench: skipped, needs ${missing.join(", ")}`);
    return;
  }
  const jobs = Number(process.env.AIRGAP_BENCH_JOBS ?? 4);
  const baseMb = Number(process.env.AIRGAP_BENCH_BASE_MB ?? 16);
  const dir = tempDir("airgap-registry-bench-");
  const stops: (() => Promise<void>)[] = [];
  try {
    const ca = makeCa(path.join(dir, "ca"));
    // 20 images over three bases (large, medium, small), each with a layer of its own.
    const bases = [
      { name: "large", bytes: baseMb * 1_000_000 },
      { name: "medium", bytes: (baseMb / 2) * 1_000_000 },
      { name: "small", bytes: (baseMb / 4) * 1_000_000 },
    ];
    const specs: ImageSpec[] = Array.from({ length: COUNT }, (_, i) => ({ name: `app-${String(i + 1).padStart(2, "0")}`, base: bases[i % 3].name, own: 500_000 + i * 50_000 }));
    console.log(`registry bench: ${COUNT} images on 3 shared bases (${bases.map((b) => formatBytes(b.bytes)).join(", ")}), own layers ${formatBytes(specs[0].own)}–${formatBytes(specs[COUNT - 1].own)}; ${jobs} pushes at a time`);

    // The upstream registry, with the images built here (one base size per layout build).
    const port = await freePort();
    const upstream = await startRegistry({ dir: path.join(dir, "upstream"), port, tls: issue(ca, "upstream") });
    stops.push(() => upstream.stop());
    const layout = path.join(dir, "build");
    for (const b of bases) {
      const l = buildImages(path.join(layout, b.name), specs.filter((s) => s.base === b.name), b.bytes);
      await pushAll(l, `127.0.0.1:${port}`, ca.certDir, specs.filter((s) => s.base === b.name).map((s) => [s.name, `bench/${s.name}:1.0`]));
    }
    const requests: ImageRequest[] = specs.map((s) => ({ source: `127.0.0.1:${port}/bench/${s.name}:1.0`, target: `bench/${s.name}:1.0`, arches: ["amd64"] }));

    // The bundle.
    const bundle = path.join(dir, "bundle");
    const store = new Store(bundle);
    await store.open();
    const [result, bundleMs] = await timed(() => copyImages(store, requests, { certDir: ca.certDir, jobs, stderr: { write: () => true } }));
    await store.close();
    if (result.failures.length) throw new Error(result.failures.map((f) => f.message).join("\n"));
    // Signed, as every bundle: the role's tool reads no manifest without the site's trusted key.
    const keys = await keygen(path.join(dir, "keys"));
    const text = Buffer.from(serializeManifest(buildManifest("bench", [], result.artifacts)));
    writeFileSync(path.join(bundle, "manifest.json"), text);
    writeFileSync(path.join(bundle, "manifest.json.sig"), signBytes(text, await readPrivateKey(keys.privateKey)));
    const trust = ["--trusted-key", readFileSync(keys.publicKey, "utf8"), "--site", "bench"];
    const bundleBytes = readdirSync(path.join(bundle, "blobs/sha256")).reduce((n, f) => n + statSync(path.join(bundle, "blobs/sha256", f)).size, 0);

    // One docker-archive tarball per image (what a load-tag-push workflow carries).
    const archives = path.join(dir, "archives");
    let archiveBytes = 0;
    const [, archiveMs] = await timed(async () => {
      for (const r of requests) {
        const file = path.join(archives, `${r.target.replace(/[/:]/g, "_")}.tar`);
        await check(await shAsync("mkdir", ["-p", archives]), "mkdir");
        await check(await shAsync("skopeo", ["copy", "--quiet", "--src-cert-dir", ca.certDir, `docker://${r.source}`, `docker-archive:${file}:${r.target}`]), `docker-archive of ${r.source}`);
        archiveBytes += statSync(file).size;
      }
    });

    // The admin side: the host's OCI layout over the bundle's store.
    const hostLayout = path.join(dir, "host-oci");
    const images = JSON.stringify(requests.map((r) => ({ source: r.source, target: r.target })));
    const manifestFile = path.join(bundle, "manifest.json");
    await check(await shAsync("python3", [TOOL, "layout", ...trust, manifestFile, bundle, hostLayout, "--images", images]), "layout");

    const fresh = async (name: string): Promise<SiteRegistry> => {
      const s = await startSiteRegistry(path.join(dir, name), ca);
      stops.push(() => s.stop());
      return s;
    };

    // Ours.
    const ours = await fresh("site-ours");
    const account = JSON.stringify({ user: ours.push.user, password: ours.push.password });
    const pushArgs = (s: SiteRegistry) => [TOOL, "push", ...trust, manifestFile, hostLayout, s.host, ca.certDir, "--images", images, "--jobs", String(jobs)];
    const oursCache = path.join(dir, "cache-ours");
    const [oursRun, oursMs] = await timed(() => withCache(oursCache, "python3", pushArgs(ours), account));
    await check(oursRun, "our push");
    const [againRun, againMs] = await timed(() => withCache(oursCache, "python3", pushArgs(ours), account));
    await check(againRun, "our second push");

    // One skopeo copy per image, in sequence, from the same layout.
    const seq = await fresh("site-sequential");
    const [, seqMs] = await timed(async () => {
      for (const r of requests) {
        await check(await withCache(path.join(dir, "cache-sequential"), "skopeo", ["copy", "--quiet", "--dest-cert-dir", ca.certDir, "--dest-authfile", seq.push.authFile, `oci:${hostLayout}:${r.source}`, `docker://${seq.host}/${r.target}`]), `copy of ${r.target}`);
      }
    });

    // kubespray-offline's loop: each image's own tarball loaded and pushed, one
    // after the other. Loaded from a tarball, a layer has no known source to
    // mount from (containerd's pusher mounts only content it pulled from that
    // registry): every image uploads all its layers, compressed at push time.
    // Emulated with an empty blob info cache per image; the load itself (into
    // containerd) is not counted.
    const loop = await fresh("site-archives");
    const [, loopMs] = await timed(async () => {
      for (const [n, r] of requests.entries()) {
        const file = path.join(archives, `${r.target.replace(/[/:]/g, "_")}.tar`);
        await check(await withCache(path.join(dir, `cache-archive-${n}`), "skopeo", ["copy", "--quiet", "--dest-cert-dir", ca.certDir, "--dest-authfile", loop.push.authFile, `docker-archive:${file}`, `docker://${loop.host}/${r.target}`]), `push of ${file}`);
      }
    });

    const pushed = (JSON.parse(oursRun.stdout) as { pushed: string[] }).pushed.length;
    const again = JSON.parse(againRun.stdout) as { pushed: string[]; present: number };
    console.log(`  bundle: ${result.blobs} distinct blobs for ${COUNT} images, copied from upstream in ${seconds(bundleMs)} (${jobs} at a time); docker-archive tarballs written in ${seconds(archiveMs)}`);
    console.log(`  push, ours (${pushed} images, ${jobs} at a time, digests kept): ${seconds(oursMs)}; again (nothing to push, ${again.present} present): ${seconds(againMs)}`);
    console.log(`  push, kubespray-offline's loop (one docker-archive per image in sequence, no mounts): ${seconds(loopMs)}`);
    console.log(`  push, one skopeo copy per image in sequence from the same OCI layout (mounts shared layers): ${seconds(seqMs)}`);
    console.log(`  ratio push: kubespray-offline loop / ours = ${(loopMs / oursMs).toFixed(2)}x (target ≥ 3x); sequential copies from the layout / ours = ${(seqMs / oursMs).toFixed(2)}x; our re-run / our first = ${(againMs / oursMs).toFixed(3)}`);
    console.log(`  size: bundle ${formatBytes(bundleBytes)} vs ${COUNT} docker-archive tarballs ${formatBytes(archiveBytes)}: ratio ${(bundleBytes / archiveBytes).toFixed(3)} (target ≤ 0.6)`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (process.env.AIRGAP_KEEP_TMP !== "1") rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
