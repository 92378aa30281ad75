/**
 * Stage 1, load: type-check the site file and evaluate it, side by side.
 */
import type { Diagnostic } from "../diagnostics.js";
import { evaluateSite, EvaluationError, type Evaluated } from "./evaluate.js";
import { typecheck, type Checker } from "./typecheck.js";

export { Positions } from "./evaluate.js";
export type { Checker } from "./typecheck.js";

export interface Loaded {
  /** Type errors, then a run-time error if the file failed to evaluate. */
  errors: Diagnostic[];
  /** The evaluated site, when the file ran (even with type errors). */
  evaluated?: Evaluated;
}

export async function loadSite(file: string, checker?: Checker): Promise<Loaded> {
  const types = typecheck([file], checker);
  let evaluated: Evaluated | undefined;
  let runError: Diagnostic | undefined;
  try {
    evaluated = evaluateSite(file);
  } catch (err) {
    if (!(err instanceof EvaluationError)) throw err;
    runError = err.diagnostic;
  }
  const errors = await types;
  if (runError) errors.push(runError);
  return { errors, evaluated };
}
