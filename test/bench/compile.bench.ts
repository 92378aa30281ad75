/**
 * `npm run bench`: compile a site of 1,000 hosts and compare with the floor,
 * the native `tsc --noEmit` type check of the same file (TypeScript 7). Runs
 * are interleaved (tsc, then each airgap command, then tsc again, ...), so a
 * machine busy with other work slows every side alike; each time is the median
 * over the runs. Measured:
 *
 *   - `airgap compile` into the folder it wrote before, the site unchanged
 *     (an operator's recompile: nothing to write, the diagram's layout kept);
 *   - `airgap compile` into a new folder (every file written, Graphviz run);
 *   - `airgap validate` (no output).
 *
 * Prints each ratio with its target; never fails on time.
 * AIRGAP_BENCH_HOSTS (1000), AIRGAP_BENCH_RUNS (7).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { nativeTsc, siteCompilerOptions } from "../../compile/load/typecheck.js";
import { CLI } from "../helpers.js";
import { bigSite } from "./big-site.js";

function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const hosts = Number(process.env.AIRGAP_BENCH_HOSTS ?? 1000);
  const runs = Number(process.env.AIRGAP_BENCH_RUNS ?? 7);
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-bench-"));
  try {
    const site = path.join(dir, "site.ts");
    writeFileSync(site, bigSite(hosts));
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: siteCompilerOptions(), files: ["site.ts"] }));
    const tsc = nativeTsc();
    if (!tsc) throw new Error("the native TypeScript compiler is not installed");
    const out = path.join(dir, "out");
    const airgap = (...args: string[]) => () => execFileSync(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "inherit"] });
    const sides = {
      tsc: () => execFileSync(tsc, ["-p", dir]),
      recompile: airgap("compile", site, "-o", out),
      fresh: () => {
        rmSync(path.join(dir, "fresh"), { recursive: true, force: true });
        airgap("compile", site, "-o", path.join(dir, "fresh"))();
      },
      validate: airgap("validate", site),
    };
    // One warm-up of each (the recompile's folder written), then the measured runs, interleaved.
    for (const run of Object.values(sides)) run();
    const times: Record<keyof typeof sides, number[]> = { tsc: [], recompile: [], fresh: [], validate: [] };
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(sides) as [keyof typeof sides, () => void][]) times[name].push(timed(run));
    }
    const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<keyof typeof sides, number>;
    console.log(`site: ${hosts} hosts, median of ${runs} runs`);
    console.log(`tsc --noEmit (native, the floor):              ${m.tsc.toFixed(3)} s`);
    console.log(`airgap compile, unchanged site (a recompile):   ${m.recompile.toFixed(3)} s`);
    console.log(`airgap compile into a new folder:               ${m.fresh.toFixed(3)} s`);
    console.log(`airgap validate:                                ${m.validate.toFixed(3)} s`);
    console.log(`ratio airgap compile / tsc --noEmit: ${(m.recompile / m.tsc).toFixed(2)} (target < 1.5)`);
    console.log(`ratio airgap compile into a new folder / tsc --noEmit: ${(m.fresh / m.tsc).toFixed(2)} (target < 1.5)`);
    console.log(`ratio airgap validate / tsc --noEmit: ${(m.validate / m.tsc).toFixed(2)} (target < 1.5)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
