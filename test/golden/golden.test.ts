/**
 * Golden snapshots: every example compiles to exactly the committed files.
 * `AIRGAP_UPDATE_GOLDEN=1 npm test` rewrites them; review the diff.
 * Roles are not snapshotted: they must be byte copies of roles/.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { synth } from "../../compile/synth.js";
import { EXAMPLES, GOLDEN, ROOT } from "../helpers.js";

const update = process.env.AIRGAP_UPDATE_GOLDEN === "1";

function listFiles(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

export const examples = readdirSync(EXAMPLES).filter((f) => f.endsWith(".ts")).sort();

describe("golden snapshots", () => {
  for (const example of examples) {
    const name = example.replace(/\.ts$/, "");
    describe(example, () => {
      let files: Map<string, string>;
      before(async () => {
        const result = await synth(path.join(EXAMPLES, example));
        assert.deepEqual(result.errors, [], `${example} must compile`);
        files = result.files;
      });

      it("compiles to the committed snapshot, byte for byte", () => {
        const dir = path.join(GOLDEN, name);
        const own = [...files].filter(([f]) => !f.startsWith("roles/"));
        if (update) {
          rmSync(dir, { recursive: true, force: true });
          for (const [f, content] of own) {
            mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
            writeFileSync(path.join(dir, f), content);
          }
        }
        assert.deepEqual(own.map(([f]) => f).sort(), listFiles(dir).sort(), "the set of files differs from the snapshot");
        for (const [f, content] of own) assert.equal(content, readFileSync(path.join(dir, f), "utf8"), `${f} differs from the snapshot`);
      });

      it("copies the roles it uses byte for byte, without Python byte-code caches", () => {
        const roles = [...files].filter(([f]) => f.startsWith("roles/"));
        assert.ok(roles.length > 0);
        assert.deepEqual(roles.filter(([f]) => /__pycache__|\.pyc$/.test(f)).map(([f]) => f), []);
        for (const [f, content] of roles) assert.equal(content, readFileSync(path.join(ROOT, f), "utf8"), f);
      });

      it("is deterministic", async () => {
        const again = await synth(path.join(EXAMPLES, example));
        assert.deepEqual([...again.files], [...files]);
      });

      it("writes YAML that the yaml package (1.1) and PyYAML read alike", () => {
        const yml = [...files].filter(([f]) => f.endsWith(".yml") && !f.startsWith("roles/"));
        const script = "import json,sys,yaml\nfor p in json.load(sys.stdin):\n  print(json.dumps(yaml.safe_load(p), sort_keys=True))";
        const py = execFileSync("python3", ["-c", script], { input: JSON.stringify(yml.map(([, c]) => c)), encoding: "utf8" }).trim().split("\n");
        yml.forEach(([f, content], i) => {
          const sorted = (v: unknown): unknown =>
            Array.isArray(v) ? v.map(sorted) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)])) : v;
          assert.deepEqual(JSON.parse(py[i]), sorted(parse(content, { version: "1.1" })), f);
        });
      });
    });
  }
});
