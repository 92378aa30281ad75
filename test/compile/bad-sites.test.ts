/**
 * The catalogue of bad sites: each file marks the lines that must fail with
 * `// <- CODE …`; the compiler must report exactly those codes at those lines,
 * all at once.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { synth } from "../../compile/synth.js";
import { BAD_SITES } from "../helpers.js";

function expected(file: string): string[] {
  const out: string[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const m = line.match(/\/\/ <- ((?:[A-Z]+\d+\s*)+)$/);
      if (m) for (const code of m[1].trim().split(/\s+/)) out.push(`${code}@${i + 1}`);
    });
  return out.sort();
}

describe("bad sites catalogue", () => {
  for (const name of readdirSync(BAD_SITES).filter((f) => f.endsWith(".ts")).sort()) {
    it(`${name} fails with exactly the marked codes and lines`, async () => {
      const file = path.join(BAD_SITES, name);
      const want = expected(file);
      assert.ok(want.length > 0, "the file marks no expected error");
      const result = await synth(file);
      assert.equal(result.files.size, 0, "nothing may be emitted for a bad site");
      for (const d of result.errors) assert.equal(d.at?.file, file, `${d.code} points outside the site file`);
      const got = result.errors.map((d) => `${d.code}@${d.at?.line}`).sort();
      assert.deepEqual(got, want, result.errors.map((d) => `${d.code}@${d.at?.line} ${d.message}`).join("\n"));
    });
  }

  it("reports type errors before semantic ones", async () => {
    const result = await synth(path.join(BAD_SITES, "type-errors.ts"));
    const kinds = result.errors.map((d) => (d.code.startsWith("TS") ? "type" : "semantic"));
    assert.deepEqual(kinds, [...kinds].sort((a, b) => (a === b ? 0 : a === "type" ? -1 : 1)));
    assert.ok(kinds.includes("type") && kinds.includes("semantic"));
  });

  it("gives the same type errors with the ts-morph checker as with the native one", async () => {
    const file = path.join(BAD_SITES, "type-errors.ts");
    const strip = (r: Awaited<ReturnType<typeof synth>>) => r.errors.map((d) => `${d.code}@${d.at?.line}:${d.at?.col}`);
    assert.deepEqual(strip(await synth(file, { checker: "ts-morph" })), strip(await synth(file, { checker: "native" })));
  });
});
