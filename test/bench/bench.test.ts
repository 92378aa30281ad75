/**
 * Every benchmark of `npm run bench` runs once at a tiny size inside `npm
 * test`, so that none can break unseen: the generated site stays valid, and
 * each benchmark runs to the end and prints its ratios with their targets.
 * Pass or fail on completion only, never on time. A benchmark that needs what
 * this machine lacks (root, skopeo, umoci, docker-registry, nginx) is skipped
 * here by name, never passed without running.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeTsc } from "../../compile/load/typecheck.js";
import { CLI } from "../helpers.js";
import { missingTools } from "../roles/registry-harness.js";
import { bigSite } from "./big-site.js";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("benchmarks at a tiny size", function () {
  this.timeout(120000);
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-bench-test-"))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("the bench's generated site compiles (5 hosts)", () => {
    const site = path.join(tmp, "site.ts");
    writeFileSync(site, bigSite(5));
    const r = spawnSync(process.execPath, [CLI, "compile", site, "-o", path.join(tmp, "out")], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^wrote \d+ files/);
  });

  it("the compile benchmark runs to the end and prints its ratios, with a baseline build beside them (5 hosts, 1 run)", function () {
    if (!nativeTsc()) this.skip();
    const r = spawnSync(process.execPath, [path.join(here, "compile.bench.js")], {
      encoding: "utf8",
      // This build as its own baseline: the option's lines are printed.
      env: { ...process.env, FORCE_COLOR: "0", AIRGAP_BENCH_HOSTS: "5", AIRGAP_BENCH_RUNS: "1", AIRGAP_BENCH_BASELINE: CLI },
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^site: 5 hosts, median of 1 runs$/m);
    // The CPU ratio is printed where the kernel tells the children's CPU time (Linux).
    const cpu = process.platform === "linux" ? "; CPU \\d+\\.\\d\\d" : "";
    for (const what of ["airgap compile", "airgap compile into a new folder", "airgap validate"]) {
      assert.match(r.stdout, new RegExp(`^ratio ${what} / tsc --noEmit: \\d+\\.\\d\\d \\(target < 1\\.5\\)${cpu}$`, "m"), what);
    }
    assert.equal(r.stdout.match(/^ {2}baseline: \d+\.\d\d/gm)?.length, 3, r.stdout);
  });

  /** Runs a benchmark script once with `env`; fails on a non-zero exit; returns what it printed. */
  const bench = (script: string, env: Record<string, string>): string => {
    const r = spawnSync(process.execPath, [path.join(here, script)], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0", ...env } });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout, /skipped/, "the test checked the benchmark's needs; it must not skip");
    return r.stdout;
  };
  const TINY = { AIRGAP_BENCH_IMAGES: "3", AIRGAP_BENCH_BASE_MB: "1", AIRGAP_BENCH_RUNS: "1" };

  it("the bundle benchmark runs to the end and prints its ratios (3 images, 1 MB base, 1 run)", function () {
    const missing = ["umoci", "skopeo", "docker-registry", "openssl", "tar"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
    if (missing.length) this.skip();
    const out = bench("bundle.bench.js", TINY);
    assert.match(out, /^bundle bench: 3 images on 3 shared bases/m);
    assert.match(out, /ratio delta \/ full = \d+\.\d+ \(target < 0\.1\)/);
    assert.match(out, /ratio import \/ tar -x = \d+\.\d+x \(target <= 1\.5x\)/);
  });

  it("the registry benchmark runs to the end and prints its ratios (3 images, 1 MB base; root)", function () {
    if (process.getuid?.() !== 0 || missingTools().length) this.skip();
    const out = bench("registry.bench.js", TINY);
    assert.match(out, /^registry bench: 3 images on 3 shared bases/m);
    assert.match(out, /ratio push: kubespray-offline loop \/ ours = \d+\.\d+x \(target ≥ 3x\)/);
    assert.match(out, /our re-run \/ our first = \d+\.\d+/);
    assert.match(out, /size: bundle .* ratio \d+\.\d+ \(target ≤ 0\.6\)/);
  });
});
