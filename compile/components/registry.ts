/** The site's container registry: distribution, TLS from the site CA, htpasswd accounts. */
import type { RegistryService, Services } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import { resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { allowedNetworks, claimPort, placeOn } from "./placement.js";
import { secretExpression, type Component } from "./component.js";

export interface RegistryUserModel {
  name: string;
  access: "push" | "pull";
  password: SecretModel;
}

export interface RegistryModel {
  host: HostModel;
  port: number;
  storage: string;
  users: RegistryUserModel[];
  images: string[];
  allow: string[];
}

/** `host[:port]/path[:tag][@sha256:…]`, the form skopeo takes after `docker://`. */
export const IMAGE_REF = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;

export const registry: Component<RegistryModel> = {
  key: "registry",
  resolve(ctx: Context, core: CoreModel, services: Services) {
    const s: RegistryService | undefined = services.registry;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "registry", s);
    const port = s.port ?? 5000;
    if (host) claimPort(ctx, host, port, "tcp", "registry", s, s.port !== undefined ? "port" : "on");
    const storage = s.storage ?? "/var/lib/docker-registry";
    if (!storage.startsWith("/")) ctx.error("AG085", `storage "${storage}" is not an absolute path`, s, "storage");
    const users: RegistryUserModel[] = [];
    const names = new Set<string>();
    for (const u of s.users ?? []) {
      if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(u.name ?? "")) ctx.error("AG080", `"${u.name}" is not a valid user name`, u, "name");
      else if (names.has(u.name)) ctx.error("AG080", `user "${u.name}" is declared twice`, u, "name");
      names.add(u.name);
      const password = resolveSecret(ctx, u, "password");
      if (password) users.push({ name: u.name, access: u.access, password });
    }
    for (const access of ["push", "pull"] as const) {
      if (!(s.users ?? []).some((u) => u.access === access)) {
        ctx.error("AG080", `the registry needs at least one ${access} account`, s, "users",
          `add { name: "...", password: fromEnv("..."), access: "${access}" }`);
      }
    }
    const images = s.images ?? [];
    images.forEach((ref, i) => {
      if (!IMAGE_REF.test(ref)) ctx.error("AG083", `"${ref}" is not an image reference`, images, i, 'write "registry.example.org/path/name:tag"');
    });
    return host ? { host, port, storage, users, images, allow: allowedNetworks(ctx, core, s) } : undefined;
  },
  emit(m, core, out) {
    const name = `registry.${core.domain}`;
    out.serviceNames.set("registry", m.host.address);
    out.secrets.push(...m.users.map((u) => u.password));
    out.addGroup("airgap_registry_servers", [m.host.name]);
    out.addVars("airgap_registry_servers", {
      airgap_registry_port: m.port,
      airgap_registry_storage: m.storage,
      airgap_registry_allow: m.allow,
      airgap_registry_names: [name, m.host.fqdn],
      airgap_registry_users: m.users.map((u) => ({ name: u.name, access: u.access, password: secretExpression(u.password) })),
    });
    out.addVars("all", { airgap_registry_host: `${name}:${m.port}` });
    Object.assign(out.kubespray, { registry_host: `${name}:${m.port}` });
  },
};
