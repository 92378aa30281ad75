/**
 * The site's Python package index: a static PEP 503 index served by nginx, or
 * devpi-server behind nginx (roles/pypi_server), and pip on every host that
 * needs Python pointed at it (roles/pip_client). `airgap bundle` carries the
 * packages (bundle/wheels.ts); docs/pypi.md.
 */
import path from "node:path";
import type { OsRelease, PypiService, Site } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import { resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import { secretExpression, type Component, type PortClaim } from "./component.js";

/** Where `airgap bundle` gets the packages. */
export type PypiSourceModel = { kind: "index"; url: string } | { kind: "wheelhouse"; dir: string };

export interface PypiModel {
  host: HostModel;
  mode: "static" | "devpi";
  port: number;
  /** Loopback port devpi-server listens on behind nginx. */
  backendPort: number;
  packages: string[];
  source: PypiSourceModel;
  rootPassword?: SecretModel;
  allow: string[];
  /** Hosts whose pip is pointed at the index (`python`, default true). */
  clients: HostModel[];
  /** The index pip uses: `https://pypi.<domain>:<port>/simple/` (devpi: `/root/site/+simple/`). */
  url: string;
}

export const DEFAULT_INDEX = "https://pypi.org/simple/";

/** What devpi mode installs on the server from the bundle (into a venv, `--no-index`). */
export const DEVPI_REQUIREMENTS = ["devpi-server"];
/** devpi's index of the site's packages (user root, no upstream mirror). */
export const DEVPI_INDEX = "root/site";

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
  const src = s.source;
  if (src === undefined) return { kind: "index", url: DEFAULT_INDEX };
  if ("wheelhouse" in src && typeof src.wheelhouse === "string" && src.wheelhouse !== "") {
    return { kind: "wheelhouse", dir: path.resolve(path.dirname(ctx.siteFile), src.wheelhouse) };
  }
  if ("index" in src && typeof src.index === "string") {
    let ok = false;
    try {
      ok = ["http:", "https:"].includes(new URL(src.index).protocol);
    } catch {
      /* reported below */
    }
    if (ok) return { kind: "index", url: src.index };
    ctx.error("AG087", `"${src.index}" is not an http(s) URL of a package index`, src, "index", 'for example "https://pypi.org/simple/", or a local folder: { wheelhouse: "wheels" }');
  } else {
    ctx.error("AG087", "the package source names neither an index nor a wheelhouse", s, "source", '{ index: "https://pypi.org/simple/" } or { wheelhouse: "wheels" }');
  }
  return { kind: "index", url: DEFAULT_INDEX };
}

export const pypi: Component<PypiModel> = {
  key: "pypi",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: PypiService | undefined = site.services?.pypi;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "pypi", s);
    const mode = s.mode ?? "static";
    const port = s.port ?? 3141;
    const allow = allowedNetworks(ctx, core, s);
    // devpi-server itself, on the loopback behind nginx.
    const backendPort = port === 3142 ? 3143 : 3142;
    const ports = host
      ? [
          claimPort(ctx, host, port, "tcp", "pypi", allow, s, s.port !== undefined ? "port" : "on"),
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
    const clients = core.hosts.filter((h) => h.python !== false);
    if (!host) return undefined;
    // devpi serves its index under the index's name; the static index at /simple/.
    const url = `https://pypi.${core.domain}:${port}${mode === "devpi" ? `/${DEVPI_INDEX}/+simple/` : "/simple/"}`;
    return {
      model: { host, mode, port, backendPort, packages, source, rootPassword, allow: cidrs(allow), clients, url },
      exports: {
        names: [{ name: "pypi", host }],
        ports,
        tls: [{ name: "pypi", host }],
        plays: [
          { playbook: "admin", name: "Python package index", hosts: "airgap_pypi_servers", role: "pypi_server", after: ["repo_server", "ca"] },
          { playbook: "nodes", name: "Python clients (pip)", hosts: "airgap_pip_clients", role: "pip_client", after: ["repo_client", "ca_trust"] },
        ],
        endpoints: { "pip-index": url },
        secrets: rootPassword ? [rootPassword] : [],
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
        ? { airgap_pypi_server_devpi_port: m.backendPort, airgap_pypi_server_devpi_index: DEVPI_INDEX, airgap_pypi_server_devpi_requirements: DEVPI_REQUIREMENTS, airgap_pypi_server_devpi_root_password: secretExpression(m.rootPassword!) }
        : {}),
    });
    out.runbook.push({
      title: "Python package index",
      lines: [
        `${url} on ${m.host.name} (${m.mode === "static" ? "a static PEP 503 index served by nginx" : "devpi-server behind nginx"}): TLS with a certificate from the site CA, open to ${m.allow.join(", ")} only.`,
        m.packages.length
          ? `Packages: ${m.packages.join(", ")} and their dependencies, from the bundle; \`airgap bundle\` fetches them from ${m.source.kind === "index" ? m.source.url : "the site's wheelhouse folder"}.`
          : "Packages: none listed yet (pypi.packages in the site file).",
        `pip on ${m.clients.map((h) => h.name).join(", ") || "no host"}: /etc/pip.conf names this index only and the site CA.`,
      ],
    });
  },
};
