/**
 * `npm run bench` runs once at a tiny size inside `npm test`, so that it cannot
 * break unseen: the generated site stays valid, and the compile benchmark runs
 * to the end and prints its ratio.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeTsc } from "../../compile/load/typecheck.js";
import { CLI } from "../helpers.js";
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

  it("the compile benchmark runs to the end and prints its ratio (5 hosts, 1 run)", function () {
    if (!nativeTsc()) this.skip();
    const r = spawnSync(process.execPath, [path.join(here, "compile.bench.js")], {
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "0", AIRGAP_BENCH_HOSTS: "5", AIRGAP_BENCH_RUNS: "1" },
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^site: 5 hosts, median of 1 runs$/m);
    assert.match(r.stdout, /^ratio airgap compile \/ tsc --noEmit: \d+\.\d\d/m);
  });
});
