/**
 * Helm charts inside the site (issue 19): a classic chart repository (a
 * static `index.yaml` whose URLs point inside the site, and the charts,
 * served by nginx over TLS from the site CA on the site's networks only) and
 * the same charts as OCI artifacts in the site registry (`charts/<name>`),
 * both filled by roles/helm_repo from the bundle. `airgap bundle` pulls the
 * charts with the helm client and checks the images they render
 * (bundle/charts.ts); docs/helm.md.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HelmChart, HelmService, Site } from "../../dsl/index.js";
import { compareText, type Context } from "../model/context.js";
import type { CoreModel, HostModel } from "../model/site.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import { imageModel, parseImageRef, type RegistryImageModel } from "./registry.js";
import { secretExpression, type Component, type PortClaim } from "./component.js";

/** One chart to carry, resolved. */
export interface HelmChartModel {
  /** `classic`: a chart repository with an `index.yaml`; `oci`: a chart in an OCI registry. */
  kind: "classic" | "oci";
  /** The repository as the site file gives it, without a trailing `/` (`https://…`, `oci://host/path`). */
  repo: string;
  name: string;
  /** Exact SemVer version, as written (a leading `v` kept: it is part of the chart's file name). */
  version: string;
  /** SHA-256 (64 lower-case hex digits) the chart's `.tgz` must have, when the site pins it. */
  sha256?: string;
  /** Absolute path of the keyring the chart's provenance must verify against (`helm pull --verify`). */
  keyring?: string;
  /** Images carried and pushed for it. */
  images: RegistryImageModel[];
  /** Rendered images the site does not carry, as written. */
  exclude: string[];
  /** `<name>-<version>.tgz`: the chart's file in the site's classic repository. */
  file: string;
  /** Where the bundle keeps it: `charts/<name>-<version>.tgz`. */
  path: string;
}

export interface HelmModel {
  host: HostModel;
  /** HTTPS port of the classic repository. */
  port: number;
  charts: HelmChartModel[];
  allow: string[];
  /** `https://charts.<domain>:<port>/`: the classic repository's URL, for `helm repo add`. */
  url: string;
}

/** Default HTTPS port of the classic repository. */
export const HELM_DEFAULT_PORT = 8443;
/** Repository under which the charts are pushed into the site registry: `<registry>/charts/<name>:<version>`. */
export const CHART_NAMESPACE = "charts";

/** One exact SemVer 2 version (Helm accepts a leading `v`). */
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
/** A chart name that is also a path component of an OCI repository (lower case). */
const CHART_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The chart's repository kind, or why it is neither form. */
function repoKind(repo: unknown): "classic" | "oci" | string {
  if (typeof repo !== "string" || repo === "") return "it is empty";
  if (repo.startsWith("oci://")) {
    const ref = repo.slice("oci://".length).replace(/\/$/, "");
    // An OCI repository is a registry host and at least the path under which the charts sit.
    const parsed = parseImageRef(`${ref}/x`);
    if (!parsed || !ref.includes("/") || ref.includes("@") || /:[^/]*\//.test(ref.slice(ref.indexOf("/")))) return "it is not oci://<registry host>/<path>";
    return "oci";
  }
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return "it is neither an http(s) URL nor an oci:// reference";
  }
  if (!["http:", "https:"].includes(url.protocol)) return `${url.protocol}// is neither a chart repository (https://) nor an OCI registry (oci://)`;
  if (url.search || url.hash || url.username || url.password) return "a chart repository's URL has no query, fragment or credentials here";
  return "classic";
}

/** Why a version is not one exact version (a range, a wildcard), for the message. */
function versionProblem(version: unknown): string | undefined {
  if (typeof version !== "string" || version === "") return "no version";
  if (SEMVER.test(version)) return undefined;
  if (/[\^~*xX<>=|, ]/.test(version)) return `"${version}" is a version range`;
  return `"${version}" is not a SemVer version`;
}

/**
 * An image reference as the site registry's lists name it (`docker.io/library/busybox:latest`
 * for `busybox`): how rendered images are compared with the listed and excluded ones.
 */
export function normalImage(ref: string): string | undefined {
  const r = parseImageRef(ref);
  return r ? `${r.host}/${r.path}:${r.tag ?? "latest"}${r.digest ? `@${r.digest}` : ""}` : undefined;
}

/** The images listed for a chart (AG174 for what is no image reference with a tag). */
function chartImages(ctx: Context, list: string[]): RegistryImageModel[] {
  const out: RegistryImageModel[] = [];
  list.forEach((ref, i) => {
    const m = imageModel(ref);
    if ("problem" in m) return ctx.error("AG174", m.problem, list, i, m.hint);
    if (out.some((o) => o.source === m.source)) return ctx.error("AG174", `"${ref}" is listed twice`, list, i);
    out.push(m);
  });
  return out;
}

export const helm: Component<HelmModel> = {
  key: "helm",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: HelmService | undefined = site.services?.helm;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "helm", s);
    const port = s.port ?? HELM_DEFAULT_PORT;
    const allow = allowedNetworks(ctx, core, s);
    const ports = host
      ? [claimPort(ctx, host, port, "tcp", "charts", allow, s, s.port !== undefined ? "port" : "on", { setting: "services.helm.port" })].filter((p): p is PortClaim => !!p)
      : [];
    if (!site.services?.registry) {
      ctx.error("AG174", "the helm service needs the site registry: the charts are pushed there as OCI artifacts and their images are served from it", s, "on", "add services.registry (with a push and a pull account)");
    }
    const charts: HelmChartModel[] = [];
    /** `<name>@<version>` → the repository it comes from. */
    const seen = new Map<string, string>();
    const list: HelmChart[] = Array.isArray(s.charts) ? s.charts : [];
    for (const c of list) {
      let ok = true;
      const kind = repoKind(c.repo);
      if (kind !== "classic" && kind !== "oci") {
        ctx.error("AG170", `chart "${String(c.name)}": "${String(c.repo)}" is not a chart repository: ${kind}`, c, "repo",
          'a classic repository, repo: "https://charts.example.org/stable", or an OCI one, repo: "oci://registry.example.org/charts" (the chart is <repo>/<name>)');
        ok = false;
      }
      if (typeof c.name !== "string" || !CHART_NAME.test(c.name)) {
        ctx.error("AG170", `"${String(c.name)}" is not a chart name`, c, "name", 'lower-case letters, digits and ".", "_", "-" (it is also the chart\'s repository in the site registry), e.g. "ingress-nginx"');
        ok = false;
      }
      const vp = versionProblem(c.version);
      if (vp) {
        ctx.error("AG171", `chart "${String(c.name)}": ${vp}; the bundle carries one exact version`, c, c.version === undefined ? "name" : "version",
          'write the version helm pull --version should fetch, e.g. "4.11.3" (helm search repo NAME --versions lists them)');
        ok = false;
      }
      if (c.digest !== undefined && (typeof c.digest !== "string" || !DIGEST.test(c.digest))) {
        ctx.error("AG172", `chart "${String(c.name)}": "${String(c.digest)}" is not a sha256 digest`, c, "digest",
          'write "sha256:" and the 64 lower-case hex digits of the chart archive (sha256sum NAME-VERSION.tgz, or the digest in the repository\'s index.yaml)');
        ok = false;
      }
      let keyring: string | undefined;
      if (c.keyring !== undefined) {
        keyring = typeof c.keyring === "string" && c.keyring !== "" ? path.resolve(path.dirname(ctx.siteFile), c.keyring) : undefined;
        if (!keyring || !existsSync(keyring)) {
          ctx.error("AG172", `chart "${String(c.name)}": the keyring "${String(c.keyring)}" does not exist`, c, "keyring",
            "a GnuPG public keyring beside the site file holding the publisher's key (gpg --export KEY > keyring.gpg)");
          ok = false;
        }
      }
      const images = chartImages(ctx, c.images ?? []);
      const exclude = c.exclude ?? [];
      exclude.forEach((ref, i) => {
        if (!parseImageRef(ref)) ctx.error("AG174", `"${ref}" is not an image reference`, exclude, i, "write the image as the chart renders it (helm template), e.g. \"docker.io/library/busybox:1.36\"");
        else if (images.some((m) => m.source === normalImage(ref))) ctx.error("AG174", `"${ref}" is both listed and excluded`, exclude, i, "carry it (images) or leave it out (exclude), not both");
      });
      if (!ok) continue;
      const repo = c.repo.replace(/\/+$/, "");
      const key = `${c.name}@${c.version}`;
      const prior = seen.get(key);
      if (prior !== undefined) {
        ctx.error("AG173", prior === repo ? `chart ${c.name} ${c.version} is listed twice` : `chart ${c.name} ${c.version} comes from ${repo} and from ${prior}`, c, "repo",
          prior === repo ? "remove one" : `the site serves one ${c.name}-${c.version}.tgz (and one charts/${c.name}:${c.version}): carry it from one source`);
        continue;
      }
      seen.set(key, repo);
      charts.push({
        kind: kind as "classic" | "oci",
        repo,
        name: c.name,
        version: c.version,
        ...(c.digest ? { sha256: c.digest.slice("sha256:".length) } : {}),
        ...(keyring ? { keyring } : {}),
        images,
        exclude,
        file: `${c.name}-${c.version}.tgz`,
        path: `charts/${c.name}-${c.version}.tgz`,
      });
    }
    charts.sort((a, b) => compareText(a.name, b.name) || compareText(a.version, b.version));
    if (!host) return undefined;
    const url = `https://charts.${core.domain}:${port}/`;
    const imageList = new Map<string, { source: string; target: string }>();
    for (const i of charts.flatMap((c) => c.images)) imageList.set(i.source, { source: i.source, target: i.target });
    return {
      model: { host, port, charts, allow: cidrs(allow), url },
      exports: {
        names: [{ name: "charts", host }],
        ports,
        tls: [{ name: "charts", host }],
        // After the registry: the charts are pushed into it.
        plays: [{ playbook: "admin", name: "Helm chart repository", hosts: "airgap_helm_servers", role: "helm_repo", after: ["repo_server", "ca", "repo_client", "registry"] }],
        endpoints: { "chart-repository": url },
        images: [...imageList.values()].sort((a, b) => compareText(a.source, b.source)),
      },
    };
  },
  emit(m, site, out) {
    const core = site.core;
    const registry = site.endpoints.registry;
    out.addGroup("airgap_helm_servers", [m.host.name]);
    out.addVars("airgap_helm_servers", {
      airgap_helm_repo_port: m.port,
      airgap_helm_repo_address: m.host.address,
      airgap_helm_repo_allow: m.allow,
      airgap_helm_repo_names: site.tlsNames.get("charts"),
      airgap_helm_repo_url: m.url,
      airgap_helm_repo_charts: m.charts.map((c) => ({ name: c.name, version: c.version, path: c.path, file: c.file })),
      ...(registry
        ? {
            airgap_helm_repo_registry: registry,
            // The push connects by address (a certificate SAN): the admin play runs before the hosts' resolvers point at the site DNS.
            airgap_helm_repo_registry_address: `${site.names.get("registry")}:${registry.slice(registry.lastIndexOf(":") + 1)}`,
            airgap_helm_repo_oci_namespace: CHART_NAMESPACE,
          }
        : {}),
      ...(site.registryPush
        ? { airgap_helm_repo_push_account: { name: site.registryPush.name, password: secretExpression(site.registryPush.password) } }
        : {}),
    });
    const first = m.charts[0];
    out.runbook.push({
      title: "Helm charts",
      lines: [
        `${m.url} on ${m.host.name}: a classic chart repository (a static index.yaml whose URLs point here, and the charts), TLS with a certificate from the site CA, open to ${m.allow.join(", ")} only.`,
        m.charts.length
          ? `Charts: ${m.charts.map((c) => `${c.name} ${c.version}`).join(", ")}; also in the site registry as oci://${registry}/${CHART_NAMESPACE}/<name> (pull account to read, push account to write).`
          : "Charts: none listed yet (helm.charts in the site file).",
        `On the controller: \`helm repo add ${core.name} ${m.url} --ca-file ca.crt\`, then \`helm search repo ${core.name}/\`.`,
        ...(first
          ? [
              `Install from the site: \`helm install ${first.name} ${core.name}/${first.name} --version ${first.version}\` with the chart's image registry set to ${registry} (each chart names its own value for it, e.g. \`--set image.registry=${registry}\`); or \`helm pull oci://${registry}/${CHART_NAMESPACE}/${first.name} --version ${first.version}\` after \`helm registry login ${registry}\` with the pull account.`,
            ]
          : []),
      ],
    });
  },
};
