/** The runbook's and ansible.cfg's templates, precompiled by the build and used only while their source is unchanged. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { readIndex, templateOf, TEMPLATES_DIR, writeTemplatesIndex, type Index } from "../../compile/emit/templates.js";

const require = createRequire(import.meta.url);

describe("precompiled templates", () => {
  it("the build precompiled every template from its current source", () => {
    const index = readIndex();
    const names = readdirSync(TEMPLATES_DIR).filter((n) => n.endsWith(".hbs")).sort();
    assert.ok(names.length >= 2);
    assert.deepEqual(Object.keys(index).sort(), names);
    for (const n of names) {
      const t = templateOf(readFileSync(path.join(TEMPLATES_DIR, n), "utf8"), index[n]);
      assert.equal(t.precompiled, true, n);
    }
  });

  it("renders what the full Handlebars renders from the source; an edited source is compiled from the source; strict either way", () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "airgap-hbs-"));
    try {
      writeFileSync(path.join(tmp, "t.hbs"), "{{#each xs}}{{name}} <{{v}}>{{#unless @last}}, {{/unless}}{{/each}}{{#if flag}} on{{else}} off{{/if}}\n");
      const file = path.join(tmp, "index.cjs");
      assert.equal(writeTemplatesIndex(tmp, file), 1);
      const index = require(file) as Index;
      const source = readFileSync(path.join(tmp, "t.hbs"), "utf8");
      const data = { xs: [{ name: "a", v: "x&y" }, { name: "b", v: "<'\">" }], flag: false };
      const pre = templateOf(source, index["t.hbs"]);
      assert.equal(pre.precompiled, true);
      // noEscape: the values as they are.
      assert.equal(pre.render(data), "a <x&y>, b <<'\">> off\n");
      const edited = templateOf(source.replace("off", "OFF"), index["t.hbs"]);
      assert.equal(edited.precompiled, false);
      assert.equal(edited.render(data), "a <x&y>, b <<'\">> OFF\n");
      for (const t of [pre, edited]) assert.throws(() => t.render({ xs: [{ name: "a" }] }), /"v" not defined/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
