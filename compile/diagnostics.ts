/**
 * One diagnostic type for every stage, printed like tsc: file:line:col, the
 * code, the message, a code frame and a hint.
 */
import { compareText } from "./model/context.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import chalk from "chalk";

/** A place in a source file; line and column start at 1. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface Diagnostic {
  /** `TS2322` for type errors, `AG…` for airgap's own (see compile/codes.ts). */
  code: string;
  message: string;
  at?: SourcePos;
  hint?: string;
}

/** Thrown by a stage that found errors; carries all of them. */
export class DiagnosticsError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`${diagnostics.length} error${diagnostics.length === 1 ? "" : "s"}`);
  }
}

/** Orders diagnostics by file, line and column, keeping the given order for ties. */
export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic) => d.at ?? { file: "", line: 0, col: 0 };
  return list
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const ka = key(a.d), kb = key(b.d);
      return compareText(ka.file, kb.file) || ka.line - kb.line || ka.col - kb.col || a.i - b.i;
    })
    .map(({ d }) => d);
}

const sourceCache = new Map<string, string[]>();
function sourceLines(file: string): string[] | undefined {
  if (!sourceCache.has(file)) {
    try {
      sourceCache.set(file, readFileSync(file, "utf8").split(/\r?\n/));
    } catch {
      return undefined;
    }
  }
  return sourceCache.get(file);
}

/** Renders one diagnostic; paths are shown relative to `cwd`. */
export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const out: string[] = [];
  const where = d.at ? `${chalk.cyan(path.relative(cwd, d.at.file) || d.at.file)}:${chalk.yellow(d.at.line)}:${chalk.yellow(d.at.col)} - ` : "";
  out.push(`${where}${chalk.red("error")} ${chalk.gray(d.code + ":")} ${d.message}`);
  const lines = d.at && sourceLines(d.at.file);
  if (d.at && lines && lines[d.at.line - 1] !== undefined) {
    const text = lines[d.at.line - 1].replace(/\t/g, " ");
    const num = String(d.at.line);
    out.push("");
    out.push(`${chalk.bgWhite.black(num)} ${text}`);
    out.push(`${chalk.bgWhite(" ".repeat(num.length))} ${" ".repeat(Math.max(0, d.at.col - 1))}${chalk.red("~")}`);
  }
  if (d.hint) out.push(`  ${chalk.green("hint:")} ${d.hint}`);
  return out.join("\n");
}

/** Renders a list and a closing count, as tsc does. */
export function formatDiagnostics(list: Diagnostic[], cwd = process.cwd()): string {
  const body = list.map((d) => formatDiagnostic(d, cwd)).join("\n\n");
  const n = list.length;
  return `${body}\n\nFound ${n} error${n === 1 ? "" : "s"}.\n`;
}
