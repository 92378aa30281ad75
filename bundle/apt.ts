/**
 * Debian and Ubuntu packages: which .debs a host needs, as if it were a
 * minimal host of its release, whatever the machine running this has
 * installed.
 *
 * apt runs with its own configuration root (one per release and architecture,
 * in the cache folder): its own sources list pointing at the release's mirror,
 * its own lists and caches, `APT::Architecture` of the hosts, and a dpkg status
 * file that lists what a minimal host has. Steps:
 *
 * 1. `apt-get update` in that root (apt verifies the mirror's signed InRelease
 *    with the archive keyring, then the Packages indexes against it).
 * 2. The minimal host: what `debootstrap --variant=minbase` installs, that is
 *    every `Priority: required` or `Essential: yes` package, `apt`, and
 *    `usr-is-merged` where the release has it, with their dependencies. apt
 *    resolves that set against an empty status; the result, with the index's
 *    control fields, becomes the root's status file.
 * 3. For each list of packages: `apt-get install --reinstall --print-uris
 *    --no-install-recommends LIST` against that status gives the closure (the
 *    listed packages themselves, even those a minimal host has, and every
 *    dependency it lacks) with each .deb's URL.
 * 4. Each .deb's name, version, architecture, size and SHA-256 come from the
 *    Packages index (signature-checked by apt in step 1); the download is
 *    verified against them.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Arch } from "../dsl/index.js";
import type { OsInfo } from "../compile/model/site.js";
import { compareText } from "../compile/model/context.js";

/** Mirrors the bundle resolves packages from. */
export const MIRROR_NAMES = ["debian", "debian-security", "ubuntu", "ubuntu-ports"] as const;
export type MirrorName = (typeof MIRROR_NAMES)[number];
export type Mirrors = Record<MirrorName, string>;

export const DEFAULT_MIRRORS: Mirrors = {
  debian: "http://deb.debian.org/debian",
  "debian-security": "http://deb.debian.org/debian-security",
  ubuntu: "http://archive.ubuntu.com/ubuntu",
  "ubuntu-ports": "http://ports.ubuntu.com/ubuntu-ports",
};

/** The environment variable that overrides a mirror: `AIRGAP_MIRROR_DEBIAN_SECURITY`. */
export function mirrorEnvName(name: MirrorName): string {
  return `AIRGAP_MIRROR_${name.toUpperCase().replace(/-/g, "_")}`;
}

const KEYRINGS: Record<string, { file: string; pkg: string }> = {
  debian: { file: "/usr/share/keyrings/debian-archive-keyring.gpg", pkg: "debian-archive-keyring" },
  ubuntu: { file: "/usr/share/keyrings/ubuntu-archive-keyring.gpg", pkg: "ubuntu-keyring" },
};

const DEBIAN_SUITES = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|oldstable|testing|unstable)(-updates|-backports|-proposed-updates)?$/;
const DEBIAN_SECURITY_SUITES = /^(buster|bullseye|bookworm|trixie|forky|duke|stable|oldstable|testing)(-security|\/updates)$/;

interface SourceEntry {
  types: string[];
  uris: string[];
  suites: string[];
}

/** Entries of one-line (`.list`) and deb822 (`.sources`) APT source files. */
export function parseSources(text: string, deb822: boolean): SourceEntry[] {
  if (!deb822) {
    return text
      .split("\n")
      .map((l) => l.replace(/#.*/, "").trim())
      .filter((l) => /^deb(-src)?\s/.test(l))
      .map((l) => {
        const words = l.replace(/\[[^\]]*\]/, " ").split(/\s+/).filter(Boolean);
        return { types: [words[0]], uris: [words[1]], suites: [words[2]] };
      })
      .filter((e) => e.uris[0] && e.suites[0]);
  }
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const fields = new Map<string, string>();
      for (const line of stanza.split("\n")) {
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (m && !line.startsWith("#")) fields.set(m[1].toLowerCase(), m[2]);
      }
      if (fields.get("enabled")?.toLowerCase() === "no") return undefined;
      const list = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
      return { types: list("types"), uris: list("uris"), suites: list("suites") };
    })
    .filter((e): e is SourceEntry => !!e && e.uris.length > 0);
}

/** The Debian archive and security mirrors the machine's own APT sources use, if any. */
export function systemDebianMirrors(etcApt = "/etc/apt"): Partial<Pick<Mirrors, "debian" | "debian-security">> {
  const entries: SourceEntry[] = [];
  const read = (f: string, deb822: boolean) => {
    try {
      entries.push(...parseSources(readFileSync(f, "utf8"), deb822));
    } catch {
      /* unreadable: ignored */
    }
  };
  read(path.join(etcApt, "sources.list"), false);
  const dir = path.join(etcApt, "sources.list.d");
  const files = existsSync(dir) ? readdirSync(dir).sort(compareText) : [];
  for (const f of files) {
    if (f.endsWith(".list")) read(path.join(dir, f), false);
    else if (f.endsWith(".sources")) read(path.join(dir, f), true);
  }
  const found: Partial<Pick<Mirrors, "debian" | "debian-security">> = {};
  for (const e of entries.filter((x) => x.types.includes("deb"))) {
    const uri = e.uris[0].replace(/\/+$/, "");
    if (!found.debian && e.suites.some((s) => DEBIAN_SUITES.test(s))) found.debian = uri;
    if (!found["debian-security"] && e.suites.some((s) => DEBIAN_SECURITY_SUITES.test(s))) found["debian-security"] = uri;
  }
  return found;
}

export type MirrorOrigin = "option" | "environment" | "this machine's APT sources" | "default";

/** Mirrors in force: `--mirror` options, then environment, then (Debian) this machine's APT sources, then defaults. */
export function resolveMirrors(
  options: Partial<Mirrors>,
  env: NodeJS.ProcessEnv = process.env,
  system: Partial<Mirrors> = systemDebianMirrors(),
): { mirrors: Mirrors; origin: Record<MirrorName, MirrorOrigin> } {
  const mirrors = { ...DEFAULT_MIRRORS };
  const origin = {} as Record<MirrorName, MirrorOrigin>;
  for (const name of MIRROR_NAMES) {
    const fromEnv = env[mirrorEnvName(name)];
    const [value, from]: [string | undefined, MirrorOrigin] = options[name]
      ? [options[name], "option"]
      : fromEnv
        ? [fromEnv, "environment"]
        : system[name]
          ? [system[name], "this machine's APT sources"]
          : [undefined, "default"];
    if (value) mirrors[name] = value.replace(/\/+$/, "");
    origin[name] = from;
  }
  return { mirrors, origin };
}

/** A failure of the apt side, with what to do about it. */
export class AptError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** One .deb of a closure, as the Packages index describes it. */
export interface DebPackage {
  name: string;
  version: string;
  arch: string;
  /** Where apt would fetch it. */
  url: string;
  /** The file's name in the pool (`chrony_4.3-2+deb12u3_amd64.deb`). */
  file: string;
  size: number;
  sha256: string;
}

interface Stanza {
  name: string;
  version: string;
  arch: string;
  filename: string;
  size: number;
  sha256: string;
  priority: string;
  essential: boolean;
  text: string;
}

/** The Packages indexes of an apt root: every stanza, by `name version arch`. */
export class PackageIndex {
  readonly byKey = new Map<string, Stanza>();
  readonly names = new Set<string>();

  add(text: string): void {
    for (const raw of text.split(/\n\n+/)) {
      const s = parseStanza(raw);
      if (!s) continue;
      this.names.add(s.name);
      const key = `${s.name} ${s.version} ${s.arch}`;
      if (!this.byKey.has(key)) this.byKey.set(key, s);
    }
  }

  get(name: string, version: string, arch: string): Stanza | undefined {
    return this.byKey.get(`${name} ${version} ${arch}`);
  }

  /** What debootstrap's minbase variant starts from: required and Essential packages, apt, usr-is-merged. */
  minimalRoots(): string[] {
    const roots = new Set<string>(["apt"]);
    if (this.names.has("usr-is-merged")) roots.add("usr-is-merged");
    for (const s of this.byKey.values()) if (s.priority === "required" || s.essential) roots.add(s.name);
    return [...roots].sort(compareText);
  }
}

function parseStanza(raw: string): Stanza | undefined {
  const text = raw.trim();
  if (!text) return undefined;
  const f: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith(" ") || line.startsWith("\t")) continue;
    const colon = line.indexOf(":");
    if (colon > 0) f[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  if (!f.Package || !f.Version || !f.Architecture) return undefined;
  return {
    name: f.Package,
    version: f.Version,
    arch: f.Architecture,
    filename: f.Filename ?? "",
    size: Number(f.Size ?? NaN),
    sha256: (f.SHA256 ?? "").toLowerCase(),
    priority: f.Priority ?? "",
    essential: f.Essential === "yes",
    text,
  };
}

/** The dpkg status entry of an installed package: its control fields, without the archive's. */
export function statusEntry(stanzaText: string): string {
  const drop = new Set(["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512", "Description-md5"]);
  const out: string[] = [];
  let dropping = false;
  for (const line of stanzaText.split("\n")) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (!dropping) out.push(line);
      continue;
    }
    const field = line.slice(0, line.indexOf(":"));
    dropping = drop.has(field);
    if (!dropping) out.push(line);
    if (field === "Package") out.push("Status: install ok installed");
  }
  return out.join("\n");
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { maxBuffer: 512 * 1024 * 1024, encoding: "utf8", env: { ...process.env, LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          reject(
            (err as NodeJS.ErrnoException).code === "ENOENT"
              ? new AptError(`${cmd} is not installed`, "airgap bundle resolves Debian and Ubuntu packages with apt; run it on a Debian or Ubuntu machine")
              : err,
          );
          return;
        }
        resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
  });
}

/** apt's own complaints, without its chatter. */
function aptMessages(r: Run): string[] {
  return `${r.stdout}\n${r.stderr}`
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => /^(E|W|Err):/.test(l) || /^\s+\S.*(Depends|Conflicts|Breaks|PreDepends):/.test(l) || /unmet dependencies/.test(l))
    .filter((l) => !/Download is performed unsandboxed/.test(l));
}

/** apt's configuration root for one release and architecture. */
export class AptRoot {
  readonly root: string;
  private readonly keyring: { file: string; pkg: string };
  private readonly sourceLines: string[];

  constructor(
    cacheDir: string,
    readonly os: OsInfo,
    readonly arch: Arch,
    mirrors: Mirrors,
  ) {
    if (os.family !== "Debian" || !os.codename) throw new AptError(`${os.release} is not a Debian-family release`);
    this.root = path.join(cacheDir, "apt", `${os.release}-${arch}`);
    this.keyring = KEYRINGS[os.distribution];
    const key = `signed-by=${this.keyring.file}`;
    const c = os.codename;
    if (os.distribution === "debian") {
      this.sourceLines = [
        `deb [arch=${arch} ${key}] ${mirrors.debian} ${c} main`,
        `deb [arch=${arch} ${key}] ${mirrors.debian} ${c}-updates main`,
        `deb [arch=${arch} ${key}] ${mirrors["debian-security"]} ${c}-security main`,
      ];
    } else {
      const uri = arch === "amd64" ? mirrors.ubuntu : mirrors["ubuntu-ports"];
      this.sourceLines = [c, `${c}-updates`, `${c}-security`].map((s) => `deb [arch=${arch} ${key}] ${uri} ${s} main universe`);
    }
  }

  /** The mirrors this root fetches from, for messages. */
  get sources(): string[] {
    return this.sourceLines.map((l) => l.replace(/^deb \[[^\]]*\] /, ""));
  }

  private p(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  private options(status: "empty" | "minimal"): string[] {
    const o: Record<string, string> = {
      "Dir::State": this.p("state"),
      "Dir::State::status": this.p(`status.${status}`),
      "Dir::State::extended_states": this.p("state", "extended_states"),
      "Dir::Cache": this.p("cache"),
      // One binary cache per status file, so neither invalidates the other.
      "Dir::Cache::pkgcache": this.p("cache", `pkgcache.${status}.bin`),
      "Dir::Cache::srcpkgcache": this.p("cache", "srcpkgcache.bin"),
      "Dir::Etc::SourceList": this.p("etc", "sources.list"),
      "Dir::Etc::SourceParts": this.p("etc", "sources.list.d"),
      "Dir::Etc::Preferences": this.p("etc", "preferences"),
      "Dir::Etc::PreferencesParts": this.p("etc", "preferences.d"),
      "Dir::Log": this.p("log"),
      "APT::Architecture": this.arch,
      "APT::Architectures": this.arch,
      "APT::Install-Recommends": "false",
      "APT::Install-Suggests": "false",
      "APT::Get::AllowUnauthenticated": "false",
      "Acquire::Languages": "none",
      "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled": "false",
      "Acquire::http::Timeout": "30",
      "Acquire::Retries": "2",
      "Debug::NoLocking": "true",
    };
    return Object.entries(o).flatMap(([k, v]) => ["-o", `${k}=${v}`]);
  }

  async prepare(): Promise<void> {
    if (!existsSync(this.keyring.file)) {
      throw new AptError(
        `${this.os.release}: the ${this.os.distribution} archive keyring ${this.keyring.file} is missing, so the mirror's signatures cannot be checked`,
        `install it: apt-get install ${this.keyring.pkg}`,
      );
    }
    for (const d of [["etc", "sources.list.d"], ["etc", "preferences.d"], ["state", "lists", "partial"], ["cache", "archives", "partial"], ["log"]]) {
      await mkdir(this.p(...d), { recursive: true });
    }
    await writeFile(this.p("etc", "sources.list"), this.sourceLines.join("\n") + "\n");
    await writeFile(this.p("status.empty"), "");
  }

  /** `apt-get update` in this root; fails when any index could not be fetched or verified. */
  async update(): Promise<void> {
    const r = await run("apt-get", [...this.options("empty"), "update"]);
    const problems = aptMessages(r);
    if (r.code !== 0 || problems.length > 0) {
      throw new AptError(
        `${this.os.release} (${this.arch}): could not fetch the package indexes from ${this.sources.join(", ")}\n    ${problems.join("\n    ") || `apt-get update exited with ${r.code}`}`,
        `check that the mirror is reachable from here, or choose another one with --mirror ${this.os.distribution}=URL (or ${mirrorEnvName(this.os.distribution as MirrorName)})`,
      );
    }
  }

  /** Reads the Packages indexes apt fetched (and verified). */
  async index(): Promise<PackageIndex> {
    const r = await run("apt-get", [...this.options("empty"), "indextargets", "--format", "$(FILENAME)", "Created-By: Packages"]);
    const files = r.stdout.split("\n").filter(Boolean);
    if (r.code !== 0 || files.length === 0) throw new AptError(`${this.os.release} (${this.arch}): apt lists no Packages index after update`);
    const index = new PackageIndex();
    for (const f of files) {
      if (!existsSync(f)) continue;
      const cat = await run("/usr/lib/apt/apt-helper", ["cat-file", f]);
      if (cat.code !== 0) throw new AptError(`cannot read ${f}: ${cat.stderr.trim()}`);
      index.add(cat.stdout);
    }
    return index;
  }

  /** Resolves `packages` with apt against a status file; returns each .deb with the index's size and digest. */
  private async printUris(status: "empty" | "minimal", packages: string[], index: PackageIndex, why: string): Promise<DebPackage[]> {
    const args = [...this.options(status), "install", "-qq", "--print-uris", "--no-install-recommends"];
    if (status === "minimal") args.push("--reinstall");
    const r = await run("apt-get", [...args, "--", ...packages]);
    if (r.code !== 0) {
      const problems = aptMessages(r);
      throw new AptError(
        `${this.os.release} (${this.arch}): apt cannot install ${why} on a minimal host:\n    ${problems.join("\n    ") || `apt-get exited with ${r.code}`}`,
        /Unable to locate package|has no installation candidate|virtual package/.test(problems.join("\n"))
          ? `check the package names for ${this.os.release}: apt-cache policy NAME on a ${this.os.release} host`
          : undefined,
      );
    }
    const debs: DebPackage[] = [];
    for (const line of r.stdout.split("\n")) {
      const m = /^'([^']+)' (\S+) (\d+)/.exec(line);
      if (!m) continue;
      const [, url, fileName, size] = m;
      const parts = fileName.replace(/\.deb$/, "").split("_");
      if (parts.length !== 3) throw new AptError(`unexpected file name from apt: ${fileName}`);
      const [name, version, arch] = [parts[0], decodeURIComponent(parts[1]), parts[2]];
      const s = index.get(name, version, arch);
      if (!s) throw new AptError(`${name} ${version} ${arch} is not in the Packages indexes apt fetched`);
      if (!/^[0-9a-f]{64}$/.test(s.sha256)) throw new AptError(`${name} ${version} ${arch}: the Packages index gives no SHA256`);
      if (s.size !== Number(size) || !decodeURIComponent(url).endsWith(`/${s.filename}`)) {
        throw new AptError(`${name} ${version} ${arch}: apt's download (${url}, ${size} bytes) disagrees with the Packages index (${s.filename}, ${s.size} bytes)`);
      }
      debs.push({ name, version, arch, url, file: path.posix.basename(s.filename), size: s.size, sha256: s.sha256 });
    }
    return debs.sort((a, b) => compareText(a.name, b.name) || compareText(a.arch, b.arch));
  }

  /** What a minimal host of the release has; written as this root's dpkg status. */
  async minimalHost(index: PackageIndex): Promise<DebPackage[]> {
    const debs = await this.printUris("empty", index.minimalRoots(), index, "the minimal system (Priority: required, Essential, apt)");
    const entries = debs.map((d) => statusEntry(index.get(d.name, d.version, d.arch)!.text));
    await writeFile(this.p("status.minimal"), entries.join("\n\n") + "\n");
    return debs;
  }

  /** The .debs a minimal host needs to install `packages` (listed ones always included). Call minimalHost first. */
  closure(packages: string[], index: PackageIndex): Promise<DebPackage[]> {
    return this.printUris("minimal", packages, index, packages.join(" "));
  }
}
