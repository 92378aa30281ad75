/** Non-YAML files of the compiled project: ansible.cfg, the runbook, the roles. */
import { compareText } from "../model/context.js";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Emission, Linked } from "../components/component.js";
import type { KubesprayModel } from "../components/kubespray.js";
import type { ReposModel } from "../components/repos.js";
import { playTags, renderSteps, runbookSteps } from "./runbook.js";
import { readRole, ROLES_DIR, withDependencies } from "../roles.js";
import { renderTemplate as render } from "./templates.js";
import { GENERATED, toYaml } from "./yaml.js";

export { ROLES_DIR };

/** Where a folder is, written relative to the compiled project (ansible.cfg reads paths relative to itself). */
export function fromProject(outDir: string, dir: string): string {
  return path.relative(path.resolve(outDir), dir).split(path.sep).join("/") || ".";
}

/** Ansible's own default number of hosts worked on at once, and the most a compiled project asks for. */
export const FORKS = { min: 5, max: 50 };

/**
 * ansible.cfg; with the site's Kubespray checkout, its roles and modules too,
 * so `deploy.yml` runs `cluster.yml` from here. `forks`: one per host of the
 * site (`hosts`), at least Ansible's default 5, at most 50 (each fork is a
 * process on the controller).
 */
export function emitAnsibleCfg(kubespray: KubesprayModel | undefined, outDir: string, hosts: number): string {
  const checkout = kubespray?.checkoutDir ? fromProject(outDir, kubespray.checkoutDir) : undefined;
  const forks = Math.min(FORKS.max, Math.max(FORKS.min, hosts));
  return render("ansible.cfg.hbs", { generated: GENERATED, checkout: checkout ?? false, forks });
}

/**
 * The runbook (README.md): hosts, the road (runbook.ts: every step a command
 * to copy), the tags, then each service's section.
 */
export function emitRunbook(site: Linked, out: Emission, kubespray: KubesprayModel | undefined, repos: ReposModel | undefined, outDir: string): string {
  const core = site.core;
  const tags = new Map<string, string[]>();
  for (const p of site.plays) for (const t of playTags(p)) tags.set(t, [...(tags.get(t) ?? []), `${p.playbook}.yml: ${p.name}`]);
  return render("README.md.hbs", {
    generated: GENERATED,
    name: core.name,
    domain: core.domain,
    siteFile: path.basename(core.siteFile),
    networks: core.networks,
    hosts: core.hosts.map((h) => ({ ...h, roles: h.roles.join(", ") || "none: a client of the site (time, names, packages, CA)" })),
    steps: renderSteps(runbookSteps({ site, kubespray, repos, outDir })),
    tags: [...tags].sort(([a], [b]) => compareText(a, b)).map(([tag, plays]) => ({ tag, plays: [...new Set(plays)].join("; ") })),
    sections: out.runbook,
  });
}

/**
 * `requirements.yml`: the Ansible collections the project's roles (and the
 * roles they include) call modules of, for `ansible-galaxy collection install
 * -r requirements.yml` on the controller; undefined when they need none.
 */
export function emitRequirements(names: string[], dirs: string[] = [ROLES_DIR]): string | undefined {
  const dirOf = (name: string) => path.dirname(dirs.map((d) => path.join(d, name)).find((d) => existsSync(d)) ?? path.join(ROLES_DIR, name));
  const collections = [...new Set(withDependencies(names, dirOf).flatMap((n) => readRole(n, dirOf(n)).collections))].sort(compareText);
  if (collections.length === 0) return undefined;
  return toYaml(
    { collections: collections.map((name) => ({ name })) },
    `${GENERATED}\nThe Ansible collections the roles call (beyond ansible-core's own):\nansible-galaxy collection install -r requirements.yml`,
  );
}

/** Python's byte-code caches (left by running a role's tool locally) are not part of a role. */
const NOT_ROLE_FILES = /^(__pycache__|.*\.py[co])$/;

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !NOT_ROLE_FILES.test(e.name))
    .sort((a, b) => compareText(a.name, b.name))
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

/**
 * The named roles and every role they depend on or include (as each role
 * says itself, compile/roles.ts), copied into the project so it runs on its
 * own; each is read from the first of `dirs` that has it (default: airgap's).
 */
export function emitRoles(names: string[], dirs: string[] = [ROLES_DIR]): Map<string, string> {
  const files = new Map<string, string>();
  const find = (name: string) => dirs.map((d) => path.join(d, name)).find((d) => existsSync(d)) ?? path.join(ROLES_DIR, name);
  for (const name of withDependencies(names, (n) => path.dirname(find(n)))) {
    const dir = find(name);
    for (const rel of listFiles(dir)) {
      files.set(`roles/${name}/${rel}`, readFileSync(path.join(dir, rel), "utf8"));
    }
  }
  return files;
}
