/**
 * Type-checks a site file against the DSL's declarations.
 *
 * The check comes from the native TypeScript compiler (typescript 7) when its
 * binary is installed: it is about twice as fast as the JavaScript checker, and
 * type-checking is the floor of a typed compile. It runs in a child process, in
 * parallel with evaluation. Where the native binary is missing (an unsupported
 * platform), ts-morph's checker gives the same diagnostics.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Diagnostic } from "../diagnostics.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The DSL's declarations, built next to this file (dist/compile/load → dist/dsl). */
export const dslTypes = path.resolve(here, "../../dsl/index.d.ts");

/** Compiler options for site files: strict, no emit, `airgap` resolves to the DSL. */
export function siteCompilerOptions(dslEntry = dslTypes) {
  return {
    strict: true,
    noEmit: true,
    target: "es2022",
    module: "preserve",
    moduleResolution: "bundler",
    skipLibCheck: true,
    types: [] as string[],
    paths: { airgap: [dslEntry] },
  };
}

export type Checker = "native" | "ts-morph";

/** Path of the native tsc binary, or undefined when it is not installed for this platform. */
export function nativeTsc(): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    const pkg = require.resolve(`@typescript/typescript-${process.platform}-${process.arch}/package.json`);
    const exe = path.join(path.dirname(pkg), "lib", "tsc");
    return existsSync(exe) ? exe : undefined;
  } catch {
    return undefined;
  }
}

/** The checker to use when none is named: the native one where it is installed. */
export function defaultChecker(): Checker {
  return nativeTsc() ? "native" : "ts-morph";
}

/**
 * Type-checks `files`; resolves to the type errors (empty when clean). With
 * `emitDir`, the native compiler also writes the files as CommonJS there, at
 * `emitDir/<absolute path>.js`, in the same run (the check costs the same).
 */
export function typecheck(files: string[], checker: Checker = defaultChecker(), emitDir?: string): Promise<Diagnostic[]> {
  return checker === "native" ? typecheckNative(files, emitDir) : typecheckTsMorph(files);
}

async function typecheckNative(files: string[], emitDir?: string): Promise<Diagnostic[]> {
  const exe = nativeTsc();
  if (!exe) throw new Error("the native TypeScript compiler is not installed");
  const dir = mkdtempSync(path.join(os.tmpdir(), "airgap-tsc-"));
  try {
    const emit = emitDir ? { noEmit: false, module: "commonjs", outDir: emitDir, rootDir: path.parse(process.cwd()).root } : {};
    const config = { compilerOptions: { ...siteCompilerOptions(), ...emit }, files: files.map((f) => path.resolve(f)) };
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(config));
    // --pretty: TypeScript's own rendering (the full span underlined, related
    // information) is kept for display; paths in it are relative to our cwd.
    const { code, stdout } = await run(exe, ["-p", dir, "--pretty", "true"], process.cwd());
    const diagnostics = parsePrettyTscOutput(stdout, process.cwd());
    if (code !== 0 && diagnostics.length === 0) {
      throw new Error(`tsc failed without diagnostics:\n${stdout}`);
    }
    return diagnostics;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(exe: string, args: string[], cwd: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout }));
  });
}

const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Parses tsc's `--pretty` output: each diagnostic starts with
 * `file:line:col - error TSnnnn: message` (or `error TSnnnn: message` when it
 * has no place); indented lines right after continue the message. The whole
 * block (code frame with the span underlined, related information), colours
 * included, is kept as `rendered`; tsc's closing "Found N errors" is dropped.
 * Paths are resolved against `baseDir`.
 */
export function parsePrettyTscOutput(text: string, baseDir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const head = /^(.+?):(\d+):(\d+) - error (TS\d+): (.*)$/;
  const global = /^error (TS\d+): (.*)$/;
  let block: string[] = [];
  let inMessage = false;
  let collecting = false;
  const close = () => {
    const last = out[out.length - 1];
    if (last && block.length) last.rendered = block.join("\n").replace(/\s+$/, "");
    block = [];
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(ANSI, "");
    let m: RegExpMatchArray | null;
    if ((m = line.match(head))) {
      close();
      out.push({ code: m[4], message: m[5], at: { file: path.resolve(baseDir, m[1]), line: Number(m[2]), col: Number(m[3]) } });
      inMessage = collecting = true;
    } else if ((m = line.match(global))) {
      close();
      out.push({ code: m[1], message: m[2] });
      inMessage = collecting = true;
    } else if (/^Found \d+ errors?\b/.test(line)) {
      close();
      inMessage = collecting = false;
      continue;
    } else if (!collecting) {
      continue;
    } else if (inMessage && line.startsWith("  ")) {
      out[out.length - 1].message += "\n" + line;
    } else {
      inMessage = false;
    }
    block.push(raw);
  }
  close();
  return out;
}

/** Parses `file(line,col): error TSnnnn: message` lines (`--pretty false`); indented lines continue the message. */
export function parseTscOutput(text: string, baseDir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const head = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/;
  const global = /^error (TS\d+): (.*)$/;
  for (const line of text.split(/\r?\n/)) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(head))) {
      out.push({
        code: m[4],
        message: m[5],
        at: { file: path.resolve(baseDir, m[1]), line: Number(m[2]), col: Number(m[3]) },
      });
    } else if ((m = line.match(global))) {
      out.push({ code: m[1], message: m[2] });
    } else if (line.startsWith("  ") && out.length > 0) {
      out[out.length - 1].message += "\n" + line;
    }
  }
  return out;
}

async function typecheckTsMorph(files: string[]): Promise<Diagnostic[]> {
  const { Project, ts } = await import("ts-morph");
  const o = siteCompilerOptions();
  const project = new Project({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.Preserve,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: [],
      paths: o.paths,
    },
  });
  for (const f of files) project.addSourceFileAtPath(path.resolve(f));
  project.resolveSourceFileDependencies();
  const out: Diagnostic[] = [];
  const cwd = process.cwd();
  const host: import("ts-morph").ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => cwd,
    getNewLine: () => "\n",
  };
  for (const d of project.getPreEmitDiagnostics()) {
    if (d.getCategory() !== ts.DiagnosticCategory.Error) continue;
    const sf = d.getSourceFile();
    const message = ts.flattenDiagnosticMessageText(d.compilerObject.messageText, "\n  ");
    const start = d.getStart();
    // TypeScript's own rendering, as `tsc --pretty` prints it.
    const rendered = ts.formatDiagnosticsWithColorAndContext([d.compilerObject], host).replace(/\s+$/, "");
    if (sf && start !== undefined) {
      const { line, character } = sf.compilerNode.getLineAndCharacterOfPosition(start);
      out.push({ code: `TS${d.getCode()}`, message, at: { file: sf.getFilePath(), line: line + 1, col: character + 1 }, rendered });
    } else {
      out.push({ code: `TS${d.getCode()}`, message, rendered });
    }
  }
  return out;
}
