/** `airgap compile|validate` read without yargs: the plain forms only; everything else is yargs' to parse. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { plainCompile } from "../../cli/main.js";
import { CLI } from "../helpers.js";

describe("compile and validate without yargs", () => {
  it("takes the plain forms: the site, -o/--out (compile), --json, --color/--no-color, in any order", () => {
    assert.deepEqual(plainCompile(["compile", "site.ts"]), { command: "compile", site: "site.ts", json: false });
    assert.deepEqual(plainCompile(["compile", "site.ts", "-o", "out/x"]), { command: "compile", site: "site.ts", out: "out/x", json: false });
    assert.deepEqual(plainCompile(["compile", "--out=o", "s.ts", "--json"]), { command: "compile", site: "s.ts", out: "o", json: true });
    assert.deepEqual(plainCompile(["compile", "--json", "--out", "o", "s.ts", "--no-color"]), { command: "compile", site: "s.ts", out: "o", json: true });
    assert.deepEqual(plainCompile(["validate", "s.ts", "--color"]), { command: "validate", site: "s.ts", json: false });
    assert.deepEqual(plainCompile(["validate", "--json", "dir/s.ts"]), { command: "validate", site: "dir/s.ts", json: true });
  });

  it("leaves everything else to yargs: other commands, help, version, unknown, repeated, inline or empty values, a missing or extra argument", () => {
    for (const argv of [
      [],
      ["check", "s.ts"],
      ["bundle", "s.ts"],
      ["--no-color", "validate", "s.ts"],
      ["compile"],
      ["compile", "--help"],
      ["compile", "s.ts", "-h"],
      ["validate", "s.ts", "--version"],
      ["compile", "a.ts", "b.ts"],
      ["compile", "a.ts", "--no-such-flag"],
      ["compile", "a.ts", "-o"],
      ["compile", "a.ts", "-o", "x", "-o", "y"],
      ["compile", "a.ts", "--out", "x", "-o", "y"],
      ["compile", "a.ts", "--out="],
      ["compile", "a.ts", "-ox"],
      ["compile", "a.ts", "--json=false"],
      ["compile", "a.ts", "--json", "--json"],
      ["compile", "--", "a.ts"],
      ["validate", "a.ts", "-o", "x"],
      ["validate", "a.ts", "--out=x"],
      ["compile", "-"],
    ]) {
      assert.equal(plainCompile(argv), undefined, argv.join(" "));
    }
  });

  it("the forms yargs still parses keep their exit codes and messages", function () {
    this.timeout(60000);
    const tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-plain-"));
    try {
      const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
      const help = run("compile", "--help");
      assert.equal(help.status, 0);
      assert.match(help.stdout, /--out/);
      const unknown = run("validate", "s.ts", "-o", "x");
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /Unknown argument/);
      const missing = run("compile", "nothing-here.ts");
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /no such site file: nothing-here\.ts/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
