/**
 * The site's container registry: distribution on the loopback behind nginx,
 * which terminates TLS (certificate from the site CA), authenticates the
 * htpasswd accounts and lets only push accounts write. The admin playbook
 * seeds it from the bundle's OCI layout (roles/registry, docs/registry.md).
 */
import path from "node:path";
import type { RegistryService, Site } from "../../dsl/index.js";
import { compareText, oneOf, type Context } from "../model/context.js";
import { isKubernetes, resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import { secretExpression, type Component, type PortClaim } from "./component.js";

export interface RegistryUserModel {
  name: string;
  access: "push" | "pull";
  password: SecretModel;
}

/** An image carried into the site and pushed into its registry. */
export interface RegistryImageModel {
  /** Upstream reference, registry host included: `registry.k8s.io/pause:3.10` (with `@sha256:…` when pinned). */
  source: string;
  /** Upstream registry host (`registry.k8s.io`, `docker.io`, `127.0.0.1:5000`). */
  host: string;
  /** Repository path on that registry (`pause`, `library/nginx`). */
  path: string;
  tag: string;
  /** `sha256:…` when the site pins the upstream content. */
  digest?: string;
  /** `path:tag`: its name in the site registry (the upstream host dropped, as Kubespray's `*_image_repo` expect). */
  target: string;
}

export interface RegistryModel {
  host: HostModel;
  /** The port nginx serves the registry on, over TLS, on the host's site address. */
  port: number;
  storage: string;
  users: RegistryUserModel[];
  images: RegistryImageModel[];
  allow: string[];
  /** `registry.<domain>:<port>`: how Kubespray and clients name it. */
  registryHost: string;
  /** Whether the repository server runs on the same host (they share one content-addressed store). */
  sharesStoreWithRepos: boolean;
}

/** An image reference parsed: `[host[:port]/]path[:tag][@sha256:…]`. */
export interface ImageRef {
  host: string;
  path: string;
  tag?: string;
  digest?: string;
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Parses an image reference as Docker and Kubespray read it: the first
 * component is a registry host only when it has a dot or a port or is
 * `localhost`; otherwise the image is on `docker.io` (`library/` for one
 * component). Undefined when malformed.
 */
export function parseImageRef(ref: string): ImageRef | undefined {
  if (typeof ref !== "string" || ref.length > 512) return undefined;
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const parts = rest.split("/");
  const first = parts[0];
  const hasHost = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  const host = hasHost ? first : "docker.io";
  const pathParts = hasHost ? parts.slice(1) : parts.length === 1 ? ["library", ...parts] : parts;
  if (!HOST.test(host) || pathParts.length === 0 || !pathParts.every((p) => PATH_COMPONENT.test(p))) return undefined;
  return { host, path: pathParts.join("/"), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The model of one listed image, or why it cannot be carried. */
export function imageModel(ref: string): RegistryImageModel | { problem: string; hint: string } {
  const r = parseImageRef(ref);
  if (!r) return { problem: `"${ref}" is not an image reference`, hint: 'write "registry.example.org/path/name:tag"' };
  if (r.tag === undefined) {
    return {
      problem: `"${ref}" has no tag`,
      hint: "images are pushed into the site registry under their tag (a copied image gets another digest): write the tag, e.g. name:1.2.3, or name:1.2.3@sha256:… to pin the content too",
    };
  }
  const name = `${r.host}/${r.path}`;
  return {
    source: `${name}:${r.tag}${r.digest ? `@${r.digest}` : ""}`,
    host: r.host,
    path: r.path,
    tag: r.tag,
    ...(r.digest ? { digest: r.digest } : {}),
    target: `${r.path}:${r.tag}`,
  };
}

/** Folders of the OS itself (and anything under /etc, /proc, /sys, /dev, /boot, /run, /usr): never the registry's storage. */
const SYSTEM_FOLDERS = /^(\/|\/(bin|boot|dev|etc|home|lib|lib32|lib64|media|mnt|opt|proc|root|run|sbin|srv|sys|tmp|usr|var)|\/var\/(lib|log|cache|tmp|spool|backups|mail|opt|local)|\/(etc|proc|sys|dev|boot|run|usr)\/.*)$/;

export const registry: Component<RegistryModel> = {
  key: "registry",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: RegistryService | undefined = site.services?.registry;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "registry", s);
    const port = s.port ?? 5000;
    const allow = allowedNetworks(ctx, core, s);
    // distribution itself listens on a unix socket only nginx can reach (the role): no port.
    const ports = host
      ? [
          claimPort(ctx, host, port, "tcp", "registry", allow, s, s.port !== undefined ? "port" : "on", {
            setting: "services.registry.port",
            // Kubespray's container runtime pulls every image from it.
            clients: site.services?.kubespray ? core.hosts.filter(isKubernetes) : [],
            clientsWhy: "the Kubernetes nodes pull every image from it",
          }),
        ].filter((p): p is PortClaim => !!p)
      : [];
    const storage = s.storage ?? "/var/lib/docker-registry";
    if (typeof storage !== "string" || !storage.startsWith("/")) ctx.error("AG085", `storage "${storage}" is not an absolute path`, s, "storage");
    else if (storage.split("/").includes("..") || SYSTEM_FOLDERS.test(path.posix.normalize(storage).replace(/(.)\/$/, "$1"))) {
      ctx.error("AG085", `storage "${storage}" is a system folder: the registry role would make it the registry user's, mode 0750`, s, "storage",
        'give the registry a folder of its own, e.g. "/var/lib/docker-registry" or "/srv/registry"');
    }
    const users: RegistryUserModel[] = [];
    const names = new Set<string>();
    let accessKnown = true;
    for (const u of s.users ?? []) {
      if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(u.name ?? "")) ctx.error("AG080", `"${u.name}" is not a valid user name`, u, "name");
      else if (names.has(u.name)) ctx.error("AG080", `user "${u.name}" is declared twice`, u, "name");
      names.add(u.name);
      const access = oneOf(ctx, u, "access", ["push", "pull"] as const, undefined);
      if (u.access === undefined) {
        ctx.error("AG132", `the registry user "${u.name}" has no access`, u, "name", 'add access: "push" (push and pull) or access: "pull" (pull only)');
      }
      if (!access) accessKnown = false;
      if (u.password === undefined) {
        ctx.error("AG132", `the registry user "${u.name}" has no password: the account would be dropped, and with a pull account the nodes' credentials`, u, "name",
          'add password: fromEnv("…") or fromVault("…", "…")');
      }
      const password = resolveSecret(ctx, u, "password");
      if (password && access) users.push({ name: u.name, access, password });
    }
    for (const access of ["push", "pull"] as const) {
      if (accessKnown && !(s.users ?? []).some((u) => u.access === access)) {
        ctx.error("AG080", `the registry needs at least one ${access} account`, s, "users",
          `add { name: "...", password: fromEnv("..."), access: "${access}" }`);
      }
    }
    const list = s.images ?? [];
    const images: RegistryImageModel[] = [];
    const byTarget = new Map<string, string>();
    list.forEach((ref, i) => {
      const m = imageModel(ref);
      if ("problem" in m) return ctx.error("AG083", m.problem, list, i, m.hint);
      const prior = byTarget.get(m.target);
      if (prior === m.source) return ctx.error("AG083", `"${ref}" is listed twice`, list, i);
      if (prior) {
        return ctx.error("AG083", `"${ref}" and "${prior}" would both be ${m.target} in the site registry`, list, i,
          "the site registry keeps the upstream path and tag, without the upstream host: carry one of them");
      }
      byTarget.set(m.target, m.source);
      images.push(m);
    });
    images.sort((a, b) => compareText(a.source, b.source));
    if (!host) return undefined;
    const registryHost = `registry.${core.domain}:${port}`;
    return {
      model: {
        host,
        port,
        storage,
        users,
        images,
        allow: cidrs(allow),
        registryHost,
        sharesStoreWithRepos: site.services?.repos?.on === host.name,
      },
      exports: {
        names: [{ name: "registry", host }],
        ports,
        tls: [{ name: "registry", host }],
        plays: [{ playbook: "admin", name: "Container registry", hosts: "airgap_registry_servers", role: "registry", after: ["repo_server", "ca", "repo_client"] }],
        // Kubespray's own name for the site registry; its *_image_repo and
        // containerd_registries_mirrors (kubespray.ts) refer to it.
        kubespray: { registry_host: registryHost },
        endpoints: { registry: registryHost },
        secrets: users.map((u) => u.password),
        registryPull: users.find((u) => u.access === "pull"),
        registryPush: users.find((u) => u.access === "push"),
      },
    };
  },
  emit(m, site, out) {
    const registryHost = m.registryHost;
    out.addGroup("airgap_registry_servers", [m.host.name]);
    out.addVars("airgap_registry_servers", {
      airgap_registry_port: m.port,
      airgap_registry_address: m.host.address,
      airgap_registry_storage: m.storage,
      airgap_registry_allow: m.allow,
      // The certificate's DNS names (link: `registry.<domain>`, then the host's own).
      airgap_registry_names: site.tlsNames.get("registry"),
      airgap_registry_users: m.users.map((u) => ({ name: u.name, access: u.access, password: secretExpression(u.password) })),
      airgap_registry_images: m.images.map((i) => ({ source: i.source, target: i.target })),
      airgap_registry_prune_store: !m.sharesStoreWithRepos,
      // What the site's other services need in the registry (Kubespray's images), under the names they ask for.
      ...(site.images ? { airgap_registry_kubespray_images: site.images } : {}),
    });
    out.addVars("all", { airgap_registry_host: registryHost });
    const push = m.users.filter((u) => u.access === "push").map((u) => u.name);
    const pull = m.users.filter((u) => u.access === "pull").map((u) => u.name);
    out.runbook.push({
      title: "Container registry",
      lines: [
        `https://${registryHost} (also ${m.host.fqdn}:${m.port} and ${m.host.address}:${m.port}) on ${m.host.name}: TLS with a certificate from the site CA, open to ${m.allow.join(", ")} only.`,
        `Accounts: ${push.join(", ")} may push and pull; ${pull.join(", ")} may only pull (nginx refuses their writes). Storage: ${m.storage}.`,
        `The admin playbook pushes the bundle's images into it under their upstream path and tag (${m.images.length} listed by the site, plus Kubespray's), skipping those it already holds.`,
        `Garbage collection (after deleting manifests): ansible-playbook playbooks/admin.yml --limit ${m.host.name} -e airgap_registry_gc=true`,
      ],
    });
  },
};
