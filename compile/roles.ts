/**
 * What a hand-written role under `roles/` says about itself, read from the
 * role's own files so that nothing about a role is kept anywhere else:
 *
 * - `platforms`: the OS families the role supports, from `meta/main.yml`
 *   `galaxy_info.platforms` (Debian → `debian`, Ubuntu → `ubuntu`,
 *   EL → `rhel-family`).
 * - `packages`: the OS packages the role installs, per OS family: the role
 *   variable `airgap_<role>_packages`, from `vars/<Family>.yml`
 *   (`Debian.yml`, `RedHat.yml`) or, when the same everywhere, `vars/main.yml`
 *   (a family file wins over `vars/main.yml`, as `include_vars` does over role
 *   vars in Ansible). Plain names only, no Jinja. Empty when the role
 *   installs nothing.
 * - `dependencies`: the roles this role needs in the compiled project: those
 *   of `meta/main.yml` `dependencies`, and every role its task and handler
 *   files name in `include_role` / `import_role` (the convention: a role that
 *   uses another one includes it by its literal name, for example the service
 *   roles include `nginx` with their server blocks, `nginx` includes `ca` for
 *   certificates). Direct dependencies only; `withDependencies` closes them.
 * - `collections`: the Ansible collections its tasks and handlers call
 *   modules of (`community.crypto` for `community.crypto.openssl_csr`), every
 *   fully qualified module name but `ansible.builtin`/`ansible.legacy`'s.
 *   Modules only: a collection's filter or lookup inside Jinja is not seen.
 *
 * Roles are read once per process (the result is cached per roles folder and
 * name). A role whose files do not say these things plainly is a bug of the
 * role: reading it throws.
 *
 * Parsing the roles' YAML (about 140 kB) took most of a compile (0.4 s of
 * 0.9 s for 1,000 hosts), so `npm run build` writes what the shipped roles say
 * into an index beside this module (`roles-index.json`, see
 * `writeRolesIndex`), each role keyed by the SHA-256 of the files it is read
 * from. `readRole` takes a role from the index only when those files still
 * hash the same (a role edited after the build is parsed again); roles from
 * any other folder are always parsed.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseYaml } from "./yaml-parse.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The hand-written roles shipped with airgap. */
export const ROLES_DIR = path.resolve(here, "../..", "roles");
/** The build's index of what the shipped roles say (role name → digest of its files and its RoleInfo). */
export const ROLES_INDEX = path.join(here, "roles-index.json");

/** An OS family a role supports, in the compiler's words. */
export type RolePlatform = "debian" | "ubuntu" | "rhel-family";

export interface RoleInfo {
  name: string;
  /** From meta/main.yml `galaxy_info.platforms`; sorted, no duplicates. */
  platforms: RolePlatform[];
  /** `airgap_<role>_packages` per Ansible OS family (`ansible_os_family`). */
  packages: { Debian: string[]; RedHat: string[] };
  /** Roles this one depends on or includes, sorted, without itself. */
  dependencies: string[];
  /** Collections (`namespace.name`) whose modules its tasks and handlers call, sorted. */
  collections: string[];
}

/** Galaxy platform names → the compiler's. */
const PLATFORMS: Record<string, RolePlatform> = { Debian: "debian", Ubuntu: "ubuntu", EL: "rhel-family" };
const FAMILIES = ["Debian", "RedHat"] as const;
/** Task keywords that bring in another role. */
const INCLUDES = new Set(["include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"]);

const cache = new Map<string, RoleInfo>();

function readYaml(file: string): unknown {
  // Ansible reads YAML 1.1 (PyYAML).
  return parseYaml(readFileSync(file, "utf8"), { version: "1.1" });
}

function fail(role: string, file: string, message: string): never {
  throw new Error(`role ${role}: ${file}: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A role name as written in YAML: plain, not templated. */
function roleName(role: string, file: string, v: unknown): string {
  if (typeof v !== "string" || !/^[a-z][a-z0-9_]*$/.test(v)) fail(role, file, `the role it names must be a plain role name, not ${JSON.stringify(v)}`);
  return v;
}

function readPlatforms(name: string, dir: string): RolePlatform[] {
  const file = "meta/main.yml";
  const meta = readYaml(path.join(dir, file));
  const platforms = isRecord(meta) && isRecord(meta.galaxy_info) ? meta.galaxy_info.platforms : undefined;
  if (!Array.isArray(platforms) || platforms.length === 0) fail(name, file, "galaxy_info.platforms must list the OS families the role supports");
  const out = new Set<RolePlatform>();
  for (const p of platforms) {
    const known = isRecord(p) && typeof p.name === "string" ? PLATFORMS[p.name] : undefined;
    if (!known) fail(name, file, `unknown platform ${JSON.stringify(isRecord(p) ? p.name : p)} (known: ${Object.keys(PLATFORMS).join(", ")})`);
    out.add(known);
  }
  return [...out].sort();
}

function readPackages(name: string, dir: string): RoleInfo["packages"] {
  const variable = `airgap_${name}_packages`;
  const listIn = (file: string): string[] | undefined => {
    if (!existsSync(path.join(dir, file))) return undefined;
    const vars = readYaml(path.join(dir, file));
    if (vars === null || vars === undefined) return undefined;
    if (!isRecord(vars)) fail(name, file, "is not a mapping of variables");
    const list = vars[variable];
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || !list.every((p) => typeof p === "string" && /^[A-Za-z0-9][A-Za-z0-9+._-]*$/.test(p))) {
      fail(name, file, `${variable} must be a list of plain package names`);
    }
    return list as string[];
  };
  const common = listIn("vars/main.yml");
  const packages = { Debian: [] as string[], RedHat: [] as string[] };
  for (const family of FAMILIES) packages[family] = [...(listIn(`vars/${family}.yml`) ?? common ?? [])];
  return packages;
}

/** Every YAML file under a role's folder `sub`, relative to the role. */
function yamlFiles(dir: string, sub: string): string[] {
  const abs = path.join(dir, sub);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => (e.isDirectory() ? yamlFiles(dir, `${sub}/${e.name}`) : /\.ya?ml$/.test(e.name) ? [`${sub}/${e.name}`] : []));
}

/** Roles named by include_role / import_role anywhere in `node` (blocks, rescue, always included). */
function includedRoles(role: string, file: string, node: unknown, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const x of node) includedRoles(role, file, x, found);
  } else if (isRecord(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (INCLUDES.has(k)) found.add(roleName(role, file, isRecord(v) ? v.name : v));
      else includedRoles(role, file, v, found);
    }
  }
}

/** Collections of the fully qualified module names used as task keys anywhere in `node`. */
function usedCollections(node: unknown, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const x of node) usedCollections(x, found);
  } else if (isRecord(node)) {
    for (const [k, v] of Object.entries(node)) {
      const m = /^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$/.exec(k);
      if (m && !(m[1] === "ansible" && ["builtin", "legacy"].includes(m[2]))) found.add(`${m[1]}.${m[2]}`);
      usedCollections(v, found);
    }
  }
}

/** Meta and vars files a role is described by (those that exist), relative to the role. */
const DESCRIBING = ["meta/main.yml", "vars/main.yml", ...FAMILIES.map((f) => `vars/${f}.yml`)];

/** The files `readRole` reads, relative to the role: meta, vars, every task and handler file; in a fixed order. */
function describingFiles(dir: string): string[] {
  return [...DESCRIBING.filter((f) => existsSync(path.join(dir, f))), ...yamlFiles(dir, "tasks"), ...yamlFiles(dir, "handlers")];
}

/** SHA-256 (hex) over the role's describing files, each as its relative path and its bytes. */
function roleDigest(dir: string): string {
  const h = createHash("sha256");
  for (const f of describingFiles(dir)) {
    const bytes = readFileSync(path.join(dir, f));
    h.update(`${f}\0${bytes.length}\0`).update(bytes);
  }
  return h.digest("hex");
}

/** The role's dependencies (meta + include_role/import_role) and collections; each task and handler file parsed once. */
function readTasks(name: string, dir: string): Pick<RoleInfo, "dependencies" | "collections"> {
  const found = new Set<string>();
  const collections = new Set<string>();
  const meta = readYaml(path.join(dir, "meta/main.yml"));
  const deps = isRecord(meta) ? meta.dependencies : undefined;
  if (deps !== undefined && deps !== null && !Array.isArray(deps)) fail(name, "meta/main.yml", "dependencies must be a list");
  for (const d of (deps as unknown[] | undefined | null) ?? []) found.add(roleName(name, "meta/main.yml", isRecord(d) ? d.role ?? d.name : d));
  for (const file of [...yamlFiles(dir, "tasks"), ...yamlFiles(dir, "handlers")]) {
    const doc = readYaml(path.join(dir, file));
    includedRoles(name, file, doc, found);
    usedCollections(doc, collections);
  }
  found.delete(name);
  return { dependencies: [...found].sort(), collections: [...collections].sort() };
}

/** What the role says, from its files (no index, no cache). */
function parseRole(name: string, dir: string): RoleInfo {
  return { name, platforms: readPlatforms(name, dir), packages: readPackages(name, dir), ...readTasks(name, dir) };
}

type RolesIndex = Record<string, { digest: string; info: RoleInfo }>;
const indexes = new Map<string, RolesIndex>();

/** The index in `file`, or an empty one when there is none (a build without it: every role is parsed). */
function rolesIndex(file: string): RolesIndex {
  let index = indexes.get(file);
  if (!index) {
    try {
      index = JSON.parse(readFileSync(file, "utf8")) as RolesIndex;
    } catch {
      index = {};
    }
    indexes.set(file, index);
  }
  return index;
}

/**
 * What the role `name` under `rolesDir` says about itself (see the module's
 * comment), from `indexFile` when the role's files hash as indexed there
 * (default: the build's index for the shipped roles, none for other folders),
 * else parsed from its files.
 */
export function readRole(name: string, rolesDir: string = ROLES_DIR, indexFile = path.resolve(rolesDir) === ROLES_DIR ? ROLES_INDEX : undefined): RoleInfo {
  const dir = path.resolve(rolesDir, name);
  const cached = cache.get(dir);
  if (cached) return cached;
  if (!existsSync(path.join(dir, "meta/main.yml"))) throw new Error(`role ${name}: no such role in ${rolesDir} (meta/main.yml is missing)`);
  const indexed = indexFile ? rolesIndex(indexFile)[name] : undefined;
  const info = indexed && indexed.digest === roleDigest(dir) ? indexed.info : parseRole(name, dir);
  cache.set(dir, info);
  return info;
}

/**
 * Writes the index of every role under `rolesDir` (default: the shipped ones)
 * to `file` (default: `ROLES_INDEX`), parsing each role; `npm run build` runs
 * it (compile/roles-index.ts). Throws, as `readRole` does, on a role that does
 * not say what it needs plainly. Returns the number of roles indexed.
 */
export function writeRolesIndex(rolesDir: string = ROLES_DIR, file: string = ROLES_INDEX): number {
  const out: Record<string, { digest: string; info: RoleInfo }> = {};
  const names = readdirSync(rolesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(path.join(rolesDir, e.name, "meta/main.yml")))
    .map((e) => e.name)
    .sort();
  for (const name of names) {
    const dir = path.join(rolesDir, name);
    out[name] = { digest: roleDigest(dir), info: parseRole(name, dir) };
  }
  writeFileSync(`${file}.tmp`, `${JSON.stringify(out, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
  indexes.delete(file);
  return names.length;
}

/**
 * The roles and every role they depend on, directly or not; sorted.
 * `rolesDir`: the roles folder, or a function giving the folder a role is in.
 */
export function withDependencies(names: string[], rolesDir: string | ((role: string) => string) = ROLES_DIR): string[] {
  const seen = new Set<string>();
  const dirOf = typeof rolesDir === "string" ? () => rolesDir : rolesDir;
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    readRole(n, dirOf(n)).dependencies.forEach(visit);
  };
  names.forEach(visit);
  return [...seen].sort();
}
