/**
 * Stage 1, load: type-check the site file and evaluate it.
 *
 * With the native checker, one `tsc` run both checks and emits JavaScript, and
 * the fast path evaluates that. Positions of values are only needed to report
 * errors, so `located()` evaluates again, recording them, when there are any.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Diagnostic } from "../diagnostics.js";
import { evaluateSite, EvaluationError, type Evaluated } from "./evaluate.js";
import { takePrestarted } from "./prestart.js";
import { defaultChecker, typecheck, type Checker } from "./typecheck.js";

export { Positions } from "./evaluate.js";
export type { Checker } from "./typecheck.js";

/** An evaluation's outcome: the site, or the run-time error it failed with. */
export type Evaluation = { evaluated: Evaluated; error?: undefined } | { evaluated?: undefined; error: Diagnostic };

export interface Loaded {
  typeErrors: Diagnostic[];
  /** The fast evaluation, without positions (native checker only). */
  fast?: Evaluation;
  /** Evaluates again, recording where every value was written. */
  located(): Evaluation;
}

function attempt(file: string, emitDir?: string): Evaluation {
  try {
    return { evaluated: evaluateSite(file, emitDir) };
  } catch (err) {
    if (err instanceof EvaluationError) return { error: err.diagnostic };
    throw err;
  }
}

export async function loadSite(file: string, checker: Checker = defaultChecker()): Promise<Loaded> {
  const early = checker === "native" ? takePrestarted(file) : undefined;
  const emitDir = early?.emitDir ?? (checker === "native" ? mkdtempSync(path.join(os.tmpdir(), "airgap-js-")) : undefined);
  try {
    const typeErrors = await (early?.typeErrors ?? typecheck([file], checker, emitDir));
    const fast = emitDir ? attempt(file, emitDir) : undefined;
    return { typeErrors, fast, located: () => attempt(file) };
  } finally {
    if (emitDir) rmSync(emitDir, { recursive: true, force: true });
  }
}
