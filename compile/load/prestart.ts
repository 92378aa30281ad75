/**
 * Starts the native type check of a site file before the rest of the
 * compiler loads: `tsc` runs in its own process, so the ~0.3 s it takes and
 * the time Node spends loading yargs, handlebars and the components overlap.
 * `loadSite` takes the started check when it is for the same file.
 */
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Diagnostic } from "../diagnostics.js";
import { nativeTsc, typecheck } from "./typecheck.js";

interface Started {
  file: string;
  emitDir: string;
  typeErrors: Promise<Diagnostic[]>;
}

let started: Started | undefined;

/** The commands whose second word is a site file. */
const SITE_COMMANDS = new Set(["compile", "validate", "check", "bundle"]);

/** Starts the check for `airgap <command> <site.ts> …`, when that is what argv says. */
export function prestart(argv: string[]): void {
  const [command, file] = argv;
  if (!SITE_COMMANDS.has(command) || !file || file.startsWith("-") || argv.includes("--help") || argv.includes("-h")) return;
  if (!existsSync(file) || !nativeTsc()) return;
  const abs = path.resolve(file);
  const emitDir = mkdtempSync(path.join(os.tmpdir(), "airgap-js-"));
  const typeErrors = typecheck([abs], "native", emitDir);
  typeErrors.catch(() => undefined); // observed by loadSite; never an unhandled rejection
  started = { file: abs, emitDir, typeErrors };
}

/** The started check for `file`, handed over once. */
export function takePrestarted(file: string): Started | undefined {
  if (started?.file !== path.resolve(file)) return undefined;
  const s = started;
  started = undefined;
  return s;
}
