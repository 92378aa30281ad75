/**
 * What every validator gets: the site file, where its values were written,
 * and a place to report errors (all of them are collected, none stops the run).
 */
import type { Diagnostic, SourcePos } from "../diagnostics.js";
import type { CheckoutReader } from "../kubespray/catalogue.js";
import type { Positions } from "../load/evaluate.js";

export class Context {
  readonly errors: Diagnostic[] = [];

  constructor(
    readonly siteFile: string,
    private readonly positions: Positions,
    /** Reads a Kubespray checkout the site names (`kubespray.checkout`); given by the command line. */
    readonly checkouts?: CheckoutReader,
  ) {}

  /** Where `owner[key]` was written in the site file (the file's start when unknown). */
  where(owner: unknown, key?: string | number): SourcePos {
    return this.positions.of(owner, key) ?? { file: this.siteFile, line: 1, col: 1 };
  }

  /** Reports an error at `owner[key]`. */
  error(code: string, message: string, owner: unknown, key?: string | number, hint?: string): void {
    this.errors.push({ code, message, at: this.where(owner, key), hint });
  }
}

/** `x` as a list: `undefined` → `[]`, a single value → `[value]`. */
export function asList<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

/** Orders strings by code unit, the same on every machine (unlike localeCompare). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
