/** The command line, run as a user runs it: exit codes, output, nothing lost on error. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { nativeTsc } from "../../compile/load/typecheck.js";
import { BAD_SITES, CLI, EXAMPLES } from "../helpers.js";

function airgap(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every file under `dir` with its content, to compare a folder before and after. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${statSync(p).mtimeMs}:${readFileSync(p, "utf8")}`;
    }
  };
  walk(dir);
  return out;
}

describe("airgap command line", function () {
  this.timeout(120000);
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-cli-"))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("prints an exception inside the compiler as one internal error naming the site file: exit 1, no stack, nothing written", () => {
    // A value that throws when the compiler reads it: the compiler's own failure, whatever the input.
    const site = readFileSync(path.join(EXAMPLES, "site.ts"), "utf8")
      .replace("export default defineSite(", "const site = defineSite(")
      .concat('\nObject.defineProperty(site, "domain", { get() { throw new Error("boom"); } });\nexport default site;\n');
    writeFileSync(path.join(tmp, "site.ts"), site);
    const r = airgap(["compile", "site.ts", "-o", "out"], tmp);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^error: internal error in airgap compile \(site\.ts\): boom$/m);
    assert.match(r.err, /This is a bug in airgap/);
    assert.doesNotMatch(r.err, /^\s+at /m);
    assert.deepEqual(readdirSync(tmp), ["site.ts"]);
    const debug = spawnSync(process.execPath, [CLI, "validate", "site.ts"], { cwd: tmp, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0", AIRGAP_DEBUG: "1" } });
    assert.match(debug.stderr, /^\s+at /m, "AIRGAP_DEBUG=1 shows the stack");
  });

  it("answers --help on every command with exit 0", () => {
    for (const args of [["--help"], ["compile", "--help"], ["validate", "--help"], ["init", "--help"]]) {
      const r = airgap(args, tmp);
      assert.equal(r.code, 0, args.join(" "));
      assert.match(r.out, /airgap/);
    }
  });

  it("exits 2 on usage errors", () => {
    assert.equal(airgap([], tmp).code, 2);
    assert.equal(airgap(["compil", "x.ts"], tmp).code, 2);
    assert.equal(airgap(["compile"], tmp).code, 2);
    assert.equal(airgap(["compile", "a.ts", "--no-such-flag"], tmp).code, 2);
  });

  it("compiles into out/<site>, then reports what changed", () => {
    cpSync(path.join(EXAMPLES, "site.ts"), path.join(tmp, "site.ts"));
    const first = airgap(["compile", "site.ts"], tmp);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /wrote \d+ files to out\/example\/ .* \d+ added, 0 changed, 0 removed, 0 unchanged/);
    const second = airgap(["compile", "site.ts"], tmp);
    assert.match(second.out, / 0 added, 0 changed, 0 removed, \d+ unchanged/);
    const edited = readFileSync(path.join(tmp, "site.ts"), "utf8").replace('"10.20.0.32"', '"10.20.0.33"');
    writeFileSync(path.join(tmp, "site.ts"), edited);
    const third = airgap(["compile", "site.ts"], tmp);
    assert.match(third.out, /changed {2}inventory\/hosts\.yml/);
  });

  it("on an invalid site exits 1, prints every error, and leaves the output folder untouched", () => {
    cpSync(path.join(EXAMPLES, "site.ts"), path.join(tmp, "site.ts"));
    assert.equal(airgap(["compile", "site.ts", "-o", "out/x"], tmp).code, 0);
    const before = snapshot(path.join(tmp, "out"));
    const bad = airgap(["compile", path.join(BAD_SITES, "dns-records.ts"), "-o", "out/x"], tmp);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /error AG060/);
    assert.match(bad.err, /error AG061/);
    assert.match(bad.err, /Found 4 errors\./);
    assert.match(bad.err, /dns-records\.ts:16:11/);
    assert.deepEqual(snapshot(path.join(tmp, "out")), before);
  });

  it("validate writes nothing", () => {
    cpSync(path.join(EXAMPLES, "site.ts"), path.join(tmp, "site.ts"));
    const r = airgap(["validate", "site.ts"], tmp);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(tmp), ["site.ts"]);
  });

  it("init writes a starter site the editor's TypeScript checks, and refuses to overwrite", () => {
    const dir = path.join(tmp, "plant1");
    assert.equal(airgap(["init", dir], tmp).code, 0);
    assert.deepEqual(readdirSync(dir).sort(), ["site.ts", "tsconfig.json"]);
    // The editor's view: tsc on the folder's tsconfig resolves `airgap` and finds no error...
    const tsc = nativeTsc()!;
    const clean = spawnSync(tsc, ["-p", dir, "--pretty", "false"], { encoding: "utf8" });
    assert.equal(clean.status, 0, clean.stdout);
    // ...and a type error in the starter is seen there too.
    const site = path.join(dir, "site.ts");
    writeFileSync(site, readFileSync(site, "utf8").replace('os: "debian-12", roles: ["admin"]', 'os: "debian-99", roles: ["admin"]'));
    const broken = spawnSync(tsc, ["-p", dir, "--pretty", "false"], { encoding: "utf8" });
    assert.match(broken.stdout, /site\.ts\(\d+,\d+\): error TS(2322|2820)/);
    const again = airgap(["init", dir], tmp);
    assert.equal(again.code, 1);
    assert.match(again.err, /already exist/);
  });
});
