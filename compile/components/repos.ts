/** OS package repositories and Kubespray's files_repo, served by nginx on an admin host. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { KeyError, keyFingerprint, parsePublicKey } from "../../bundle/sign.js";
import type { FileArtifact, ReposService, Services } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import type { CoreModel, HostModel } from "../model/site.js";
import { allowedNetworks, claimPort, placeOn } from "./placement.js";
import type { Component } from "./component.js";

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
}

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

export const repos: Component<ReposModel> = {
  key: "repos",
  resolve(ctx: Context, core: CoreModel, services: Services) {
    const s: ReposService | undefined = services.repos;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "repos", s);
    const tls = s.tls ?? true;
    const port = s.port ?? (tls ? 443 : 80);
    if (host) claimPort(ctx, host, port, "tcp", "repos", s, s.port !== undefined ? "port" : "on");
    const packages = s.packages ?? [];
    packages.forEach((p, i) => {
      if (!PACKAGE_NAME.test(p)) ctx.error("AG084", `"${p}" is not a package name`, packages, i);
    });
    const files = (s.files ?? []).map((f) => checkFile(ctx, f)).filter((f): f is FileModel => !!f);
    const allow = allowedNetworks(ctx, core, s);
    const key = trustedKey(ctx, s);
    return host ? { host, named: services.dns !== undefined, tls, port, packages, files, allow, trustedKey: key } : undefined;
  },
  emit(m, core, out) {
    const scheme = m.tls ? "https" : "http";
    const defaultPort = m.tls ? 443 : 80;
    const name = `repo.${core.domain}`;
    const base = `${scheme}://${m.named ? name : m.host.address}${m.port === defaultPort ? "" : `:${m.port}`}`;
    out.serviceNames.set("repo", m.host.address);
    out.addGroup("airgap_repo_servers", [m.host.name]);
    out.addVars("all", { airgap_repo_url: base, airgap_repo_client_url: base });
    out.addVars("airgap_repo_servers", {
      airgap_repo_server_port: m.port,
      airgap_repo_server_tls: m.tls,
      airgap_repo_server_allow: m.allow,
      airgap_repo_server_names: [name, m.host.fqdn],
      airgap_repo_server_addresses: [m.host.address],
      airgap_repo_server_files: m.files,
      airgap_repo_server_packages: m.packages,
      ...(m.trustedKey ? { airgap_repo_server_trusted_key: m.trustedKey } : {}),
    });
    out.plays.push({ playbook: "admin", name: "Package repositories", hosts: "airgap_repo_servers", role: "repo_server" });
    out.plays.push({ playbook: "nodes", name: "Package sources", hosts: "all:!airgap_repo_servers", role: "repo_client" });
    const files = `${base}/files`;
    Object.assign(out.kubespray, {
      files_repo: files,
      github_url: `${files}/github.com`,
      dl_k8s_io_url: `${files}/dl.k8s.io`,
      storage_googleapis_url: `${files}/storage.googleapis.com`,
      get_helm_url: `${files}/get.helm.sh`,
    });
    const families = [...new Set(core.hosts.map((h) => h.os.distribution))];
    if (families.includes("debian")) out.kubespray.debian_repo = `${base}/debian`;
    if (families.includes("ubuntu")) out.kubespray.ubuntu_repo = `${base}/ubuntu`;
    if (core.hosts.some((h) => h.os.family === "RedHat")) out.kubespray.yum_repo = `${base}/rpm`;
    out.runbook.push({
      title: "Package repositories",
      lines: [
        `nginx on ${m.host.name} serves the bundle's OS packages and files at ${base}/ to ${m.allow.join(", ")}` +
          (m.tls ? ", over HTTPS with a certificate from the site CA." : "."),
        "Bring the bundle in as the transfer file made by `airgap bundle --export` and import it into a store on this controller: " +
          "`airgap import FILE --store /path/to/store --trust <the site's airgap-bundle.pub>` (it verifies the signature, every chunk and every blob first). " +
          "Then give the store at run time: " +
          "`ansible-playbook site.yml -e airgap_repo_server_bundle=/path/to/store` (needed on the first run and for a new bundle; " +
          "without it the admin keeps serving what it has). The manifest's signature is checked against the site's trusted key " +
          (m.trustedKey ? `(${keyFingerprint(parsePublicKey(m.trustedKey, "trustedKey"))}) ` : "(none set: services.repos.trustedKey; every bundle is refused) ") +
          "and every blob against the manifest before anything is used; a bundle that does not match is refused and what is served stays as it was.",
        `The APT repository is signed with a site key created on ${m.host.name} on the first run (private key in /var/lib/airgap/repo-gnupg, 0700).`,
        "Every other host's package sources point there only (the originals are kept in /etc/apt/airgap-original-sources).",
      ],
    });
  },
};
