/** The YAML writer (compile/emit/yaml.ts) on the shapes the golden sites use least: lists of lists, empty collections, YAML 1.1's special words. */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { toYaml } from "../../compile/emit/yaml.js";

describe("YAML writer", () => {
  const data = {
    plain: "debian-12",
    words: ["yes", "No", "on", "null", "~", "y", "false", "falsey"],
    numbers: [0, 1.5, -3],
    quoted: ["10.0.0.1", "12:30", "a b", "", "x".repeat(120)],
    empty: { map: {}, list: [] },
    nested: [[1, [2, 3]], [], {}, { a: [{ b: null, c: [true] }], d: { e: "f" } }],
    "odd key": null,
  };

  it("writes each shape as expected, a list item's first line on its dash's line", () => {
    assert.equal(
      toYaml(data, "two\nlines"),
      [
        "---",
        "# two",
        "# lines",
        "plain: debian-12",
        "words:",
        '  - "yes"', '  - "No"', '  - "on"', '  - "null"', '  - "~"', '  - "y"', '  - "false"', "  - falsey",
        "numbers:", "  - 0", "  - 1.5", "  - -3",
        "quoted:", '  - "10.0.0.1"', '  - "12:30"', '  - "a b"', '  - ""', `  - "${"x".repeat(120)}"`,
        "empty:", "  map: {}", "  list: []",
        "nested:",
        "  - - 1",
        "    - - 2",
        "      - 3",
        "  - []",
        "  - {}",
        "  - a:",
        "      - b: null",
        "        c:",
        "          - true",
        "    d:",
        "      e: f",
        '"odd key": null',
        "",
      ].join("\n"),
    );
  });

  it("reads back the same with the yaml package as YAML 1.1; scalars and empty collections alone", () => {
    assert.deepEqual(parse(toYaml(data), { version: "1.1" }), data);
    assert.equal(toYaml({}), "---\n{}\n");
    assert.equal(toYaml([]), "---\n[]\n");
    assert.equal(toYaml("on"), '---\n"on"\n');
    assert.throws(() => toYaml({ x: Number.NaN }), /cannot write NaN/);
  });
});
