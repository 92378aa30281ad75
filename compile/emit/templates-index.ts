/**
 * `npm run build`'s step after the roles index: `node
 * dist/compile/emit/templates-index.js` precompiles the Handlebars templates
 * into `dist/compile/emit/templates.cjs` (templates.ts). Exits 1 on a
 * template Handlebars cannot compile, naming the error.
 */
import { TEMPLATES_INDEX, writeTemplatesIndex } from "./templates.js";

try {
  const n = writeTemplatesIndex();
  process.stdout.write(`templates: ${n} precompiled -> ${TEMPLATES_INDEX}\n`);
} catch (err) {
  process.stderr.write(`templates: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
