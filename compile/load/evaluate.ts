/**
 * Evaluates a site file, and on request remembers where each of its values
 * was written.
 *
 * Fast path: run the CommonJS the native type check already emitted; no
 * positions. Located path (taken when there are errors to report): the file is
 * transpiled with TypeScript's own transpiler (from ts-morph) and a
 * small transform: every object and array literal is wrapped in a call that
 * records, for the value it creates, the line and column of the literal and of
 * each property or element. Validators can then point at the exact property of
 * the exact object, even for objects made in a loop or a helper function.
 */
import { readFileSync, existsSync } from "node:fs";
import { createRequire, SourceMap } from "node:module";
import path from "node:path";
import vm from "node:vm";
import type { ts as TS } from "ts-morph";
import * as dsl from "../../dsl/index.js";
import type { Diagnostic, SourcePos } from "../diagnostics.js";

/** Where a literal and its properties (or elements) were written. */
interface Located {
  at: SourcePos;
  keys: Map<string | number, SourcePos>;
}

/** Source positions of the values a site file created. */
export class Positions {
  private readonly byValue = new WeakMap<object, Located>();

  record(value: unknown, where: Located): void {
    if (value !== null && typeof value === "object" && !this.byValue.has(value)) this.byValue.set(value, where);
  }

  /** Where `owner[key]` was written, else where `owner` was, else undefined. */
  of(owner: unknown, key?: string | number): SourcePos | undefined {
    if (owner === null || typeof owner !== "object") return undefined;
    const loc = this.byValue.get(owner);
    if (!loc) return undefined;
    return (key !== undefined && loc.keys.get(key)) || loc.at;
  }
}

export interface Evaluated {
  value: unknown;
  positions: Positions;
}

/** Thrown when a site file fails at run time (or cannot be loaded). */
export class EvaluationError extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}

const AT = "__airgap_at";

/** TypeScript's JavaScript API, loaded only for the located path (it takes a while to load). */
let tsApi: typeof TS | undefined;
function typescript(): typeof TS {
  tsApi ??= (createRequire(import.meta.url)("ts-morph") as { ts: typeof TS }).ts;
  return tsApi;
}

function pos(sf: TS.SourceFile, node: TS.Node): SourcePos {
  const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  const e = sf.getLineAndCharacterOfPosition(node.getEnd());
  return { file: sf.fileName, line: line + 1, col: character + 1, end: { line: e.line + 1, col: e.character + 1 } };
}

function propertyKey(p: TS.ObjectLiteralElementLike): string | undefined {
  const ts = typescript();
  const n = p.name;
  if (!n) return undefined;
  if (ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isNumericLiteral(n) || ts.isPrivateIdentifier(n)) return n.text;
  return undefined;
}

/** The transform: `{…}` becomes `__airgap_at({…}, id)`, and likewise `[…]`. */
function recordLiterals(table: Located[]): TS.TransformerFactory<TS.SourceFile> {
  const ts = typescript();
  return (ctx) => (sf) => {
    const f = ctx.factory;
    const wrap = (expr: TS.Expression, where: Located) => {
      table.push(where);
      return f.createCallExpression(f.createIdentifier(AT), undefined, [expr, f.createNumericLiteral(table.length - 1)]);
    };
    const visit = (node: TS.Node): TS.Node => {
      const out = ts.visitEachChild(node, visit, ctx);
      if (ts.isObjectLiteralExpression(node)) {
        const keys = new Map<string | number, SourcePos>();
        for (const p of node.properties) {
          const k = propertyKey(p);
          if (k !== undefined) keys.set(k, pos(sf, p));
        }
        return wrap(out as TS.Expression, { at: pos(sf, node), keys });
      }
      if (ts.isArrayLiteralExpression(node)) {
        const keys = new Map<string | number, SourcePos>();
        node.elements.forEach((e, i) => {
          if (!ts.isSpreadElement(e)) keys.set(i, pos(sf, e));
        });
        return wrap(out as TS.Expression, { at: pos(sf, node), keys });
      }
      return out;
    };
    return ts.visitNode(sf, visit) as TS.SourceFile;
  };
}

interface Transpiled {
  code: string;
  map?: SourceMap;
  table: Located[];
}

/** The located path's source: TypeScript's transpiler with the recording transform. */
function transpile(file: string): Transpiled {
  const ts = typescript();
  const source = readFileSync(file, "utf8");
  const table: Located[] = [];
  const result = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      sourceMap: true,
      inlineSources: false,
    },
    transformers: { before: [recordLiterals(table)] },
  });
  const code = result.outputText.replace(/\n\/\/# sourceMappingURL=.*$/, "");
  return { code, map: new SourceMap(JSON.parse(result.sourceMapText ?? "{}")), table };
}

const WRAPPER_HEAD = `(function (exports, require, module, __filename, __dirname, ${AT}) {`;

/** Maps the first stack frame inside one of the evaluated files back to its TypeScript source. */
function locateError(err: unknown, maps: Map<string, SourceMap>): SourcePos | undefined {
  const stack = err instanceof Error ? err.stack ?? "" : "";
  for (const m of stack.matchAll(/\(?([^\s()]+):(\d+):(\d+)\)?$/gm)) {
    const map = maps.get(m[1]);
    if (!map) continue;
    const line = Number(m[2]) - 1;
    let col = Number(m[3]) - 1;
    if (line === 0) col -= WRAPPER_HEAD.length;
    const entry = map.findEntry(line, Math.max(0, col)) as { originalLine?: number; originalColumn?: number };
    if (entry && entry.originalLine !== undefined) {
      return { file: m[1], line: entry.originalLine + 1, col: (entry.originalColumn ?? 0) + 1 };
    }
  }
  return undefined;
}

const TS_EXTENSIONS = [".ts", ".mts", ".cts", "/index.ts"];

/** The fast path's source: what the native type check emitted for `file`. */
function emitted(emitDir: string): (file: string) => Transpiled {
  return (file) => ({ code: readFileSync(path.join(emitDir, file.replace(/\.[mc]?ts$/, ".js")), "utf8"), table: [] });
}

/**
 * Runs `file` (and the TypeScript files it imports relatively) and returns its
 * default export. `airgap` resolves to the DSL; other imports load normally.
 * With `emitDir`, runs the JavaScript emitted there and records no positions.
 */
export function evaluateSite(file: string, emitDir?: string): Evaluated {
  const compile = emitDir ? emitted(emitDir) : transpile;
  const positions = new Positions();
  const maps = new Map<string, SourceMap>();
  const cache = new Map<string, { exports: unknown }>();
  const at = (table: Located[]) => (value: unknown, id: number) => {
    positions.record(value, table[id]);
    return value;
  };

  const load = (abs: string): unknown => {
    const cached = cache.get(abs);
    if (cached) return cached.exports;
    const { code, map, table } = compile(abs);
    if (map) maps.set(abs, map);
    const module = { exports: {} as unknown };
    cache.set(abs, module);
    const fn = vm.runInThisContext(`${WRAPPER_HEAD}${code}\n})`, { filename: abs });
    fn.call(module.exports, module.exports, requireFrom(abs), module, abs, path.dirname(abs), at(table));
    return module.exports;
  };

  const requireFrom = (from: string) => {
    const nodeRequire = createRequire(from);
    return (spec: string): unknown => {
      if (spec === "airgap") return dsl;
      if (spec.startsWith(".") || path.isAbsolute(spec)) {
        const base = path.resolve(path.dirname(from), spec.replace(/\.(js|mjs|cjs)$/, ""));
        for (const ext of ["", ...TS_EXTENSIONS]) {
          const candidate = base + ext;
          if (/\.[mc]?ts$/.test(candidate) && existsSync(candidate)) return load(candidate);
        }
      }
      return nodeRequire(spec);
    };
  };

  const abs = path.resolve(file);
  let exported: unknown;
  try {
    exported = load(abs);
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new EvaluationError({
      code: "AG001",
      message: `the site file failed while it ran: ${message}`,
      at: locateError(err, maps) ?? { file: abs, line: 1, col: 1 },
      hint: "fix the error at this line; the site file must run without side effects",
    });
  }
  const value = (exported as { default?: unknown }).default;
  if (value === undefined) {
    throw new EvaluationError({
      code: "AG002",
      message: "the site file has no default export",
      at: { file: abs, line: 1, col: 1 },
      hint: "end the file with `export default defineSite({ ... });`",
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || typeof (value as { then?: unknown }).then === "function") {
    const what = typeof value === "function" ? "a function" : value === null ? "null" : Array.isArray(value) ? "an array"
      : typeof (value as { then?: unknown }).then === "function" ? "a Promise" : `a ${typeof value}`;
    throw new EvaluationError({
      code: "AG130",
      message: `the site file's default export is ${what}, not a site`,
      at: defaultExportAt(abs) ?? { file: abs, line: 1, col: 1 },
      hint: typeof value === "function"
        ? "export the site itself, not a function that makes it: `export default defineSite({ ... });` (call a helper there if you need one)"
        : "export the site object: `export default defineSite({ ... });` (no async work: the site file is evaluated synchronously)",
    });
  }
  return { value, positions };
}

/** Where the file's `export default` (or `export =`) statement is, from TypeScript's parser. */
function defaultExportAt(file: string): SourcePos | undefined {
  const ts = typescript();
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  for (const st of sf.statements) {
    const isDefault = ts.isExportAssignment(st)
      || ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword));
    if (isDefault) return pos(sf, st);
  }
  return undefined;
}
