/** OS package repositories and Kubespray's files_repo, served by nginx on an admin host. */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { FileArtifact, ReposService, Site } from "../../dsl/index.js";
import { KeyError, keyFingerprint, parsePublicKey } from "../model/keys.js";
import { flag, type Context } from "../model/context.js";
import type { CoreModel, HostModel } from "../model/site.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import type { Component, PlayDecl } from "./component.js";

export interface FileModel {
  url: string;
  sha256: string;
  /** Path under files_repo: `<upstream host>/<upstream path>`. */
  path: string;
}

export interface ReposModel {
  host: HostModel;
  /** Whether the site's DNS serves `repo.<domain>`; without it, clients use the address. */
  named: boolean;
  tls: boolean;
  port: number;
  packages: string[];
  files: FileModel[];
  allow: string[];
  /** PEM of the public key bundles are signed with; undefined: every bundle is refused. */
  trustedKey?: string;
  /** Absolute path of that key's file (the runbook's keygen and carry steps name it). */
  trustedKeyFile?: string;
}

/** GnuPG home of the archive signing key: roles/repo_server's airgap_repo_server_gnupg_home default. */
export const REPO_GNUPG_HOME = "/var/lib/airgap/repo-gnupg";
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.\-]*$/;

/** The files_repo path of an upstream URL, as Kubespray's offline layout has it. */
export function filesRepoPath(url: URL): string {
  return `${url.host}${url.pathname}`;
}

/** The site's trusted bundle key (path relative to the site file), as PEM. */
function trustedKey(ctx: Context, s: ReposService): string | undefined {
  if (s.trustedKey === undefined) return undefined;
  const file = path.resolve(path.dirname(ctx.siteFile), s.trustedKey);
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch {
    ctx.error("AG088", `the trusted bundle key ${s.trustedKey} cannot be read`, s, "trustedKey", "make one with: airgap keygen DIR (then trustedKey: \"DIR/airgap-bundle.pub\")");
    return undefined;
  }
  try {
    parsePublicKey(pem, s.trustedKey);
  } catch (err) {
    if (!(err instanceof KeyError)) throw err;
    ctx.error("AG088", err.message, s, "trustedKey", "give the airgap-bundle.pub made by airgap keygen, not the private key");
    return undefined;
  }
  return pem;
}

function checkFile(ctx: Context, f: FileArtifact): FileModel | undefined {
  let url: URL | undefined;
  try {
    url = new URL(f.url);
  } catch {
    /* reported below */
  }
  if (!url || !["http:", "https:"].includes(url.protocol) || url.pathname.endsWith("/")) {
    ctx.error("AG082", `"${f.url}" is not an http(s) URL of a file`, f, "url");
    return undefined;
  }
  if (!/^[0-9a-f]{64}$/.test(f.sha256 ?? "")) {
    ctx.error("AG082", "sha256 must be 64 lower-case hex digits", f, "sha256");
    return undefined;
  }
  return { url: f.url, sha256: f.sha256, path: filesRepoPath(url) };
}

/**
 * Where clients reach the repositories: `https://repo.<domain>` (the address
 * without the site's DNS, or with `byAddress`: the certificate names the
 * address too), the port when not the default.
 */
function baseUrl(m: ReposModel, domain: string, byAddress = false): string {
  const defaultPort = m.tls ? 443 : 80;
  return `${m.tls ? "https" : "http"}://${m.named && !byAddress ? `repo.${domain}` : m.host.address}${m.port === defaultPort ? "" : `:${m.port}`}`;
}

export const repos: Component<ReposModel> = {
  key: "repos",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: ReposService | undefined = site.services?.repos;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "repos", s);
    const tls = flag(ctx, s, "tls", true);
    if (!tls && s.plainHttp !== true) {
      ctx.error("AG200", "the repositories would be served over plain HTTP: anyone on the path could change files_repo's binaries", s, "tls",
        "keep TLS (leave tls out), or add plainHttp: true beside tls: false to serve without TLS on purpose");
    } else if (tls && s.plainHttp === true) {
      ctx.error("AG201", "plainHttp: true while the repositories are served over TLS", s, "plainHttp",
        "leave plainHttp out, or set tls: false as well to serve without TLS on purpose");
    }
    const port = s.port ?? (tls ? 443 : 80);
    const allow = allowedNetworks(ctx, core, s);
    const claim = host && claimPort(ctx, host, port, "tcp", "repos", allow, s, s.port !== undefined ? "port" : "on", {
      setting: "services.repos.port",
      clients: core.hosts.filter((h) => h !== host),
      clientsWhy: "every other host installs its OS packages from it (and the Kubernetes nodes Kubespray's files)",
    });
    const packages = s.packages ?? [];
    packages.forEach((p, i) => {
      if (!PACKAGE_NAME.test(p)) ctx.error("AG084", `"${p}" is not a package name`, packages, i);
    });
    const files: FileModel[] = [];
    for (const f of s.files ?? []) {
      const m = checkFile(ctx, f);
      if (!m) continue;
      // files_repo keeps the upstream host and path only: a query string or fragment is dropped.
      const prior = files.find((x) => x.path === m.path);
      if (prior && prior.sha256 === m.sha256) ctx.error("AG082", `"${f.url}" is listed twice (as ${prior.url})`, f, "url");
      else if (prior) {
        ctx.error("AG082", `"${f.url}" and "${prior.url}" would both be served at files_repo/${m.path}, with different contents`, f, "url",
          "files_repo keeps the URL's host and path only (no query string): carry one of them");
      } else files.push(m);
    }
    const key = trustedKey(ctx, s);
    if (!host) return undefined;
    const m: ReposModel = { host, named: site.services?.dns !== undefined, tls, port, packages, files, allow: cidrs(allow), trustedKey: key,
      trustedKeyFile: key && s.trustedKey !== undefined ? path.resolve(path.dirname(ctx.siteFile), s.trustedKey) : undefined };
    const base = baseUrl(m, core.domain);
    const filesUrl = `${base}/files`;
    const kubespray: Record<string, unknown> = {
      files_repo: filesUrl,
      github_url: `${filesUrl}/github.com`,
      dl_k8s_io_url: `${filesUrl}/dl.k8s.io`,
      storage_googleapis_url: `${filesUrl}/storage.googleapis.com`,
      get_helm_url: `${filesUrl}/get.helm.sh`,
    };
    const distributions = new Set(core.hosts.map((h) => h.os.distribution));
    if (distributions.has("debian")) kubespray.debian_repo = `${base}/debian`;
    if (distributions.has("ubuntu")) kubespray.ubuntu_repo = `${base}/ubuntu`;
    if (core.hosts.some((h) => h.os.family === "RedHat")) kubespray.yum_repo = `${base}/rpm`;
    // The repository server runs first: every other role installs from it.
    const plays: PlayDecl[] = [
      { playbook: "admin", name: "Package repositories", hosts: "airgap_repo_servers", role: "repo_server" },
      // The other admin hosts get their package sources before any play installs a package on them
      // (by address: the site's name servers may be among what they install next).
      { playbook: "admin", name: "Admin hosts: package sources", hosts: "airgap_admin:!airgap_repo_servers", role: "repo_client", after: ["clock", "ca_trust"] },
      { playbook: "nodes", name: "Package sources", hosts: "all:!airgap_repo_servers", role: "repo_client", after: ["resolver", "ca_trust", "clock"] },
    ];
    return {
      model: m,
      exports: {
        names: [{ name: "repo", host }],
        ports: claim ? [claim] : [],
        ...(tls ? { tls: [{ name: "repo", host }] } : {}),
        plays,
        kubespray,
        // The archive signing key every host's package manager trusts: a new one means every host must fetch it again before it installs anything.
        state: [{
          name: "repo-signing-key", hosts: [host], paths: [REPO_GNUPG_HOME],
          what: `the package repositories' archive signing key (GnuPG home ${REPO_GNUPG_HOME})`,
          restore: `before site.yml runs on the rebuilt host, copy DIR${REPO_GNUPG_HOME} back to ${REPO_GNUPG_HOME} (root, 0700): the hosts keep trusting the same key`,
        }],
        // The site's own packages go to every host.
        packages: packages.length ? [{ hosts: core.hosts, deb: packages, rpm: packages, why: "repos.packages in the site file" }] : [],
      },
    };
  },
  emit(m, site, out) {
    const core = site.core;
    const name = `repo.${core.domain}`;
    const base = baseUrl(m, core.domain);
    out.addGroup("airgap_repo_servers", [m.host.name]);
    // The archive key is read on the repository server over SSH (never fetched over the network).
    out.addVars("all", { airgap_repo_url: base, airgap_repo_client_url: base, airgap_repo_client_server: m.host.name });
    // The other admin hosts install from it by address: their first packages come before the
    // site's name servers answer (those may be among what they install).
    if (m.named && core.hosts.some((h) => h !== m.host && h.roles.includes("admin"))) {
      out.addVars("airgap_admin", { airgap_repo_client_url: baseUrl(m, core.domain, true) });
    }
    out.addVars("airgap_repo_servers", {
      airgap_repo_server_port: m.port,
      airgap_repo_server_tls: m.tls,
      airgap_repo_server_allow: m.allow,
      airgap_repo_server_names: site.tlsNames.get("repo") ?? [name, m.host.fqdn],
      airgap_repo_server_addresses: [m.host.address],
      airgap_repo_server_files: m.files,
      airgap_repo_server_site_packages: m.packages,
    });
    // Every role that reads a bundle checks its signature itself (the store role's airgap_store.py).
    if (m.trustedKey) out.addVars("all", { airgap_store_trusted_key: m.trustedKey });
    out.runbook.push({
      title: "Package repositories",
      lines: [
        `nginx on ${m.host.name} serves the bundle's OS packages and files at ${base}/ to ${m.allow.join(", ")}` +
          (m.tls ? ", over HTTPS with a certificate from the site CA." : "."),
        "The bundle comes in as the transfer file (steps above: `airgap bundle --export`, `airgap import` into the store, " +
          "`site.yml -e airgap_repo_server_bundle=STORE`). The manifest's signature is checked against the site's trusted key " +
          (m.trustedKey ? `(${keyFingerprint(parsePublicKey(m.trustedKey, "trustedKey"))}) ` : "(none set: services.repos.trustedKey; every bundle is refused) ") +
          "and every blob against the manifest before anything is used; a bundle that does not match is refused and what is served stays as it was.",
        `The APT repository is signed with a site key created on ${m.host.name} on the first run (private key in /var/lib/airgap/repo-gnupg, 0700).`,
        "Every other host's package sources point there only (the originals are kept in /etc/apt/airgap-original-sources).",
      ],
    });
  },
};
