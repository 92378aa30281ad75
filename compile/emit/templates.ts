/**
 * The Handlebars templates of the compiled project's text files
 * (`compile/emit/templates/*.hbs`: the runbook, ansible.cfg), compiled once at
 * build time.
 *
 * Loading the whole of Handlebars and compiling the two templates took ~40 ms
 * of a one-shot `airgap compile`; Handlebars' runtime alone with the templates
 * precompiled takes a fraction of that. `npm run build` writes
 * `dist/compile/emit/templates.cjs` (templates-index.ts): for each template its
 * source and its precompiled form. A template is rendered from that file only
 * while its source is still the same text; a template edited since the build
 * is compiled from its source with the full Handlebars, as before (so editing
 * one needs no rebuild). Options: `noEscape` and `strict` (DESIGN.md).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type HandlebarsNS from "handlebars";

type Handlebars = typeof HandlebarsNS;
type Template = (data: unknown) => string;

const here = path.dirname(fileURLToPath(import.meta.url));
/** The templates' sources (dist/compile/emit → compile/emit/templates in the package). */
export const TEMPLATES_DIR = path.resolve(here, "../../../compile/emit/templates");
/** The build's precompiled templates, next to this module. */
export const TEMPLATES_INDEX = path.join(here, "templates.cjs");

/** How every template is compiled: text, not HTML; a missing value is an error. */
const OPTIONS = { noEscape: true, strict: true } as const;

const require = createRequire(import.meta.url);

/** The index: template file name → its source then and its precompiled spec. */
export type Index = Record<string, { source: string; spec: object }>;
let index: Index | undefined;
/** The build's precompiled templates (empty when the build wrote none). */
export function readIndex(): Index {
  if (index) return index;
  try {
    index = require(TEMPLATES_INDEX) as Index;
  } catch {
    index = {}; // a build without it: every template is compiled from its source
  }
  return index;
}

/**
 * The template of `source`: from its precompiled form when `built` was
 * precompiled from this very source (Handlebars' runtime only), else compiled
 * from the source with the full Handlebars.
 */
export function templateOf(source: string, built?: { source: string; spec: object }): { render: Template; precompiled: boolean } {
  if (built && built.source === source) {
    const runtime = require("handlebars/runtime") as Handlebars;
    return { render: runtime.template(built.spec as Parameters<Handlebars["template"]>[0]) as Template, precompiled: true };
  }
  return { render: (require("handlebars") as Handlebars).compile(source, OPTIONS), precompiled: false };
}

const loaded = new Map<string, Template>();

/**
 * Renders `compile/emit/templates/<name>` with `data`. Throws Handlebars'
 * error when the template names a value `data` lacks (strict).
 */
export function renderTemplate(name: string, data: unknown): string {
  let render = loaded.get(name);
  if (!render) {
    render = templateOf(readFileSync(path.join(TEMPLATES_DIR, name), "utf8"), readIndex()[name]).render;
    loaded.set(name, render);
  }
  return render(data);
}

/** Writes TEMPLATES_INDEX from every `*.hbs` in TEMPLATES_DIR; returns how many. */
export function writeTemplatesIndex(dir = TEMPLATES_DIR, file = TEMPLATES_INDEX): number {
  const hbs = require("handlebars") as Handlebars;
  const names = readdirSync(dir).filter((n) => n.endsWith(".hbs")).sort();
  const entries = names.map((n) => {
    const source = readFileSync(path.join(dir, n), "utf8");
    return `  ${JSON.stringify(n)}: { source: ${JSON.stringify(source)}, spec: ${hbs.precompile(source, OPTIONS)} },`;
  });
  writeFileSync(file, `// Written by npm run build (compile/emit/templates-index.ts): the templates, precompiled.\nmodule.exports = {\n${entries.join("\n")}\n};\n`);
  return names.length;
}
