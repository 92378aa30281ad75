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

/**
 * `owner[key]` when it is one of `allowed`; `fallback` when it is absent
 * (undefined for a required field, which the caller reports itself).
 * A value outside the list (a string cast into a union type, `as any`) is
 * reported as AG131 at `owner[key]`, and `undefined` returned: the caller
 * leaves what depends on it alone, so one mistake makes one error.
 */
export function oneOf<T extends string | boolean>(ctx: Context, owner: object, key: string, allowed: readonly T[], fallback: T | undefined): T | undefined {
  const v = (owner as Record<string, unknown>)[key];
  if (v === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(v)) return v as T;
  const list = allowed.map((a) => JSON.stringify(a)).join(", ");
  ctx.error("AG131", `${key} is ${JSON.stringify(v) ?? String(v)}, which is not one of ${list}`, owner, key,
    `the site file's types allow ${list} only (a cast does not change what the compiler accepts)`);
  return undefined;
}

/** `owner[key]` as a boolean (`fallback` when absent); anything else is reported as AG131 and read as `fallback`. */
export function flag(ctx: Context, owner: object, key: string, fallback: boolean): boolean {
  return oneOf(ctx, owner, key, [true, false], fallback) ?? fallback;
}
