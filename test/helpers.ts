/** Shared by the tests: the repository's folders. */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from dist/test/…). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const EXAMPLES = path.join(ROOT, "examples");
export const BAD_SITES = path.join(ROOT, "test/bad-sites");
export const GOLDEN = path.join(ROOT, "test/golden");
export const CLI = path.join(ROOT, "bin/airgap.js");
