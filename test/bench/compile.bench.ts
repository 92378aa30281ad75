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
 * Prints each ratio with its target; never fails on time. Where the kernel
 * says (Linux: /proc/self/stat), also the CPU time of each side (user +
 * system, its children included: airgap's tsc), and its ratio: on a machine
 * busy with other work the CPU ratio moves far less than the wall-clock one.
 *
 * AIRGAP_BENCH_HOSTS (1000), AIRGAP_BENCH_RUNS (7). AIRGAP_BENCH_BASELINE:
 * the bin/airgap.js of another build (a checkout of main, say), measured in
 * the same interleaved runs, so a change's before and after are side by side.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { nativeTsc, siteCompilerOptions } from "../../compile/load/typecheck.js";
import { CLI } from "../helpers.js";
import { bigSite } from "./big-site.js";

/** CPU seconds (user + system) of this process's waited-for children so far, or undefined off Linux. */
function childrenCpu(tick: number | undefined): number | undefined {
  if (!tick || !existsSync("/proc/self/stat")) return undefined;
  // Fields after "(comm) ": state is the 3rd field; cutime and cstime the 16th and 17th.
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / tick;
}

/** Clock ticks per second (getconf CLK_TCK), or undefined. */
function clockTick(): number | undefined {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || undefined;
  } catch {
    return undefined;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const hosts = Number(process.env.AIRGAP_BENCH_HOSTS ?? 1000);
  const runs = Number(process.env.AIRGAP_BENCH_RUNS ?? 7);
  const baseline = process.env.AIRGAP_BENCH_BASELINE;
  if (baseline && !existsSync(baseline)) throw new Error(`AIRGAP_BENCH_BASELINE: no such file: ${baseline}`);
  const tick = clockTick();
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-bench-"));
  try {
    const site = path.join(dir, "site.ts");
    writeFileSync(site, bigSite(hosts));
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: siteCompilerOptions(), files: ["site.ts"] }));
    const tsc = nativeTsc();
    if (!tsc) throw new Error("the native TypeScript compiler is not installed");
    const cli = (bin: string) => (...args: string[]) => () => execFileSync(process.execPath, [bin, ...args], { stdio: ["ignore", "ignore", "inherit"] });
    const commands = (bin: string, tag: string) => {
      const airgap = cli(bin);
      return {
        recompile: airgap("compile", site, "-o", path.join(dir, `out${tag}`)),
        fresh: () => {
          rmSync(path.join(dir, `fresh${tag}`), { recursive: true, force: true });
          airgap("compile", site, "-o", path.join(dir, `fresh${tag}`))();
        },
        validate: airgap("validate", site),
      };
    };
    const ours = commands(CLI, "");
    const sides: Record<string, () => void> = { tsc: () => execFileSync(tsc, ["-p", dir]), ...ours };
    if (baseline) for (const [k, run] of Object.entries(commands(baseline, "-baseline"))) sides[`${k} (baseline)`] = run;
    // One warm-up of each (the recompile's folder written), then the measured runs, interleaved.
    for (const run of Object.values(sides)) run();
    const wall: Record<string, number[]> = {};
    const cpu: Record<string, number[]> = {};
    for (let i = 0; i < runs; i++) {
      for (const [name, run] of Object.entries(sides)) {
        const c0 = childrenCpu(tick);
        const start = process.hrtime.bigint();
        run();
        (wall[name] ??= []).push(Number(process.hrtime.bigint() - start) / 1e9);
        const c1 = childrenCpu(tick);
        if (c0 !== undefined && c1 !== undefined) (cpu[name] ??= []).push(c1 - c0);
      }
    }
    const m = (k: string) => median(wall[k]);
    const c = (k: string) => (cpu[k] ? median(cpu[k]) : undefined);
    const cpuNote = (k: string) => (c(k) !== undefined ? `  (CPU ${c(k)!.toFixed(2)} s)` : "");
    const cpuRatio = (k: string) => (c(k) !== undefined && c("tsc") ? `; CPU ${(c(k)! / c("tsc")!).toFixed(2)}` : "");
    const label: Record<string, string> = {
      recompile: "airgap compile, unchanged site (a recompile):  ",
      fresh: "airgap compile into a new folder:              ",
      validate: "airgap validate:                               ",
    };
    const ratioName: Record<string, string> = { recompile: "airgap compile", fresh: "airgap compile into a new folder", validate: "airgap validate" };
    console.log(`site: ${hosts} hosts, median of ${runs} runs`);
    console.log(`tsc --noEmit (native, the floor):              ${m("tsc").toFixed(3)} s${cpuNote("tsc")}`);
    for (const k of Object.keys(ours)) {
      console.log(`${label[k]} ${m(k).toFixed(3)} s${cpuNote(k)}`);
      if (baseline) console.log(`  the baseline (${baseline}): ${m(`${k} (baseline)`).toFixed(3)} s${cpuNote(`${k} (baseline)`)}`);
    }
    for (const k of Object.keys(ours)) {
      console.log(`ratio ${ratioName[k]} / tsc --noEmit: ${(m(k) / m("tsc")).toFixed(2)} (target < 1.5)${cpuRatio(k)}`);
      if (baseline) console.log(`  baseline: ${(m(`${k} (baseline)`) / m("tsc")).toFixed(2)}${cpuRatio(`${k} (baseline)`)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
