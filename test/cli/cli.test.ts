/** The command line, run as a user runs it: exit codes, output, nothing lost on error. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { nativeTsc } from "../../compile/load/typecheck.js";
import { BAD_SITES, CLI, EXAMPLES } from "../helpers.js";

function airgap(args: string[], cwd: string, env: NodeJS.ProcessEnv = { FORCE_COLOR: "0" }) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "", ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const ESC = "\u001b[";

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
    // Nothing changed: nothing is written (every file keeps its inode and mtime).
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const stamp = () => new Map(files(path.join(tmp, "out/example")).map((f) => { const st = statSync(f); return [f, `${st.ino}:${st.mtimeMs}`]; }));
    const before = stamp();
    const second = airgap(["compile", "site.ts"], tmp);
    assert.match(second.out, / 0 added, 0 changed, 0 removed, \d+ unchanged/);
    assert.deepEqual(stamp(), before, "a recompile of an unchanged site rewrote files");
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
    assert.deepEqual(readdirSync(dir).sort(), [".gitignore", "keys", "site.ts", "tsconfig.json"]);
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

  it("--version prints package.json's version", () => {
    const r = airgap(["--version"], tmp);
    assert.equal(r.code, 0);
    const pkg = JSON.parse(readFileSync(path.join(path.dirname(CLI), "../package.json"), "utf8")) as { version: string };
    assert.equal(r.out.trim(), pkg.version);
  });

  it("colours only when wanted: NO_COLOR and --no-color turn them off, also in TypeScript's own frames", () => {
    const bad = path.join(BAD_SITES, "type-errors.ts");
    const coloured = airgap(["validate", bad], tmp, { FORCE_COLOR: "1" });
    assert.equal(coloured.code, 1);
    assert.ok(coloured.err.includes(ESC), "FORCE_COLOR=1 colours");
    for (const [args, env] of [[["validate", bad], { FORCE_COLOR: "1", NO_COLOR: "1" }], [["validate", bad, "--no-color"], { FORCE_COLOR: "1" }], [["--no-color", "validate", bad], { FORCE_COLOR: "1" }]] as const) {
      const r = airgap([...args], tmp, env);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /error TS2820/);
      assert.ok(!r.err.includes(ESC), `no escape sequence with ${args.join(" ")} ${JSON.stringify(env)}`);
    }
  });

  it("prints type errors through TypeScript's own formatter: the whole span underlined, related information kept", () => {
    const r = airgap(["validate", path.join(BAD_SITES, "type-errors.ts")], tmp);
    assert.equal(r.code, 1);
    // `password` (8 characters) is underlined whole, and tsc's "expected type comes from" note follows.
    assert.match(r.err, /password: "hunter2".*\n\s+~{8}\n/);
    assert.match(r.err, /The expected type comes from property 'password' which is declared here on type 'RegistryUser'/);
    assert.match(r.err, /services\.d\.ts:\d+:\d+/);
    // The mistyped field name is one error, without a cascade about the address it left out.
    assert.match(r.err, /error TS2561: .*'adress'/);
    assert.match(r.err, /adress: "10\.20\.0\.23".*\n\s+~{6}\n/);
    assert.doesNotMatch(r.err, /AG032|AG080/);
    // airgap's own errors underline the whole value too.
    assert.match(r.err, /\{ name: "cp1", address: "10\.20\.0\.22".*\n\s+~{11}\n/);
  });

  it("--json on compile, validate and init: one JSON object on stdout, errors included", () => {
    cpSync(path.join(EXAMPLES, "site.ts"), path.join(tmp, "site.ts"));
    const v = airgap(["validate", "site.ts", "--json"], tmp);
    assert.equal(v.code, 0, v.err);
    const first = JSON.parse(airgap(["compile", "site.ts", "--json", "-o", "o"], tmp).out) as { files: number; added: string[] };
    // compile writes what validate counts, and the diagram's SVG when Graphviz lays it out.
    assert.deepEqual(JSON.parse(v.out), { ok: true, site: "example", files: first.files - (first.added.includes("diagram.svg") ? 1 : 0) });
    const again = JSON.parse(airgap(["compile", "site.ts", "--json", "-o", "o"], tmp).out) as { ok: boolean; added: string[]; unchanged: string[] };
    assert.equal(again.ok, true);
    assert.deepEqual(again.added, []);
    assert.ok(again.unchanged.includes("inventory/hosts.yml"));
    const bad = airgap(["compile", path.join(BAD_SITES, "dns-records.ts"), "--json"], tmp);
    assert.equal(bad.code, 1);
    const errors = (JSON.parse(bad.out) as { ok: boolean; errors: { code: string; line: number }[] }).errors;
    assert.ok(errors.some((e) => e.code === "AG060" && e.line > 0));
    const init = airgap(["init", "s2", "--json"], tmp);
    assert.equal(init.code, 0, init.err);
    assert.equal((JSON.parse(init.out) as { name: string }).name, "s2");
  });

  it("init NAME writes its own named starter with a key pair it trusts; `cd NAME && airgap compile site.ts` works as printed", () => {
    const r = airgap(["init", "my-plant"], tmp);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^next: cd my-plant && airgap compile site\.ts$/m);
    const dir = path.join(tmp, "my-plant");
    assert.deepEqual(readdirSync(dir).sort(), [".gitignore", "keys", "site.ts", "tsconfig.json"]);
    assert.equal(statSync(path.join(dir, "keys/airgap-bundle.key")).mode & 0o777, 0o600);
    const site = readFileSync(path.join(dir, "site.ts"), "utf8");
    assert.notEqual(site, readFileSync(path.join(EXAMPLES, "site.ts"), "utf8"));
    assert.match(site, /name: "my-plant"/);
    assert.match(site, /trustedKey: "keys\/airgap-bundle\.pub"/);
    const c = airgap(["compile", "site.ts"], dir);
    assert.equal(c.code, 0, c.err);
    // The compiled project trusts the key init made: the admin play accepts bundles it signs.
    const pub = readFileSync(path.join(dir, "keys/airgap-bundle.pub"), "utf8").split("\n")[1];
    const all = (readdirSync(path.join(dir, "out/my-plant"), { recursive: true }) as string[])
      .filter((f) => statSync(path.join(dir, "out/my-plant", f)).isFile())
      .map((f) => readFileSync(path.join(dir, "out/my-plant", f), "utf8"))
      .join("\n");
    assert.ok(all.includes(pub), "the public key reaches the compiled project");
    const again = airgap(["init", "my-plant"], tmp);
    assert.equal(again.code, 1);
    assert.match(again.err, /already exist/);
  });

  it("installs with `npm install -g`: airgap (and npx airgap) on PATH from a folder outside the clone", function () {
    const prefix = path.join(tmp, "prefix");
    const repo = path.resolve(path.dirname(CLI), "..");
    const npm = spawnSync("npm", ["install", "-g", "--prefix", prefix, "--ignore-scripts", "--no-audit", "--no-fund", repo], { encoding: "utf8" });
    assert.equal(npm.status, 0, npm.stderr);
    const scratch = path.join(tmp, "scratch");
    mkdirSync(scratch);
    const env = { ...process.env, PATH: `${path.join(prefix, "bin")}${path.delimiter}${process.env.PATH}`, npm_config_prefix: prefix, FORCE_COLOR: "0" };
    const sh = (cmd: string) => spawnSync("sh", ["-c", cmd], { cwd: scratch, encoding: "utf8", env });
    const r = sh("airgap --version && airgap init mysite && cd mysite && airgap compile site.ts");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote \d+ files to out\/mysite\//);
    const npx = sh("npx --no-install airgap validate mysite/site.ts");
    assert.equal(npx.status, 0, npx.stderr);
    assert.match(npx.stdout, /site "mysite" is valid/);
  });
});
