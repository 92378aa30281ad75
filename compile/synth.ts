/**
 * The pipeline: load → validate and resolve → emit, in memory. Writing is the
 * caller's last step, so nothing is written when any stage finds an error.
 */
import path from "node:path";
import type { Site } from "../dsl/index.js";
import { components } from "./components/index.js";
import { Emission } from "./components/component.js";
import type { KubesprayModel } from "./components/kubespray.js";
import { sortDiagnostics, type Diagnostic } from "./diagnostics.js";
import { emitAnsibleCfg, emitRoles, emitRunbook } from "./emit/files.js";
import { emitInventory } from "./emit/inventory.js";
import { emitPlaybooks, usedRoles } from "./emit/playbooks.js";
import { loadSite, type Checker } from "./load/index.js";
import { compareText, Context } from "./model/context.js";
import { resolveCore, type CoreModel } from "./model/site.js";

export interface SynthOptions {
  /** Folder the project will be written to (relative paths in the output depend on it). */
  outDir?: string;
  checker?: Checker;
}

export interface Synthesized {
  /** Type errors first, then every semantic error, in source order. */
  errors: Diagnostic[];
  siteName?: string;
  /** Where the project goes: the given folder, else `out/<site name>`. */
  outDir?: string;
  /** Relative path → content; empty when there are errors. */
  files: Map<string, string>;
  /** The resolved site (models in `components` order), when there are no errors; `airgap bundle` reads it. */
  resolved?: ReturnType<typeof resolveSite>;
}

/** Validates and resolves an evaluated site; every error is collected. */
export function resolveSite(ctx: Context, site: Site) {
  const core = resolveCore(ctx, site);
  const models = components.map((c) => c.resolve(ctx, core, site.services ?? {}, site));
  return { core, models };
}

/** Emits the project for a resolved site. */
export function emitProject(core: CoreModel, models: unknown[], outDir: string): Map<string, string> {
  const out = new Emission();
  components.forEach((c, i) => {
    if (models[i] !== undefined) c.emit(models[i], core, out);
  });
  const kubespray = models[components.findIndex((c) => c.key === "kubespray")] as KubesprayModel | undefined;
  const files = new Map<string, string>([
    ["ansible.cfg", emitAnsibleCfg(kubespray, outDir)],
    ...emitInventory(core, out),
    ...emitPlaybooks(out, outDir, kubespray),
    ["README.md", emitRunbook(core, out, kubespray, outDir)],
    ...emitRoles(usedRoles(out)),
  ]);
  return new Map([...files].sort(([a], [b]) => compareText(a, b)));
}

export async function synth(siteFile: string, options: SynthOptions = {}): Promise<Synthesized> {
  const file = path.resolve(siteFile);
  const loaded = await loadSite(file, options.checker);
  const { typeErrors } = loaded;
  // A valid site needs no positions: take the fast evaluation as it is.
  const fast = loaded.fast?.evaluated;
  if (fast && typeErrors.length === 0) {
    const ctx = new Context(file, fast.positions);
    const resolved = resolveSite(ctx, fast.value as Site);
    if (ctx.errors.length === 0) return emitted(resolved, fast.value as Site, options);
  }
  const located = loaded.located();
  if (!located.evaluated) return { errors: [...sortDiagnostics(typeErrors), located.error], files: new Map() };
  const site = located.evaluated.value as Site;
  const ctx = new Context(file, located.evaluated.positions);
  let resolved: ReturnType<typeof resolveSite> | undefined;
  try {
    resolved = resolveSite(ctx, site);
  } catch (err) {
    // With type errors the value may not have the DSL's shape: report those alone.
    if (typeErrors.length === 0) throw err;
  }
  // A semantic error at the very place of a type error says the same thing again.
  const typed = new Set(typeErrors.map((d) => d.at && `${d.at.file}:${d.at.line}:${d.at.col}`));
  const semantic = ctx.errors.filter((d) => !d.at || !typed.has(`${d.at.file}:${d.at.line}:${d.at.col}`));
  const errors = [...sortDiagnostics(typeErrors), ...sortDiagnostics(semantic)];
  if (errors.length > 0 || !resolved) return { errors, siteName: site?.name, files: new Map() };
  return emitted(resolved, site, options);
}

function emitted(resolved: ReturnType<typeof resolveSite>, site: Site, options: SynthOptions): Synthesized {
  const outDir = options.outDir ?? path.join("out", site.name);
  return { errors: [], siteName: site.name, outDir, files: emitProject(resolved.core, resolved.models, path.resolve(outDir)), resolved };
}
