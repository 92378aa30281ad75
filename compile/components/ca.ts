/**
 * The site CA: created on first run (or installed, when the site provides one)
 * on the admin host that serves TLS, which issues the admin services'
 * certificates; every host trusts it.
 */
import { readFileSync } from "node:fs";
import type { Services } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import type { CaModel, CoreModel, HostModel } from "../model/site.js";
import { secretExpression, type Component } from "./component.js";

export interface CaComponentModel {
  /** The admin host holding the CA. */
  host: HostModel;
  ca: CaModel;
  /** PEM of the CA the site provides. */
  certificatePem?: string;
}

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?\r?\n-----END CERTIFICATE-----\s*$/;

/** The admin hosts of the services that serve TLS, in the order the CA prefers them. */
function tlsHosts(services: Services): string[] {
  const names = [
    services.repos && (services.repos.tls ?? true) ? services.repos.on : undefined,
    services.registry?.on,
    services.pypi?.on,
  ];
  return names.filter((n): n is string => typeof n === "string");
}

export const ca: Component<CaComponentModel> = {
  // Not a service of its own in the site file: the CA exists when a service serves TLS.
  key: "ca",
  resolve(ctx: Context, core: CoreModel, services: Services) {
    const wanted = tlsHosts(services);
    if (wanted.length === 0) return undefined;
    // A misplaced service is reported by its own component.
    const host = wanted.map((n) => core.hosts.find((h) => h.name === n && h.roles.includes("admin"))).find((h) => h);
    if (!host) return undefined;
    const model: CaComponentModel = { host, ca: core.ca };
    if (core.ca.certificate) {
      let pem: string | undefined;
      try {
        pem = readFileSync(core.ca.certificate, "utf8");
      } catch {
        // Its absence is reported with the site's CA.
      }
      if (pem !== undefined && !PEM_CERTIFICATE.test(pem)) {
        ctx.error("AG091", `the CA certificate ${core.ca.certificate} is not one PEM certificate`, core, "ca",
          "give the CA's certificate alone, in PEM form (-----BEGIN CERTIFICATE-----)");
      } else if (pem !== undefined) model.certificatePem = pem.trim() + "\n";
    }
    return model;
  },
  emit(m, core, out) {
    out.addGroup("airgap_ca", [m.host.name]);
    // Read by every host: the ca role signs there, ca_trust reads the CA certificate there.
    out.addVars("all", { airgap_ca_host: m.host.name });
    const provided = m.certificatePem !== undefined && m.ca.key !== undefined;
    out.addVars("airgap_ca", {
      airgap_ca_common_name: m.ca.commonName,
      airgap_ca_validity_days: m.ca.validityDays,
      ...(provided ? { airgap_ca_provided_certificate: m.certificatePem, airgap_ca_provided_key: secretExpression(m.ca.key!) } : {}),
    });
    if (provided) out.secrets.push(m.ca.key!);
    out.plays.push({ playbook: "admin", name: "Certificate authority", hosts: "airgap_ca", role: "ca" });
    out.plays.push({ playbook: "nodes", name: "Trust in the site CA", hosts: "all", role: "ca_trust" });
    out.runbook.push({
      title: "Certificate authority",
      lines: [
        provided
          ? `The site's own CA ("${m.ca.commonName}") is installed on ${m.host.name} (/etc/airgap/ca, key 0600); its key is read from a secret at run time.`
          : `The site CA "${m.ca.commonName}" is created on ${m.host.name} on the first run (/etc/airgap/ca, key 0600, valid ${m.ca.validityDays} days); back up /etc/airgap/ca/private.`,
        `It signs the admin services' certificates (re-issued when their names change or 30 days before they expire); every host trusts it (system trust store).`,
      ],
    });
  },
};
