/**
 * The site's Python package index: a static PEP 503 index served by nginx, or
 * devpi-server behind nginx (roles/pypi_server), and pip on every host that
 * needs Python pointed at it (roles/pip_client). `airgap bundle` carries the
 * packages (bundle/wheels.ts); docs/pypi.md.
 */
import path from "node:path";
import type { OsRelease, PypiService, Site } from "../../dsl/index.js";
import { oneOf, type Context } from "../model/context.js";
import { resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import { secretExpression, type Component, type PortClaim } from "./component.js";

/** Where `airgap bundle` gets the packages: an index (`url`), a wheelhouse folder (`dir`, absolute), or both. */
export interface PypiSourceModel {
  url?: string;
  dir?: string;
}

export interface PypiModel {
  host: HostModel;
  mode: "static" | "devpi";
  port: number;
  /** Loopback port devpi-server listens on behind nginx. */
  backendPort: number;
  packages: string[];
  source: PypiSourceModel;
  rootPassword?: SecretModel;
  /** devpi mode: the site's index, `user/name` (default `<site>/prod`). */
  index: string;
  /** devpi mode: the account allowed to upload besides root. */
  uploader?: { user: string; password: SecretModel };
  /** devpi mode: devpi-web (the web view) installed beside devpi-server. */
  web: boolean;
  allow: string[];
  /** Hosts whose pip is pointed at the index (`python`, default true). */
  clients: HostModel[];
  /** The index pip uses: `https://pypi.<domain>:<port>/simple/` (devpi: `/<index>/+simple/`). */
  url: string;
}

export const DEFAULT_INDEX = "https://pypi.org/simple/";

/** devpi's venv, server folder and account: roles/pypi_server's defaults (test/compile/state.test.ts reads them there). */
export const DEVPI_VENV = "/opt/airgap/devpi";
export const DEVPI_SERVERDIR = "/var/lib/airgap/devpi";
export const DEVPI_ACCOUNT = "airgap-devpi";

/** What devpi mode installs on the server from the bundle (into a venv, from the bundle's index only). */
export const DEVPI_REQUIREMENTS = ["devpi-server"];
/** What `web: true` adds to devpi's venv. */
export const DEVPI_WEB_REQUIREMENTS = ["devpi-web"];

/** devpi's venv: devpi-server, and devpi-web when the site asks for the web view. */
export function devpiRequirements(m: Pick<PypiModel, "web">): string[] {
  return [...DEVPI_REQUIREMENTS, ...(m.web ? DEVPI_WEB_REQUIREMENTS : [])];
}
/** A devpi index name, `user/name` (devpi's own rule for both parts). */
const DEVPI_INDEX_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DEVPI_USER = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A PEP 508 requirement, without markers or URLs: `name[extra]==1.2`. */
const REQUIREMENT = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?\s*((==|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!-]+\s*,?\s*)*$/;

/**
 * The CPython each release ships as python3, and its glibc (the newest
 * manylinux tag its pip accepts): what the bundle asks pip for.
 */
export const PYTHON_BY_RELEASE: Record<OsRelease, { python: string; glibc: [number, number] }> = {
  "debian-12": { python: "3.11", glibc: [2, 36] },
  "ubuntu-22.04": { python: "3.10", glibc: [2, 35] },
  "ubuntu-24.04": { python: "3.12", glibc: [2, 39] },
  "rhel-9": { python: "3.9", glibc: [2, 34] },
  "rocky-9": { python: "3.9", glibc: [2, 34] },
  "almalinux-9": { python: "3.9", glibc: [2, 34] },
};

/** PEP 503 normalised project name. */
export function normalizeProject(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

function resolveSource(ctx: Context, s: PypiService): PypiSourceModel {
  const src = s.source as { index?: unknown; wheelhouse?: unknown } | undefined;
  if (src === undefined) return { url: DEFAULT_INDEX };
  const out: PypiSourceModel = {};
  if (typeof src.wheelhouse === "string" && src.wheelhouse !== "") out.dir = path.resolve(path.dirname(ctx.siteFile), src.wheelhouse);
  if (typeof src.index === "string") {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(src.index).protocol);
    } catch {
      /* reported below */
    }
    if (ok) out.url = src.index;
    else ctx.error("AG087", `"${src.index}" is not an http(s) URL of a package index`, src, "index", 'for example "https://pypi.org/simple/", or a local folder: { wheelhouse: "wheels" }');
  } else if (out.dir === undefined) {
    ctx.error("AG087", "the package source names neither an index nor a wheelhouse", s, "source", '{ index: "https://pypi.org/simple/" } or { wheelhouse: "wheels" }');
  }
  return out.url === undefined && out.dir === undefined ? { url: DEFAULT_INDEX } : out;
}

/** devpi mode's index name and upload account (AG160–AG162). */
function resolveDevpi(ctx: Context, core: CoreModel, s: PypiService, mode: "static" | "devpi"): { index: string; uploader?: { user: string; password: SecretModel } } {
  const index = s.index ?? `${core.name}/prod`;
  if (mode !== "devpi") {
    const what = { index: "index names", uploader: "accounts", web: "web view" } as const;
    for (const key of ["index", "uploader", "web"] as const) {
      // web: false says what static mode is anyway.
      if (s[key] !== undefined && !(key === "web" && s.web === false)) ctx.error("AG161", `pypi.${key} is for devpi mode; the static index has no ${what[key]}`, s, key, 'remove it, or set mode: "devpi"');
    }
    return { index };
  }
  if (s.web !== undefined && typeof s.web !== "boolean") ctx.error("AG161", `pypi.web is true or false, not ${JSON.stringify(s.web)}`, s, "web", "web: true serves devpi-web's view of the index");
  if (s.index !== undefined && (typeof s.index !== "string" || !DEVPI_INDEX_NAME.test(s.index) || s.index === "root/pypi")) {
    ctx.error("AG160", `"${String(s.index)}" is not a devpi index for the site`, s, "index", 'write "user/name" (letters, digits, ".", "_", "-"), for example "plant/prod"; root/pypi is devpi\'s mirror of PyPI, which a site without upstream does not have');
  }
  const u = s.uploader;
  if (u === undefined) return { index };
  let ok = true;
  if (typeof u.user !== "string" || !DEVPI_USER.test(u.user) || u.user === "root") {
    ctx.error("AG162", `"${String(u.user)}" cannot be the uploader's devpi user`, u, "user", 'a name of letters, digits, ".", "_", "-", other than root (the playbook\'s own account)');
    ok = false;
  }
  if (u.password === undefined) {
    ctx.error("AG162", "the uploader needs a password, by reference", s, "uploader", 'add password: fromEnv("AIRGAP_DEVPI_UPLOAD_PASSWORD")');
    return { index };
  }
  const password = resolveSecret(ctx, u, "password");
  return ok && password ? { index, uploader: { user: u.user, password } } : { index };
}

export const pypi: Component<PypiModel> = {
  key: "pypi",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: PypiService | undefined = site.services?.pypi;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "pypi", s);
    const mode = oneOf(ctx, s, "mode", ["static", "devpi"] as const, "static") ?? "static";
    const port = s.port ?? 3141;
    const allow = allowedNetworks(ctx, core, s);
    // devpi-server itself, on the loopback behind nginx.
    const backendPort = port === 3142 ? 3143 : 3142;
    const clients = core.hosts.filter((h) => h.python !== false);
    const ports = host
      ? [
          claimPort(ctx, host, port, "tcp", "pypi", allow, s, s.port !== undefined ? "port" : "on", {
            setting: "services.pypi.port",
            clients,
            clientsWhy: "pip on every host whose python is not false is pointed at it (set python: false on a host that must not use it)",
          }),
          mode === "devpi" ? claimPort(ctx, host, backendPort, "tcp", "pypi (devpi-server on the loopback)", "loopback", s, "mode") : undefined,
        ].filter((p): p is PortClaim => !!p)
      : [];
    const packages = s.packages ?? [];
    packages.forEach((p, i) => {
      if (!REQUIREMENT.test(p)) ctx.error("AG086", `"${p}" is not a requirement pip understands here`, packages, i, 'write "name", "name==1.2" or "name>=1.2,<2"');
    });
    const rootPassword = resolveSecret(ctx, s, "rootPassword");
    if (mode === "devpi" && s.rootPassword === undefined) {
      ctx.error("AG081", "devpi needs a root password, by reference", s, "mode", 'add rootPassword: fromEnv("AIRGAP_DEVPI_ROOT_PASSWORD")');
    }
    const source = resolveSource(ctx, s);
    const { index, uploader } = resolveDevpi(ctx, core, s, mode);
    if (!host) return undefined;
    // devpi serves its index under the index's name; the static index at /simple/.
    const url = `https://pypi.${core.domain}:${port}${mode === "devpi" ? `/${index}/+simple/` : "/simple/"}`;
    return {
      model: { host, mode, port, backendPort, packages, source, rootPassword, index, uploader, web: mode === "devpi" && s.web === true, allow: cidrs(allow), clients, url },
      exports: {
        names: [{ name: "pypi", host }],
        ports,
        tls: [{ name: "pypi", host }],
        plays: [
          { playbook: "admin", name: "Python package index", hosts: "airgap_pypi_servers", role: "pypi_server", after: ["repo_server", "ca", "repo_client"] },
          { playbook: "nodes", name: "Python clients (pip)", hosts: "airgap_pip_clients", role: "pip_client", after: ["repo_client", "ca_trust"] },
        ],
        endpoints: { "pip-index": url },
        // devpi's users, indexes and uploads: devpi-export reads them in one read transaction at one serial (a live, consistent dump).
        ...(mode === "devpi"
          ? {
              state: [{
                name: "devpi", hosts: [host], paths: [DEVPI_SERVERDIR],
                dump: { argv: [`${DEVPI_VENV}/bin/devpi-export`, "--serverdir", DEVPI_SERVERDIR], user: DEVPI_ACCOUNT },
                what: `devpi's users, its index ${index} and what was uploaded to it (not only the bundles' packages), as devpi-export writes them`,
                restore: `with airgap-devpi stopped and ${DEVPI_SERVERDIR} moved aside (an empty folder owned by ${DEVPI_ACCOUNT} in its place), as ${DEVPI_ACCOUNT}: \`${DEVPI_VENV}/bin/devpi-import --serverdir ${DEVPI_SERVERDIR} --no-root-pypi EXPORT\` (EXPORT: the export folder the restore prints), then site.yml (it makes devpi's login secret again and starts airgap-devpi)`,
              }],
            }
          : {}),
        secrets: [rootPassword, uploader?.password].filter((x): x is SecretModel => !!x),
      },
    };
  },
  emit(m, site, out) {
    const core = site.core;
    const name = `pypi.${core.domain}`;
    const url = m.url;
    out.addGroup("airgap_pypi_servers", [m.host.name]);
    out.addGroup("airgap_pip_clients", m.clients.map((h) => h.name));
    out.addVars("all", { airgap_pip_index_url: url });
    out.addVars("airgap_pypi_servers", {
      airgap_pypi_server_mode: m.mode,
      airgap_pypi_server_port: m.port,
      airgap_pypi_server_address: m.host.address,
      airgap_pypi_server_allow: m.allow,
      airgap_pypi_server_names: site.tlsNames.get("pypi"),
      // The site's own and what other services need (Kubespray's controller).
      airgap_pypi_server_requirements: [...m.packages, ...site.python.filter((r) => !m.packages.includes(r))],
      ...(m.mode === "devpi"
        ? {
            airgap_pypi_server_devpi_port: m.backendPort,
            airgap_pypi_server_devpi_index: m.index,
            airgap_pypi_server_devpi_requirements: devpiRequirements(m),
            airgap_pypi_server_devpi_root_password: secretExpression(m.rootPassword!),
            ...(m.uploader ? { airgap_pypi_server_devpi_uploader: m.uploader.user, airgap_pypi_server_devpi_uploader_password: secretExpression(m.uploader.password) } : {}),
          }
        : {}),
    });
    out.runbook.push({
      title: "Python package index",
      lines: [
        `${url} on ${m.host.name} (${m.mode === "static" ? "a static PEP 503 index served by nginx" : "devpi-server behind nginx"}): TLS with a certificate from the site CA, open to ${m.allow.join(", ")} only.`,
        m.packages.length
          ? `Packages: ${m.packages.join(", ")} and their dependencies, from the bundle; \`airgap bundle\` fetches them from ${[m.source.url, m.source.dir !== undefined ? "the site's wheelhouse folder" : undefined].filter(Boolean).join(" and ")}.`
          : "Packages: none listed yet (pypi.packages in the site file).",
        `pip on ${m.clients.map((h) => h.name).join(", ") || "no host"}: /etc/pip.conf names this index only and the site CA.`,
        ...(m.mode === "devpi"
          ? [
              `devpi's index ${m.index} has no upstream and is non-volatile: a package a newer bundle drops stays installable. Uploads: root (the playbook)${m.uploader ? ` and ${m.uploader.user} (\`devpi use https://pypi.${core.domain}:${m.port}/${m.index}\`, \`devpi login ${m.uploader.user}\`, \`devpi upload\`)` : " only"}.`,
              ...(m.web ? [`devpi-web: the index in a browser at https://pypi.${core.domain}:${m.port}/${m.index} (a dependency the source has as an sdist only, pyramid-chameleon on PyPI, is built into a wheel by \`airgap bundle\`, and the manifest says so).`] : []),
            ]
          : []),
      ],
    });
  },
};
