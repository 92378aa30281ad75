/** The site's Python package index: a static PEP 503 index or devpi. */
import type { PypiService, Services } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import { resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { allowedNetworks, claimPort, placeOn } from "./placement.js";
import type { Component } from "./component.js";

export interface PypiModel {
  host: HostModel;
  mode: "static" | "devpi";
  port: number;
  packages: string[];
  rootPassword?: SecretModel;
  allow: string[];
}

/** A PEP 508 requirement, without markers or URLs: `name[extra]==1.2`. */
const REQUIREMENT = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?\s*((==|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!-]+\s*,?\s*)*$/;

export const pypi: Component<PypiModel> = {
  key: "pypi",
  resolve(ctx: Context, core: CoreModel, services: Services) {
    const s: PypiService | undefined = services.pypi;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "pypi", s);
    const mode = s.mode ?? "static";
    const port = s.port ?? 3141;
    if (host) claimPort(ctx, host, port, "tcp", "pypi", s, s.port !== undefined ? "port" : "on");
    const packages = s.packages ?? [];
    packages.forEach((p, i) => {
      if (!REQUIREMENT.test(p)) ctx.error("AG086", `"${p}" is not a requirement pip understands here`, packages, i, 'write "name", "name==1.2" or "name>=1.2,<2"');
    });
    const rootPassword = resolveSecret(ctx, s, "rootPassword");
    if (mode === "devpi" && s.rootPassword === undefined) {
      ctx.error("AG081", "devpi needs a root password, by reference", s, "mode", 'add rootPassword: fromEnv("AIRGAP_DEVPI_ROOT_PASSWORD")');
    }
    return host ? { host, mode, port, packages, rootPassword, allow: allowedNetworks(ctx, core, s) } : undefined;
  },
  emit(m, core, out) {
    out.serviceNames.set("pypi", m.host.address);
    if (m.rootPassword) out.secrets.push(m.rootPassword);
    out.addGroup("airgap_pypi_servers", [m.host.name]);
    out.addVars("all", { airgap_pip_index_url: `https://pypi.${core.domain}:${m.port}/simple/` });
    out.addVars("airgap_pypi_servers", {
      airgap_pypi_mode: m.mode,
      airgap_pypi_port: m.port,
      airgap_pypi_allow: m.allow,
      airgap_pypi_names: [`pypi.${core.domain}`, m.host.fqdn],
      airgap_pypi_packages: m.packages,
    });
  },
};
