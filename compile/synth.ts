/**
 * The pipeline, in memory: load → resolve → link → validate → emit. Writing is
 * the caller's last step, so nothing is written when any phase finds an error.
 *
 * - resolve: the core (hosts, networks) and each component alone, every error
 *   collected; then the port claims are checked against each other.
 * - link (link.ts): the cross-service facts, from the components' exports.
 * - validate: the components' whole-site checks (gateway routing, Kubespray's
 *   leak check), every error collected.
 * - emit: pure rendering.
 *
 * Nothing after resolve runs on a site with errors, and nothing after
 * validate on one whose whole-site checks failed.
 */
import path from "node:path";
import type { Site } from "../dsl/index.js";
import { components } from "./components/index.js";
import { Emission, type Component, type Linked } from "./components/component.js";
import type { KubesprayModel } from "./components/kubespray.js";
import { sortDiagnostics, type Diagnostic, type SourcePos } from "./diagnostics.js";
import { emitAnsibleCfg, emitRequirements, emitRoles, emitRunbook } from "./emit/files.js";
import { emitDiagram } from "./emit/diagram.js";
import { emitInventory } from "./emit/inventory.js";
import type { GatewayModel } from "./components/gateway.js";
import { emitPlaybooks, emitVaultSecrets, usedRoles } from "./emit/playbooks.js";
import type { ReposModel } from "./components/repos.js";
import type { CheckoutReader } from "./kubespray/catalogue.js";
import { checkClients, checkPorts, link, present, type ResolvedComponent } from "./link.js";
import { checkPlatforms, hostsOf, placements } from "./platforms.js";
import { loadSite, type Checker } from "./load/index.js";
import type { Positions } from "./load/evaluate.js";
import { compareText, Context } from "./model/context.js";
import { resolveCore, type HostModel } from "./model/site.js";
import type { SiteModels } from "./components/index.js";

export interface SynthOptions {
  /** Folder the project will be written to (relative paths in the output depend on it). */
  outDir?: string;
  checker?: Checker;
  /** Reads a Kubespray checkout the site names; without it, such a site is refused (AG094). */
  checkouts?: CheckoutReader;
  /** The components, in their order (default: every service airgap has). Tests add their own. */
  components?: Component<unknown>[];
  /** Where the roles are read from (default: airgap's `roles/`). */
  rolesDirs?: string[];
  /**
   * Called with diagram.dot's text and the project's folder (absolute) as soon
   * as the diagram is rendered, before the rest of the project: `airgap
   * compile` starts Graphviz's layout then, beside the rest of the compile.
   * May be called again with the same text (a site with errors is rendered
   * again with source positions); the project may still turn out to have errors.
   */
  onDiagram?: (dot: string, outDir: string) => void;
}

/** The site after every phase: core, typed models by component key, the linked facts. */
export interface SynthSite extends Linked {
  models: SiteModels;
  /** Which hosts each role runs on, dependencies included (known once rendered; `airgap bundle` plans OS packages from it). */
  placements?: { role: string; hosts: HostModel[] }[];
}

export interface Synthesized {
  /** Type errors first, then every semantic error, in source order. */
  errors: Diagnostic[];
  siteName?: string;
  /** Where the project goes: the given folder, else `out/<site name>`. */
  outDir?: string;
  /** Relative path → content; empty when there are errors. */
  files: Map<string, string>;
  /** The linked site, when there are no errors; `airgap bundle` and `airgap check` read it. */
  site?: SynthSite;
}

/**
 * Resolves, links and validates an evaluated site. Errors go to `ctx`; the
 * site is returned only when there are none.
 */
export function synthSite(ctx: Context, value: Site, list: Component<unknown>[] = components): SynthSite | undefined {
  const core = resolveCore(ctx, value);
  const resolved: ResolvedComponent[] = [];
  for (const component of list) {
    const r = component.resolve(ctx, core, value);
    if (r) resolved.push({ component, model: r.model, exports: r.exports });
  }
  const claims = resolved.flatMap((r) => r.exports.ports ?? []);
  checkPorts(ctx, claims);
  checkClients(ctx, core, claims);
  if (ctx.errors.length > 0) return undefined;
  const parts = present(resolved);
  const linked = link(core, parts);
  for (const { component, model } of parts) component.validate?.(ctx, model, linked);
  if (ctx.errors.length > 0) return undefined;
  const models = Object.fromEntries(parts.map((r) => [r.component.key, r.model])) as SiteModels;
  return { ...linked, models, exports: linked.exports };
}

/** Renders the project of a synthesized site (relative path → content, sorted). */
export function emitProject(site: SynthSite, outDir: string, list: Component<unknown>[] = components, rolesDirs?: string[]): Map<string, string> {
  return render(site, outDir, list, rolesDirs).files;
}

function render(
  linked: SynthSite,
  outDir: string,
  list: Component<unknown>[],
  rolesDirs?: string[],
  onDiagram?: SynthOptions["onDiagram"],
): { files: Map<string, string>; out: Emission } {
  const out = new Emission();
  Object.assign(out.kubespray, linked.kubespray);
  for (const c of list) {
    const model = (linked.models as Record<string, unknown>)[c.key];
    if (model !== undefined) c.emit(model, linked, out);
  }
  // A play whose host pattern names no host of the inventory just rendered
  // (the other admin hosts' sources-first plays on a site with one admin
  // host) is left out of the playbooks, the runbook's tags and the roles copied.
  const site: SynthSite = { ...linked, plays: linked.plays.filter((p) => hostsOf(p.hosts, linked, out).length > 0) };
  const kubespray = site.models.kubespray as KubesprayModel | undefined;
  const diagram = emitDiagram(site, site.models.gateway as GatewayModel | undefined);
  onDiagram?.(diagram, outDir);
  out.runbook.push({
    title: "Site diagram",
    lines: [
      "[diagram.svg](diagram.svg): the networks, the hosts in them with their roles and the services they serve (with ports), and the traffic between networks.",
      "`airgap compile` lays it out with Graphviz when `dot` is installed (Debian: `apt-get install graphviz`); otherwise run `dot -Tsvg diagram.dot -o diagram.svg` where Graphviz is.",
    ],
  });
  const files = new Map<string, string>([
    ["ansible.cfg", emitAnsibleCfg(kubespray, outDir, site.core.hosts.length)],
    ["diagram.dot", diagram],
    ...emitInventory(site.core, out),
    ...emitPlaybooks(site, outDir, kubespray),
    ...out.files,
    ...emitSecretsFile(site, outDir),
    ["README.md", emitRunbook(site, out, kubespray, site.models.repos as ReposModel | undefined, outDir)],
    ...emitRoles(usedRoles(site), rolesDirs),
    ...requirementsFile(usedRoles(site), rolesDirs),
  ]);
  return { files: new Map([...files].sort(([a], [b]) => compareText(a, b))), out };
}

function requirementsFile(roles: string[], rolesDirs?: string[]): [string, string][] {
  const text = emitRequirements(roles, rolesDirs);
  return text ? [["requirements.yml", text]] : [];
}

function emitSecretsFile(site: SynthSite, outDir: string): [string, string][] {
  const text = emitVaultSecrets(site, outDir);
  return text ? [["inventory/group_vars/all/airgap-secrets.yml", text]] : [];
}

/** The phases on an evaluated site, then the check of the rendered project (roles' platforms); undefined on any error. */
function run(ctx: Context, value: Site, options: SynthOptions, list: Component<unknown>[]): Synthesized | undefined {
  const site = synthSite(ctx, value, list);
  if (!site) return undefined;
  const outDir = options.outDir ?? path.join("out", value.name);
  const { files, out } = render(site, path.resolve(outDir), list, options.rolesDirs, options.onDiagram);
  site.placements = placements(site, out, options.rolesDirs);
  checkPlatforms(ctx, site, site.placements, site.core.sources, options.rolesDirs);
  if (ctx.errors.length > 0) return undefined;
  return { errors: [], siteName: value.name, outDir, files, site };
}

/** Whether the value written at `span` (its start to its end) holds the place `p`. */
function covers(span: SourcePos | undefined, p: SourcePos | undefined): boolean {
  if (!span || !p || span.file !== p.file) return false;
  const end = span.end ?? { line: span.line, col: span.col + 1 };
  const after = p.line > span.line || (p.line === span.line && p.col >= span.col);
  const before = p.line < end.line || (p.line === end.line && p.col < end.col);
  return after && before;
}

/** Loads, synthesizes and renders a site file. */
export async function synth(siteFile: string, options: SynthOptions = {}): Promise<Synthesized> {
  const file = path.resolve(siteFile);
  const list = options.components ?? components;
  const loaded = await loadSite(file, options.checker);
  const { typeErrors } = loaded;
  // A valid site needs no positions: take the fast evaluation as it is.
  const fast = loaded.fast?.evaluated;
  if (fast && typeErrors.length === 0) {
    const done = run(new Context(file, fast.positions, options.checkouts), fast.value as Site, options, list);
    if (done) return done;
  }
  const located = loaded.located();
  if (!located.evaluated) return { errors: [...sortDiagnostics(typeErrors), located.error], files: new Map() };
  const value = located.evaluated.value as Site;
  const ctx = new Context(file, located.evaluated.positions as Positions, options.checkouts);
  let done: Synthesized | undefined;
  try {
    done = run(ctx, value, options, list);
  } catch (err) {
    // With type errors the value may not have the DSL's shape: report those alone.
    if (typeErrors.length === 0) throw err;
  }
  // A semantic error about a value that holds a type error (the same field, or
  // the object a mistyped field name left without its value) says it again.
  const semantic = ctx.errors.filter((d) => !typeErrors.some((t) => covers(d.at, t.at)));
  const errors = [...sortDiagnostics(typeErrors), ...sortDiagnostics(semantic)];
  if (errors.length > 0 || !done) return { errors, siteName: typeof value?.name === "string" ? value.name : undefined, files: new Map() };
  return done;
}
