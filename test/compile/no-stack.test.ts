/**
 * A crash is a bug: on every file of the bad-site catalogue, `airgap validate`
 * and `airgap compile` exit 1 with located errors, never a stack trace, and
 * compile leaves the output folder as it was (one made by an earlier compile
 * keeps its files, byte for byte). Runs the real command line, a few files at
 * a time (a CLI start costs about half a second).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BAD_SITES, CLI } from "../helpers.js";

interface Run {
  code: number | null;
  out: string;
}

/** What a stack trace leaves in the output: V8's frames, the error class, Node's own files. */
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)|^\s+at .+:\d+:\d+$/m;

function airgap(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120000, env: { ...process.env, FORCE_COLOR: "0" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      });
  });
}

/** Runs `jobs` with at most `width` at a time, results in the jobs' order. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return results;
}

function assertNoStack(what: string, r: Run): void {
  const frame = r.out.match(STACK_FRAME);
  assert.equal(frame, null, `${what} printed a stack frame: ${frame?.[0]}\n${r.out}`);
  assert.ok(!r.out.includes("TypeError"), `${what} printed a TypeError:\n${r.out}`);
  assert.ok(!r.out.includes("node:internal"), `${what} printed Node's internals:\n${r.out}`);
  assert.equal(r.code, 1, `${what} exited ${r.code}, not 1:\n${r.out}`);
}

describe("bad sites never print a stack trace", function () {
  this.timeout(600000);
  const names = readdirSync(BAD_SITES).filter((f) => f.endsWith(".ts")).sort();
  const runs = new Map<string, { validate: Run; compile: Run; out: string }>();
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-no-stack-"));
    // Each run waits on its own type-check process part of the time: a few more runs than cores.
    const width = Math.max(2, Math.min(8, os.availableParallelism() * 2));
    const jobs = names.flatMap((name) => {
      const file = path.join(BAD_SITES, name);
      const out = path.join(tmp, "out", path.basename(name, ".ts"));
      // What an earlier, good compile left there: a bad site must not touch it.
      mkdirSync(path.join(out, "inventory"), { recursive: true });
      writeFileSync(path.join(out, "inventory", "hosts.yml"), `# earlier output of ${name}\n`);
      const entry = { out } as { validate: Run; compile: Run; out: string };
      runs.set(name, entry);
      return [
        async () => void (entry.validate = await airgap(["validate", file], tmp)),
        async () => void (entry.compile = await airgap(["compile", file, "-o", out], tmp)),
      ];
    });
    await pool(jobs, width);
  });

  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("has bad sites to run", () => assert.ok(names.length > 0));

  for (const name of names) {
    it(`${name}: validate and compile exit 1 with located errors only, and write nothing`, () => {
      const r = runs.get(name)!;
      assertNoStack(`airgap validate ${name}`, r.validate);
      assertNoStack(`airgap compile ${name}`, r.compile);
      assert.match(r.validate.out, /error (AG|TS)\d+/, "no located error");
      assert.deepEqual(readdirSync(r.out, { recursive: true }).sort(), ["inventory", path.join("inventory", "hosts.yml")], `compile changed ${r.out}`);
      assert.equal(readFileSync(path.join(r.out, "inventory", "hosts.yml"), "utf8"), `# earlier output of ${name}\n`);
    });
  }

  it("leaves nothing behind in the working folder (no output, no staging folder)", () => {
    assert.deepEqual(readdirSync(tmp), ["out"]);
    assert.deepEqual(readdirSync(path.join(tmp, "out")).sort(), names.map((n) => path.basename(n, ".ts")).sort());
  });
});
