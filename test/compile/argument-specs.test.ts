/**
 * The compiler's variables must satisfy each role's meta/argument_specs.yml,
 * for every host each play runs on: required ones present, types right, and
 * no variable of a role's prefix that the role does not declare.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { synth } from "../../compile/synth.js";
import { EXAMPLES, ROOT } from "../helpers.js";

interface Spec {
  type?: string;
  required?: boolean;
  elements?: string;
  options?: Record<string, Spec>;
  choices?: unknown[];
}

function typeOk(type: string | undefined, v: unknown): boolean {
  switch (type ?? "str") {
    case "str":
    case "path":
      return typeof v === "string";
    case "int":
      return Number.isInteger(v);
    case "float":
      return typeof v === "number";
    case "bool":
      return typeof v === "boolean";
    case "list":
      return Array.isArray(v);
    case "dict":
      return v !== null && typeof v === "object" && !Array.isArray(v);
    case "raw":
      return true;
    default:
      throw new Error(`unknown spec type ${type}`);
  }
}

/** Checks `value` against `spec`; returns the problems, each with its path. */
export function checkSpec(name: string, spec: Spec, value: unknown): string[] {
  if (value === undefined) return spec.required ? [`${name} is required`] : [];
  if (!typeOk(spec.type, value)) return [`${name} should be ${spec.type ?? "str"}, is ${JSON.stringify(value)}`];
  const problems: string[] = [];
  if (spec.choices && !spec.choices.includes(value)) problems.push(`${name} = ${JSON.stringify(value)} is not one of ${JSON.stringify(spec.choices)}`);
  const items = spec.type === "list" ? (value as unknown[]) : spec.type === "dict" && spec.options ? [value] : [];
  items.forEach((item, i) => {
    const at = spec.type === "list" ? `${name}[${i}]` : name;
    if (spec.type === "list" && spec.elements && !typeOk(spec.elements, item)) problems.push(`${at} should be ${spec.elements}`);
    else if (spec.options && item && typeof item === "object") {
      for (const [k, s] of Object.entries(spec.options)) problems.push(...checkSpec(`${at}.${k}`, s, (item as Record<string, unknown>)[k]));
      for (const k of Object.keys(item)) if (!(k in spec.options)) problems.push(`${at}.${k} is not declared`);
    }
  });
  return problems;
}

/** The hosts a play pattern (`all`, `group`, `all:!group`) selects. */
function select(pattern: string, groups: Map<string, string[]>, all: string[]): string[] {
  return pattern.split(":").reduce<string[]>((acc, part, i) => {
    const not = part.startsWith("!");
    const name = not ? part.slice(1) : part;
    const members = name === "all" ? all : groups.get(name) ?? [];
    if (not) return acc.filter((h) => !members.includes(h));
    return i === 0 ? [...members] : [...new Set([...acc, ...members])];
  }, []);
}

describe("role argument specs", () => {
  for (const example of readdirSync(EXAMPLES).filter((f) => f.endsWith(".ts")).sort()) {
    it(`${example}: every play's variables satisfy its role's argument spec`, async () => {
      const { files, errors } = await synth(path.join(EXAMPLES, example));
      assert.deepEqual(errors, []);
      const inventory = parse(files.get("inventory/hosts.yml")!) as {
        all: { hosts: Record<string, Record<string, unknown>>; children: Record<string, { hosts?: Record<string, null> }> };
      };
      const all = Object.keys(inventory.all.hosts);
      const groups = new Map(Object.entries(inventory.all.children).map(([g, v]) => [g, Object.keys(v?.hosts ?? {})]));
      const groupVars = (g: string) => {
        const f = files.get(`inventory/group_vars/${g}/airgap.yml`);
        return f ? (parse(f) as Record<string, unknown>) : {};
      };
      const problems: string[] = [];
      for (const playbook of [...files.keys()].filter((f) => f.startsWith("playbooks/"))) {
        const plays = (parse(files.get(playbook)!) ?? []) as { hosts: string; roles?: { role: string }[]; tasks?: { "ansible.builtin.include_role"?: { name: string } }[] }[];
        for (const play of plays) {
          // A play applies roles, or (a playbook run by hand: restore-etcd.yml) includes a role's task files.
          const included = (play.tasks ?? []).flatMap((t) => (t["ansible.builtin.include_role"] ? [{ role: t["ansible.builtin.include_role"].name }] : []));
          for (const { role } of [...(play.roles ?? []), ...included]) {
            const specs = parse(readFileSync(path.join(ROOT, "roles", role, "meta/argument_specs.yml"), "utf8")) as {
              argument_specs: { main: { options: Record<string, Spec> } };
            };
            const options = specs.argument_specs.main.options;
            const prefix = `airgap_${role}_`;
            for (const host of select(play.hosts, groups, all)) {
              const memberOf = [...groups].filter(([, hs]) => hs.includes(host)).map(([g]) => g).sort();
              const vars = Object.assign({}, groupVars("all"), ...memberOf.map(groupVars), inventory.all.hosts[host]);
              for (const [k, s] of Object.entries(options)) problems.push(...checkSpec(`${role}@${host}: ${k}`, s, vars[k]));
              for (const k of Object.keys(vars)) {
                if (k.startsWith(prefix) && !(k in options)) problems.push(`${role}@${host}: ${k} is emitted but not declared`);
              }
            }
          }
        }
      }
      assert.deepEqual([...new Set(problems)], []);
    });
  }

  it("the checker itself catches a missing, a mistyped and an undeclared variable", () => {
    const spec: Spec = { type: "list", elements: "dict", required: true, options: { name: { type: "str", required: true } } };
    assert.deepEqual(checkSpec("v", spec, undefined), ["v is required"]);
    assert.deepEqual(checkSpec("v", spec, "x"), ['v should be list, is "x"']);
    assert.deepEqual(checkSpec("v", spec, [{ name: 1, extra: true }]), ["v[0].name should be str, is 1", "v[0].extra is not declared"]);
  });
});
