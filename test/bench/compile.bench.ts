/**
 * `npm run bench`: compile a site of 1,000 hosts and compare with the floor,
 * the native `tsc --noEmit` type check of the same file. Prints ratios; never
 * fails on time.
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
  const runs = Number(process.env.AIRGAP_BENCH_RUNS ?? 5);
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-bench-"));
  try {
    const site = path.join(dir, "site.ts");
    writeFileSync(site, bigSite(hosts));
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: siteCompilerOptions(), files: ["site.ts"] }));
    const tsc = nativeTsc();
    if (!tsc) throw new Error("the native TypeScript compiler is not installed");
    const out = path.join(dir, "out");
    // One warm-up of each, then the measured runs.
    execFileSync(tsc, ["-p", dir]);
    execFileSync(process.execPath, [CLI, "compile", site, "-o", out]);
    const floor = median(Array.from({ length: runs }, () => timed(() => execFileSync(tsc, ["-p", dir]))));
    const compile = median(Array.from({ length: runs }, () => timed(() => execFileSync(process.execPath, [CLI, "compile", site, "-o", out]))));
    console.log(`site: ${hosts} hosts, median of ${runs} runs`);
    console.log(`tsc --noEmit (native, the floor): ${floor.toFixed(3)} s`);
    console.log(`airgap compile:                   ${compile.toFixed(3)} s`);
    console.log(`ratio airgap compile / tsc --noEmit: ${(compile / floor).toFixed(2)} (target < 1.5)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
