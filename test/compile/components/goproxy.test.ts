/**
 * The goproxy service's compile side: Go's rules for module paths, versions
 * and go.mod files (compile/components/gomod.ts), checked against the real
 * go command where it is installed (`go mod edit -json` parses a go.mod with
 * the go command's own parser), and the escaping of the proxy protocol.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../../helpers.js";
import { escapeModule, goModRequireProblem, moduleVersionProblem, modulePathProblem, parseGoMod, parseModuleEntry } from "../../../compile/components/gomod.js";

const GO = process.env.AIRGAP_GO ?? "go";
const haveGo = spawnSync(GO, ["version"]).status === 0;

describe("goproxy: Go's module rules at compile time", () => {
  it("takes the module paths the go command downloads and refuses the others", () => {
    for (const p of ["rsc.io/quote", "github.com/BurntSushi/toml", "gopkg.in/yaml.v3", "golang.org/x/text", "example.com/mod/v2", "k8s.io/api", "go.etcd.io/etcd/client/v3"]) {
      assert.equal(modulePathProblem(p), undefined, p);
    }
    const bad: Record<string, RegExp> = {
      fmt: /missing dot/,
      "Example.com/x": /invalid char "E" in first path element/,
      "example.com//x": /double slash/,
      "example.com/x/": /trailing slash/,
      "example.com/.x": /leading dot/,
      "example.com/x/v1": /invalid version suffix/,
      "example.com/x/v2.1": /invalid version suffix/,
      "gopkg.in/yaml": /invalid version suffix/,
      "example.com/a b": /invalid char " "/,
      "example.com/com1.x": /disallowed as path element component on Windows/,
    };
    for (const [p, want] of Object.entries(bad)) assert.match(modulePathProblem(p) ?? "", want, p);
  });

  it("takes exact versions only, with Go's major-version, +incompatible and pseudo-version rules", () => {
    const ok: [string, string][] = [
      ["rsc.io/quote", "v1.5.2"],
      ["golang.org/x/text", "v0.0.0-20170915032832-14c0d48ead0c"],
      ["example.com/x", "v1.2.4-0.20191109021931-daa7c04131f5"],
      ["github.com/docker/docker", "v28.0.0+incompatible"],
      ["example.com/mod/v2", "v2.1.0-rc.1"],
      ["gopkg.in/yaml.v3", "v3.0.1"],
      ["gopkg.in/check.v1", "v0.0.0-20161208181325-20d25e280405"],
    ];
    for (const [p, v] of ok) assert.equal(moduleVersionProblem(p, v), undefined, `${p}@${v}`);
    const bad: [string, string, RegExp][] = [
      ["rsc.io/quote", "v1.5", /not canonical: the go command writes it v1.5.0/],
      ["rsc.io/quote", "latest", /query/],
      ["rsc.io/quote", "1.5.2", /query or a name/],
      ["rsc.io/quote", "v1.5.2+build", /no build metadata/],
      ["rsc.io/quote", "v2.0.0", /needs the suffix \/v2/],
      ["example.com/mod/v2", "v1.0.0", /major version v2/],
      ["gopkg.in/yaml.v3", "v2.0.0", /major version v3/],
      ["github.com/pkg/errors", "v0.9.1+incompatible", /v2 and later/],
      ["example.com/mod/v2", "v2.0.0+incompatible", /without a major-version suffix/],
      ["golang.org/x/text", "v0.0.0-20170915032832-14C0D48EAD0C", /12 lower-case hex/],
      ["golang.org/x/text", "v0.0.0-20171315032832-14c0d48ead0c", /not a UTC time/],
      ["rsc.io/quote", "v1.2.3-01", /not a semantic version/],
    ];
    for (const [p, v, want] of bad) assert.match(moduleVersionProblem(p, v) ?? "", want, `${p}@${v}`);
  });

  it("splits path@version entries at the last @", () => {
    assert.deepEqual(parseModuleEntry("golang.org/x/text@v0.14.0"), { path: "golang.org/x/text", version: "v0.14.0" });
    assert.match((parseModuleEntry("golang.org/x/text") as { problem: string }).problem, /no version/);
    assert.equal((parseModuleEntry("rsc.io/quote@v1") as { version?: boolean }).version, true);
  });

  it("escapes upper-case letters as the proxy protocol does", () => {
    assert.equal(escapeModule("github.com/BurntSushi/toml"), "github.com/!burnt!sushi/toml");
    assert.equal(escapeModule("v1.0.0-RC1"), "v1.0.0-!r!c1");
  });

  // The same go.mod lines given to our parser and to the go command's.
  const lines: string[] = [
    "require rsc.io/quote v1.5.2",
    "require github.com/google/uuid v1.6",
    "require example.com/mod/v2 v1.0.0",
    "require github.com/pkg/errors v0.9.1+incompatible",
    "require fmt v1.0.0",
    "require example.com/Mod//x v1.0.0",
    "require github.com/google/uuid latest",
    "require example.com/x v1.2.3-01",
    "require gopkg.in/yaml.v3 v2.0.0",
    "require example.com/x/v1 v1.0.0",
    "require Example.com/x v1.0.0",
    "require (\n\trsc.io/quote v1.5.2 // indirect\n\tgolang.org/x/text v0.14.0\n)",
    "require (\n\trsc.io/quote v1.5.2\n",
    "replace golang.org/x/text => golang.org/x/text v0.14.0",
    "replace golang.org/x/text v0.3.0 => ../text",
    "replace golang.org/x/text => golang.org/x/text",
    "exclude golang.org/x/text v0.3.0",
    "retract v1.0.0 // a mistake",
    "toolchain go1.22.1",
    "requires rsc.io/quote v1.5.2",
    'require "rsc.io/quote" v1.5.2',
    'require "rsc.io/quote v1.5.2',
  ];

  it("reads go.mod lines as the go command's parser does (go mod edit -json)", function () {
    if (!haveGo) this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-gomod-"));
    try {
      const differ: string[] = [];
      for (const l of lines) {
        const text = `module example.internal/m\n\ngo 1.21\n\n${l}\n`;
        writeFileSync(path.join(dir, "go.mod"), text);
        const go = spawnSync(GO, ["mod", "edit", "-json"], { cwd: dir, env: { ...process.env, GOFLAGS: "", GOTOOLCHAIN: "local" }, encoding: "utf8" });
        const ours = parseGoMod(text);
        const oursOk = !("problems" in ours);
        if (oursOk !== (go.status === 0)) differ.push(`${JSON.stringify(l)}: go ${go.status === 0 ? "accepts" : `refuses (${go.stderr.trim()})`}, we ${oursOk ? "accept" : `refuse (${JSON.stringify(ours)})`}`);
      }
      assert.deepEqual(differ, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("notes a replacement by a local folder, which no proxy serves", () => {
    const m = parseGoMod("module example.internal/m\n\nrequire example.internal/x v0.0.0\n\nreplace example.internal/x => ../x\n");
    assert.ok(!("problems" in m));
    assert.deepEqual(m.localReplace, [{ path: "example.internal/x", target: "../x", line: 5 }]);
    assert.deepEqual(m.require, [{ path: "example.internal/x", version: "v0.0.0", line: 3 }]);
  });

  it("agrees with the go command on the module version it would require (go mod edit -require then -json)", function () {
    if (!haveGo) this.skip();
    // The go command canonicalises what modfile accepts; our entries must already be canonical.
    const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-gomod-"));
    try {
      for (const [p, v] of [["golang.org/x/text", "v0.0.0-20170915032832-14c0d48ead0c"], ["github.com/docker/docker", "v28.0.0+incompatible"], ["rsc.io/quote", "v1.5.2"]]) {
        writeFileSync(path.join(dir, "go.mod"), "module example.internal/m\n\ngo 1.21\n");
        execFileSync(GO, ["mod", "edit", `-require=${p}@${v}`], { cwd: dir, env: { ...process.env, GOFLAGS: "", GOTOOLCHAIN: "local" } });
        const json = JSON.parse(execFileSync(GO, ["mod", "edit", "-json"], { cwd: dir, env: { ...process.env, GOFLAGS: "", GOTOOLCHAIN: "local" }, encoding: "utf8" })) as { Require: { Path: string; Version: string }[] };
        assert.deepEqual(json.Require, [{ Path: p, Version: v }]);
        assert.equal(goModRequireProblem(p, v), undefined);
        assert.equal(moduleVersionProblem(p, v), undefined);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("agrees with golang.org/x/mod (module.Check, semver.Canonical) on paths and versions, through bundle/gosumdb check", function () {
    if (!haveGo) this.skip();
    this.timeout(300_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-gosumdb-"));
    try {
      const bin = path.join(dir, "gosumdb");
      const built = spawnSync(GO, ["build", "-o", bin, "."], { cwd: path.join(ROOT, "bundle/gosumdb"), env: { ...process.env, GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local", CGO_ENABLED: "0" }, encoding: "utf8" });
      if (built.status !== 0 && /dial tcp|no such host|connection refused|i\/o timeout/.test(built.stderr)) {
        console.log(`      skipped: golang.org/x/mod cannot be fetched here (${built.stderr.trim().slice(0, 200)})`);
        this.skip();
      }
      assert.equal(built.status, 0, built.stderr);
      const cases: [string, string][] = [
        ["rsc.io/quote", "v1.5.2"], ["rsc.io/quote", "v1.5"], ["rsc.io/quote", "latest"], ["rsc.io/quote", "v1.5.2+build"], ["rsc.io/quote", "v2.0.0"],
        ["rsc.io/quote", "v1.2.3-01"], ["rsc.io/quote", "v1.2.3-rc.1"], ["example.com/mod/v2", "v1.0.0"], ["example.com/mod/v2", "v2.1.0"],
        ["example.com/mod/v2", "v2.0.0+incompatible"], ["github.com/docker/docker", "v28.0.0+incompatible"],
        ["gopkg.in/yaml.v3", "v3.0.1"], ["gopkg.in/yaml.v3", "v2.0.0"], ["gopkg.in/yaml", "v1.0.0"], ["gopkg.in/check.v1", "v0.0.0-20161208181325-20d25e280405"],
        ["golang.org/x/text", "v0.0.0-20170915032832-14c0d48ead0c"], ["fmt", "v1.0.0"], ["Example.com/x", "v1.0.0"], ["example.com//x", "v1.0.0"],
        ["example.com/x/", "v1.0.0"], ["example.com/.x", "v1.0.0"], ["example.com/x/v1", "v1.0.0"], ["example.com/x/v2.1", "v1.0.0"],
        ["example.com/com1.x", "v1.0.0"], ["github.com/BurntSushi/toml", "v1.4.0"], ["-example.com/x", "v1.0.0"], ["example.com/x~y_z", "v0.1.0"],
      ];
      const out = execFileSync(bin, ["check"], { input: cases.map(([p, v]) => `${p} ${v}`).join("\n") + "\n", encoding: "utf8" });
      const theirs = out.trim().split("\n").map((l) => JSON.parse(l) as { path: string; version: string; error: string });
      assert.equal(theirs.length, cases.length);
      const differ: string[] = [];
      for (const t of theirs) {
        const ours = modulePathProblem(t.path) ?? moduleVersionProblem(t.path, t.version);
        // Our extra checks, which x/mod's Check leaves to the go command's download (modfetch refuses both):
        // +incompatible only from v2 on, and never on a path with a /vN suffix.
        const incompatibleRefused = t.version.endsWith("+incompatible") && (/^v[01]\./.test(t.version) || /\/v\d+$/.test(t.path));
        const xmodOk = t.error === "" && !incompatibleRefused;
        if ((ours === undefined) !== xmodOk) differ.push(`${t.path}@${t.version}: x/mod ${t.error || "accepts"}, we ${ours ?? "accept"}`);
      }
      assert.deepEqual(differ, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
