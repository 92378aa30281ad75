/**
 * One diagnostic type for every stage, printed like tsc: file:line:col, the
 * code, the message, a code frame and a hint.
 */
import { compareText } from "./model/context.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import chalk from "chalk";

/** A place in a source file; line and column start at 1. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
  /** Where the written value ends (exclusive), when known: the code frame underlines up to it. */
  end?: { line: number; col: number };
}

export interface Diagnostic {
  /** `TS2322` for type errors, `AG…` for airgap's own (see compile/codes.ts). */
  code: string;
  message: string;
  at?: SourcePos;
  hint?: string;
  /**
   * TypeScript's own rendering of a type error (`tsc --pretty`: the code frame
   * with the full span underlined, related information), colours included;
   * printed instead of airgap's frame.
   */
  rendered?: string;
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

/** Renders one diagnostic; paths are shown relative to `cwd`. Without colour (chalk's level 0) no escape sequence is printed. */
export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const out: string[] = [];
  if (d.rendered) {
    out.push(chalk.level === 0 ? stripVTControlCharacters(d.rendered) : d.rendered);
    if (d.hint) out.push(`  ${chalk.green("hint:")} ${d.hint}`);
    return out.join("\n");
  }
  const where = d.at ? `${chalk.cyan(path.relative(cwd, d.at.file) || d.at.file)}:${chalk.yellow(d.at.line)}:${chalk.yellow(d.at.col)} - ` : "";
  out.push(`${where}${chalk.red("error")} ${chalk.gray(d.code + ":")} ${d.message}`);
  const lines = d.at && sourceLines(d.at.file);
  if (d.at && lines && lines[d.at.line - 1] !== undefined) {
    const text = lines[d.at.line - 1].replace(/\t/g, " ");
    const num = String(d.at.line);
    out.push("");
    out.push(`${chalk.bgWhite.black(num)} ${text}`);
    // The whole written value, as tsc underlines a span; to the line's end when it goes on below.
    const start = Math.max(0, d.at.col - 1);
    const stop = d.at.end ? (d.at.end.line === d.at.line ? d.at.end.col - 1 : text.trimEnd().length) : start + 1;
    const width = Math.max(1, Math.min(stop, text.length) - start);
    out.push(`${chalk.bgWhite(" ".repeat(num.length))} ${" ".repeat(start)}${chalk.red("~".repeat(width))}`);
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
