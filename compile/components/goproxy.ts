/**
 * Go modules inside the site (issue 20): a Go module proxy served as static
 * files by nginx over TLS from the site CA, on the site's networks only
 * (`https://goproxy.<domain>:<port>`), holding the modules `airgap bundle`
 * downloaded with the go command on the bastion and the checksum
 * database's answers for them (`/sumdb/sum.golang.org/…`), so clients keep
 * `GOSUMDB=sum.golang.org`. Hosts with `go: true` get golang-go from the site
 * repository and GOPROXY/GOSUMDB for every user (roles/go_client).
 * The bundle side is bundle/gomodules.ts; docs/goproxy.md.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { GoproxyService, Site } from "../../dsl/index.js";
import { compareText, type Context } from "../model/context.js";
import type { CoreModel, HostModel } from "../model/site.js";
import type { Component, PortClaim } from "./component.js";
import { parseGoMod, parseModuleEntry } from "./gomod.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";

/** One module version the site lists (`modules`). */
export interface GoModuleModel {
  /** Module path as written (`github.com/BurntSushi/toml`). */
  path: string;
  /** Exact canonical version (`v1.5.2`, a pseudo-version, `v2.0.0+incompatible`). */
  version: string;
}

/** One go.mod file of the site's projects whose build list is carried. */
export interface GoModModel {
  /** As the site file names it (relative to the site file). */
  name: string;
  /** Absolute path on the machine that compiles or bundles. */
  file: string;
  /** Its `module` path. */
  module: string;
}

export interface GoproxyModel {
  host: HostModel;
  /** HTTPS port. */
  port: number;
  modules: GoModuleModel[];
  goMods: GoModModel[];
  /** Allowed networks, as CIDRs. */
  allow: string[];
  /** Hosts with `go: true`. */
  clients: HostModel[];
  /** `https://goproxy.<domain>:<port>`: the clients' GOPROXY (no trailing slash). */
  url: string;
}

/** Default HTTPS port of the module proxy. */
export const GOPROXY_DEFAULT_PORT = 8444;
/** The checksum database whose answers the site serves (the go command's default GOSUMDB). */
export const GO_SUMDB = "sum.golang.org";

/** The module entries (AG175 path, AG176 version, AG180 twice). */
function moduleEntries(ctx: Context, list: unknown): GoModuleModel[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    ctx.error("AG175", "goproxy.modules is a list of \"<module path>@<version>\" strings", list);
    return [];
  }
  const out: GoModuleModel[] = [];
  list.forEach((entry, i) => {
    const e = parseModuleEntry(entry);
    if ("problem" in e) {
      return e.version
        ? ctx.error("AG176", e.problem, list, i, "an exact version as go.mod writes it: v1.2.3, v1.2.3-rc.1, a pseudo-version v0.0.0-20240102150405-abcdef123456, or v2.0.0+incompatible (go list -m -versions MODULE lists them)")
        : ctx.error("AG175", e.problem, list, i, 'write "<module path>@<version>", e.g. "golang.org/x/text@v0.14.0" (the path as in go.mod\'s module line)');
    }
    if (out.some((o) => o.path === e.path && o.version === e.version)) return ctx.error("AG180", `${e.path}@${e.version} is listed twice`, list, i, "remove one");
    out.push(e);
  });
  return out;
}

/** The go.mod files (AG177 missing, AG178 unparsable, AG179 local replacement, AG180 twice). */
function goModFiles(ctx: Context, list: unknown): GoModModel[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    ctx.error("AG177", "goproxy.goMod is a list of go.mod paths, relative to the site file", list);
    return [];
  }
  const out: GoModModel[] = [];
  list.forEach((name, i) => {
    if (typeof name !== "string" || name === "") return ctx.error("AG177", "a go.mod entry is a path relative to the site file", list, i);
    const file = path.resolve(path.dirname(ctx.siteFile), name);
    let text: string;
    try {
      if (!statSync(file).isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
      text = readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return ctx.error("AG177", `${name}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "not a file" : `cannot be read (${code ?? String(err)})`}`, list, i,
        "name a project's go.mod, relative to the site file (e.g. \"../tools/go.mod\")");
    }
    const parsed = parseGoMod(text);
    if ("problems" in parsed) {
      const shown = parsed.problems.slice(0, 5).map((p) => `${name}:${p.line}:${p.col}: ${p.message}`);
      return ctx.error("AG178", `${name} does not parse as a go.mod: ${shown.join("; ")}${parsed.problems.length > 5 ? ` (and ${parsed.problems.length - 5} more)` : ""}`, list, i,
        "fix the file (go mod edit -fmt shows what the go command reads), or name another");
    }
    if (parsed.localReplace.length) {
      const r = parsed.localReplace[0];
      return ctx.error("AG179", `${name}:${r.line}: ${r.path} is replaced by the folder ${r.target}, which no module proxy serves`, list, i,
        "carry the replaced module by its own path and version (a module proxy serves modules, not folders), or name a go.mod without local replacements");
    }
    if (out.some((o) => o.file === file)) return ctx.error("AG180", `${name} is listed twice`, list, i, "remove one");
    out.push({ name, file, module: parsed.module });
  });
  return out;
}

export const goproxy: Component<GoproxyModel> = {
  key: "goproxy",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: GoproxyService | undefined = site.services?.goproxy;
    const clients = core.hosts.filter((h) => h.go);
    if (!s) {
      for (const h of clients) {
        const src = core.sources.get(h.name);
        ctx.error("AG181", `host "${h.name}" builds Go (go: true), but the site has no goproxy service`, src, "go",
          'add services.goproxy (on: an admin host, modules or goMod to carry), or remove go: true');
      }
      return undefined;
    }
    const [host] = placeOn(ctx, core, "goproxy", s);
    const port = s.port ?? GOPROXY_DEFAULT_PORT;
    const allow = allowedNetworks(ctx, core, s);
    const ports = host
      ? [
          claimPort(ctx, host, port, "tcp", "goproxy", allow, s, s.port !== undefined ? "port" : "on", {
            setting: "services.goproxy.port",
            clients,
            clientsWhy: "go on every host with go: true is pointed at it",
          }),
        ].filter((p): p is PortClaim => !!p)
      : [];
    const modules = moduleEntries(ctx, s.modules).sort((a, b) => compareText(a.path, b.path) || compareText(a.version, b.version));
    const goMods = goModFiles(ctx, s.goMod);
    if (!host) return undefined;
    const url = `https://goproxy.${core.domain}:${port}`;
    return {
      model: { host, port, modules, goMods, allow: cidrs(allow), clients, url },
      exports: {
        names: [{ name: "goproxy", host }],
        ports,
        tls: [{ name: "goproxy", host }],
        plays: [
          { playbook: "admin", name: "Go module proxy", hosts: "airgap_goproxy_servers", role: "goproxy", after: ["repo_server", "ca", "repo_client"] },
          { playbook: "nodes", name: "Go clients", hosts: "airgap_go_clients", role: "go_client", after: ["repo_client", "ca_trust"] },
        ],
        endpoints: { "go-proxy": url },
      },
    };
  },
  emit(m, site, out) {
    const core = site.core;
    out.addGroup("airgap_goproxy_servers", [m.host.name]);
    out.addGroup("airgap_go_clients", m.clients.map((h) => h.name));
    out.addVars("all", { airgap_go_proxy_url: m.url });
    out.addVars("airgap_goproxy_servers", {
      airgap_goproxy_port: m.port,
      airgap_goproxy_address: m.host.address,
      airgap_goproxy_allow: m.allow,
      airgap_goproxy_names: site.tlsNames.get("goproxy"),
      airgap_goproxy_modules: m.modules.map((x) => ({ path: x.path, version: x.version })),
    });
    const first = m.modules[0];
    out.runbook.push({
      title: "Go module proxy",
      lines: [
        `${m.url} on ${m.host.name}: the Go module proxy protocol as static files and sum.golang.org's answers for them (captured by \`airgap bundle\`), TLS with a certificate from the site CA, open to ${m.allow.join(", ")} only.`,
        m.modules.length || m.goMods.length
          ? `Carried: ${[...m.modules.map((x) => `${x.path}@${x.version}`), ...m.goMods.map((g) => `the build list of ${g.name} (${g.module})`)].join(", ")}, each with its dependencies.`
          : "Carried: nothing listed yet (goproxy.modules, goproxy.goMod in the site file).",
        `go on ${m.clients.map((h) => h.name).join(", ") || "no host (set go: true on a host)"}: GOPROXY=${m.url}, GOSUMDB=${GO_SUMDB} in /etc/environment and /etc/profile.d/airgap-go.sh.`,
        ...(first ? [`Elsewhere: \`GOPROXY=${m.url} GOSUMDB=${GO_SUMDB} go get ${first.path}@${first.version}\` with the site CA trusted by the system (or SSL_CERT_FILE=ca.crt).`] : []),
        `A module the site does not carry fails at once with go's own "404 Not Found"; add it to the site file and bring a new bundle (${core.name}).`,
      ],
    });
  },
};
