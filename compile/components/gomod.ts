/**
 * Go's own rules for module paths, versions and `go.mod` files, as the go
 * command applies them (ported from golang.org/x/mod: `module.CheckPath`,
 * `module.CheckPathMajor`, `module.EscapePath`, `semver`, `modfile`'s
 * lexer). Compile-time only: the site is checked without a Go toolchain;
 * `airgap bundle` then runs the real go command on the bastion, which has
 * the last word (docs/goproxy.md).
 */

/** Characters of a module path element (`modPathOK`). */
const MOD_PATH_CHAR = /^[-._~0-9A-Za-z]$/;
/** Characters of a module path's first element, the host name (`firstPathOK`). */
const FIRST_ELEM_CHAR = /^[-.0-9a-z]$/;
const BAD_WINDOWS_NAMES = new Set(["CON", "PRN", "AUX", "NUL", ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [`COM${i}`, `LPT${i}`])]);

function checkElem(elem: string): string | undefined {
  if (elem === "") return "empty path element";
  if ([...elem].every((c) => c === ".")) return `invalid path element "${elem}"`;
  if (elem.startsWith(".")) return `leading dot in path element "${elem}"`;
  if (elem.endsWith(".")) return `trailing dot in path element "${elem}"`;
  for (const c of elem) if (!MOD_PATH_CHAR.test(c)) return `invalid char ${JSON.stringify(c)}`;
  const short = elem.includes(".") ? elem.slice(0, elem.indexOf(".")) : elem;
  if (BAD_WINDOWS_NAMES.has(short.toUpperCase())) return `"${short}" disallowed as path element component on Windows`;
  return undefined;
}

/**
 * Splits a module path into its prefix and its major-version suffix
 * (`/v2`, `.v1` for gopkg.in); `ok` false when the suffix is malformed
 * (`/v1`, `/v0`, `/v2.1`, a gopkg.in path without `.vN`).
 */
export function splitPathVersion(path: string): { prefix: string; major: string; ok: boolean } {
  if (path.startsWith("gopkg.in/")) {
    let i = path.length;
    if (path.endsWith("-unstable")) i -= "-unstable".length;
    while (i > 0 && path[i - 1] >= "0" && path[i - 1] <= "9") i--;
    if (i <= 1 || path[i - 1] !== "v" || path[i - 2] !== ".") return { prefix: path, major: "", ok: false };
    const major = path.slice(i - 2);
    if (major.length <= 2 || (major[2] === "0" && major !== ".v0")) return { prefix: path, major: "", ok: false };
    return { prefix: path.slice(0, i - 2), major, ok: true };
  }
  let i = path.length;
  let dot = false;
  while (i > 0 && ((path[i - 1] >= "0" && path[i - 1] <= "9") || path[i - 1] === ".")) {
    if (path[i - 1] === ".") dot = true;
    i--;
  }
  if (i <= 1 || i === path.length || path[i - 1] !== "v" || path[i - 2] !== "/") return { prefix: path, major: "", ok: true };
  const major = path.slice(i - 2);
  if (dot || major.length <= 2 || major[2] === "0" || major === "/v1") return { prefix: path, major: "", ok: false };
  return { prefix: path.slice(0, i - 2), major, ok: true };
}

/**
 * Why `path` is not a module path the go command downloads (x/mod's
 * `module.CheckPath`: a dotted host name first, elements of `-._~` and ASCII
 * letters and digits, a well-formed major-version suffix), or undefined.
 */
export function modulePathProblem(path: string): string | undefined {
  if (path === "") return "empty string";
  if (path.startsWith("-")) return "leading dash";
  if (path.includes("//")) return "double slash";
  if (path.endsWith("/")) return "trailing slash";
  for (const elem of path.split("/")) {
    const p = checkElem(elem);
    if (p) return p;
  }
  const first = path.split("/")[0];
  if (!first.includes(".")) return "missing dot in first path element";
  for (const c of first) if (!FIRST_ELEM_CHAR.test(c)) return `invalid char ${JSON.stringify(c)} in first path element`;
  if (!splitPathVersion(path).ok) return "invalid version suffix";
  return undefined;
}

/** A canonical SemVer version as Go writes it (`v1.2.3`, `v1.2.3-pre.1`; build metadata apart). */
const CANONICAL = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
/** Go's semver also accepts `v1` and `v1.2` (not canonical: go.mod never holds them). */
const SHORT = /^v(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/;
/** x/mod's pseudoVersionRE. */
const PSEUDO = /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/**
 * Why `version` is not an exact version of the module `path` that the go
 * command would accept in a go.mod (`module.Check` plus canonical form):
 * a query (`latest`, a branch, `>=v1`), a short form (`v1.2`), build
 * metadata other than `+incompatible`, `+incompatible` where it does not
 * apply, a pseudo-version that is malformed, or a major version that does
 * not match the path's suffix (`/v2` wants `v2.x.y`). Undefined when fine.
 */
export function moduleVersionProblem(path: string, version: string): string | undefined {
  const m = CANONICAL.exec(version);
  if (!m) {
    if (SHORT.test(version)) return `"${version}" is not canonical: the go command writes it ${version}${version.split(".").length === 1 ? ".0.0" : ".0"}`;
    if (/^(latest|upgrade|patch|master|main|HEAD)$/.test(version) || /^[<>=]/.test(version) || !version.startsWith("v")) return `"${version}" is a query or a name, not a version`;
    return `"${version}" is not a semantic version`;
  }
  const [, majorNum, , , pre, build] = m;
  if (build !== undefined && build !== "+incompatible") return `"${version}": a module version carries no build metadata but +incompatible`;
  // x/mod's IsPseudoVersion: then the commit and the time are checked as the go command does.
  if (pre !== undefined && version.split("-").length >= 3 && PSEUDO.test(version)) {
    const rev = version.replace(/\+incompatible$/, "").split("-").pop() ?? "";
    if (!/^[0-9a-f]{12}$/.test(rev)) return `"${version}": a pseudo-version ends with the commit's first 12 lower-case hex digits`;
    const stamp = /(\d{14})-[0-9A-Za-z]+(?:\+incompatible)?$/.exec(version)?.[1] ?? "";
    const [mo, d, h, mi, sec] = [4, 6, 8, 10, 12].map((k) => Number(stamp.slice(k, k + 2)));
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return `"${version}": the pseudo-version's time ${stamp} is not a UTC time yyyymmddhhmmss`;
  }
  const { major: pathMajor } = splitPathVersion(path);
  const major = `v${majorNum}`;
  if (build === "+incompatible") {
    if (pathMajor !== "") return `"${version}": +incompatible is for a module path without a major-version suffix`;
    if (Number(majorNum) < 2) return `"${version}": +incompatible is for v2 and later`;
    return undefined;
  }
  if (pathMajor.startsWith(".v") && pathMajor.endsWith("-unstable")) return undefined;
  if (version.startsWith("v0.0.0-") && pathMajor === ".v1") return undefined;
  if (pathMajor === "") {
    if (major === "v0" || major === "v1") return undefined;
    return `"${version}" is ${major}: the module path needs the suffix /${major} (or the version +incompatible, for a module without a go.mod)`;
  }
  if (major === pathMajor.slice(1)) return undefined;
  return `"${version}" does not match the path's major version ${pathMajor.slice(1)}`;
}

/**
 * What the go command's go.mod parser (modfile, as `go mod edit` and every
 * build read it) refuses in a `require`/`exclude`/`replace` line: a path
 * whose elements or major-version suffix are malformed (it does not apply
 * the host-name rules to required paths), a version that is no semantic
 * version (`latest`, `v1.2.3-01`; `v1.6` is accepted: go canonicalises it),
 * or one whose major version the path's suffix contradicts.
 */
export function goModRequireProblem(path: string, version: string): string | undefined {
  if (path === "" || path.includes("//") || path.endsWith("/") || path.startsWith("-")) return "usage: require module/path v1.2.3";
  for (const elem of path.split("/")) if (checkElem(elem)) return `invalid module path "${path}"`;
  const split = splitPathVersion(path);
  if (!split.ok) return `invalid module path "${path}"`;
  const m = CANONICAL.exec(version) ?? (SHORT.test(version.replace(/\+.*$/, "")) ? SHORT.exec(version.replace(/\+.*$/, "")) : null);
  if (!m) return `${path}: version "${version}" invalid: must be of the form v1.2.3`;
  const major = `v${m[1]}`;
  const pm = split.major;
  if (pm.startsWith(".v") && pm.endsWith("-unstable")) return undefined;
  if (version.startsWith("v0.0.0-") && pm === ".v1") return undefined;
  if (pm === "") return major === "v0" || major === "v1" || version.endsWith("+incompatible") ? undefined : `${path}: version "${version}" invalid: should be v0 or v1, not ${major}`;
  return major === pm.slice(1) ? undefined : `${path}: version "${version}" invalid: should be ${pm.slice(1)}, not ${major}`;
}

/** One `"path@version"` entry split, or why it is not one. */
export function parseModuleEntry(entry: unknown): { path: string; version: string } | { problem: string; version?: boolean } {
  if (typeof entry !== "string" || entry === "") return { problem: "an entry is a string <module path>@<version>" };
  const at = entry.lastIndexOf("@");
  if (at < 0) return { problem: `"${entry}" has no version: write <module path>@<version>` };
  const path = entry.slice(0, at);
  const version = entry.slice(at + 1);
  const p = modulePathProblem(path);
  if (p) return { problem: `"${path}" is not a module path: ${p}` };
  const v = moduleVersionProblem(path, version);
  if (v) return { problem: `${path}: ${v}`, version: true };
  return { path, version };
}

/**
 * A module path or version as the proxy protocol and the module cache name
 * it: every upper-case letter becomes `!` and its lower case
 * (`github.com/BurntSushi/toml` → `github.com/!burnt!sushi/toml`).
 */
export function escapeModule(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** A problem in a go.mod file, at its line and column (1-based). */
export interface GoModProblem {
  line: number;
  col: number;
  message: string;
}

/** What the compiler reads from a go.mod file. */
export interface GoModFile {
  /** The `module` directive's path. */
  module: string;
  /** `require` lines: module path and version. */
  require: { path: string; version: string; line: number }[];
  /** `replace` lines whose target is a local folder (`./x`, `../x`, `/x`): the bundle cannot carry those. */
  localReplace: { path: string; target: string; line: number }[];
}

const DIRECTIVES = new Set(["module", "go", "toolchain", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore"]);

/** The tokens of one go.mod line (modfile's lexer: identifiers, "interpreted" and `raw` strings, `//` comments). */
function tokenize(text: string, line: number): { tokens: { text: string; col: number }[] } | GoModProblem {
  const tokens: { text: string; col: number }[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (text.startsWith("//", i)) break;
    if (c === "(" || c === ")") {
      tokens.push({ text: c, col: i + 1 });
      i++;
      continue;
    }
    if (c === '"' || c === "`") {
      const start = i;
      i++;
      let value = "";
      while (i < text.length && text[i] !== c) {
        if (c === '"' && text[i] === "\\") {
          const n = text[i + 1];
          if (n === undefined) break;
          value += n === "n" ? "\n" : n === "t" ? "\t" : n;
          i += 2;
        } else value += text[i++];
      }
      if (i >= text.length) return { line, col: start + 1, message: "unterminated quoted string" };
      i++;
      tokens.push({ text: value, col: start + 1 });
      continue;
    }
    const start = i;
    while (i < text.length && !/[\s()"`]/.test(text[i]) && !text.startsWith("//", i)) i++;
    tokens.push({ text: text.slice(start, i), col: start + 1 });
  }
  return { tokens };
}

/**
 * Reads a go.mod file's text the way the go command's parser (modfile)
 * does for what the compiler needs: every directive known, blocks `( … )`
 * closed, exactly one `module` line with a valid module path, `require`
 * entries of a valid path and version, and local-folder replacements noted.
 * Returns the file or every problem found (line and column in the go.mod).
 */
export function parseGoMod(text: string): GoModFile | { problems: GoModProblem[] } {
  const problems: GoModProblem[] = [];
  const file: GoModFile = { module: "", require: [], localReplace: [] };
  let block: { verb: string; line: number } | undefined;
  let modules = 0;
  const entry = (verb: string, args: { text: string; col: number }[], line: number, col: number): void => {
    const bad = (message: string, at = col): void => void problems.push({ line, col: at, message });
    switch (verb) {
      case "module": {
        modules++;
        if (args.length !== 1) return bad("usage: module module/path");
        const p = modulePathProblem(args[0].text);
        // The main module's path may lack a dot (example/hello): only its syntax counts.
        if (p && !/missing dot|first path element/.test(p)) return bad(`invalid module path "${args[0].text}": ${p}`, args[0].col);
        file.module = args[0].text;
        return;
      }
      case "go":
        if (args.length !== 1 || !/^[1-9][0-9]*\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?((rc|beta)[1-9][0-9]*)?$/.test(args[0].text)) return bad("usage: go 1.23");
        return;
      case "toolchain":
        if (args.length !== 1) return bad("usage: toolchain go1.23.1");
        return;
      case "require":
      case "exclude": {
        if (args.length !== 2) return bad(`usage: ${verb} module/path v1.2.3`);
        const [p, v] = args;
        const vp = goModRequireProblem(p.text, v.text);
        if (vp) return bad(`${verb} ${vp}`, p.col);
        if (verb === "require") file.require.push({ path: p.text, version: v.text, line });
        return;
      }
      case "replace": {
        const arrow = args.findIndex((a) => a.text === "=>");
        if (arrow < 1 || arrow > 2 || args.length - arrow - 1 < 1 || args.length - arrow - 1 > 2) return bad("usage: replace module/path [v1.2.3] => other/module v1.4\n\t or replace module/path [v1.2.3] => ../local/directory");
        const target = args[arrow + 1].text;
        const local = target.startsWith("./") || target.startsWith("../") || target.startsWith("/") || target === "." || target === "..";
        if (local) {
          if (args.length - arrow - 1 !== 1) return bad("replacement by a folder takes no version", args[arrow + 1].col);
          file.localReplace.push({ path: args[0].text, target, line });
          return;
        }
        if (args.length - arrow - 1 !== 2) return bad("replacement module without version", args[arrow + 1].col);
        const vp = goModRequireProblem(target, args[arrow + 2].text);
        if (vp) return bad(`replace ${vp}`, args[arrow + 1].col);
        return;
      }
      default:
        if (args.length === 0) return bad(`usage: ${verb} …`);
    }
  };
  const lines = text.split("\n");
  lines.forEach((raw, k) => {
    const line = k + 1;
    const t = tokenize(raw, line);
    if ("message" in t) {
      problems.push(t);
      return;
    }
    const tokens = t.tokens;
    if (tokens.length === 0) return;
    if (block) {
      if (tokens.length === 1 && tokens[0].text === ")") {
        block = undefined;
        return;
      }
      if (tokens.some((x) => x.text === "(" || x.text === ")")) {
        problems.push({ line, col: tokens[0].col, message: "unexpected parenthesis inside a block" });
        return;
      }
      entry(block.verb, tokens, line, tokens[0].col);
      return;
    }
    const verb = tokens[0].text;
    if (!DIRECTIVES.has(verb)) {
      problems.push({ line, col: tokens[0].col, message: `unknown directive: ${verb}` });
      return;
    }
    if (tokens.length === 2 && tokens[1].text === "(") {
      if (verb === "module" || verb === "go" || verb === "toolchain") problems.push({ line, col: tokens[1].col, message: `${verb} takes no block` });
      block = { verb, line };
      return;
    }
    if (tokens.slice(1).some((x) => x.text === "(" || x.text === ")")) {
      problems.push({ line, col: tokens[0].col, message: "unexpected parenthesis" });
      return;
    }
    entry(verb, tokens.slice(1), line, tokens[0].col);
  });
  if (block) problems.push({ line: block.line, col: 1, message: `the ${block.verb} block is never closed with )` });
  if (modules === 0 && problems.length === 0) problems.push({ line: 1, col: 1, message: "no module directive" });
  if (modules > 1) problems.push({ line: 1, col: 1, message: "more than one module directive" });
  return problems.length ? { problems } : file;
}
