/**
 * The site CA: created on first run (or installed, when the site provides one)
 * on the admin host that serves TLS, which issues the admin services'
 * certificates; every host trusts it.
 */
import { readFileSync } from "node:fs";
import type { Context } from "../model/context.js";
import type { CaModel, CoreModel } from "../model/site.js";
import { secretExpression, type Component, type Linked } from "./component.js";

export interface CaComponentModel {
  ca: CaModel;
  /** PEM of the CA the site provides. */
  certificatePem?: string;
}

/**
 * The CA's permitted subtrees (community.crypto's `name_constraints_permitted`
 * form): `DNS:<domain>` (the domain and every name below it), then
 * `IP:<cidr>` for each site network, in the site's order.
 */
export function caNameConstraints(site: Linked): string[] {
  return [`DNS:${site.core.domain}`, ...site.core.networks.map((n) => `IP:${n.cidr}`)];
}

/** The CA's folder on its host: roles/ca's airgap_ca_dir default. */
export const CA_DIR = "/etc/airgap/ca";

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?\r?\n-----END CERTIFICATE-----\s*$/;

export const ca: Component<CaComponentModel> = {
  // Not a service of its own in the site file: the CA exists when a service
  // serves TLS (link: `caHost`, the first host that does).
  key: "ca",
  onlyWith: "tls",
  resolve(ctx: Context, core: CoreModel) {
    const model: CaComponentModel = { ca: core.ca };
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
    const plays = [
      { playbook: "admin" as const, name: "Certificate authority", hosts: "airgap_ca", role: "ca", after: ["repo_server", "reference_clock"] },
      // The other admin hosts trust the CA before their first package (their sources are HTTPS).
      { playbook: "admin" as const, name: "Admin hosts: trust in the site CA", hosts: "airgap_admin:!airgap_repo_servers", role: "ca_trust", after: ["ca"] },
      { playbook: "nodes" as const, name: "Trust in the site CA", hosts: "all", role: "ca_trust", after: ["resolver"] },
    ];
    const provided = model.certificatePem !== undefined && core.ca.key !== undefined;
    // A CA made here exists nowhere else: losing its key means new certificates and new trust on every host and client.
    const state = provided ? [] : [{
      name: "ca", hosts: "ca" as const, paths: [CA_DIR],
      what: `the site CA's certificate and private key (${CA_DIR}; restic encrypts it)`,
      restore: `before site.yml runs on a rebuilt CA host, copy DIR${CA_DIR} back to ${CA_DIR} (root; private/ 0700, private/ca.key 0600): the ca role then keeps it instead of making a new CA`,
    }];
    return { model, exports: { plays, secrets: provided ? [core.ca.key!] : [], state } };
  },
  emit(m, site, out) {
    const host = site.caHost!;
    out.addGroup("airgap_ca", [host.name]);
    // Read by every host: the ca role signs there, ca_trust reads the CA certificate there.
    out.addVars("all", { airgap_ca_host: host.name });
    const provided = m.certificatePem !== undefined && m.ca.key !== undefined;
    out.addVars("airgap_ca", {
      airgap_ca_common_name: m.ca.commonName,
      airgap_ca_validity_days: m.ca.validityDays,
      // Every host trusts it: it signs only for the site's domain and networks.
      airgap_ca_name_constraints: caNameConstraints(site),
      ...(provided ? { airgap_ca_provided_certificate: m.certificatePem, airgap_ca_provided_key: secretExpression(m.ca.key!) } : {}),
    });
    out.runbook.push({
      title: "Certificate authority",
      lines: [
        provided
          ? `The site's own CA ("${m.ca.commonName}") is installed on ${host.name} (/etc/airgap/ca, key 0600); its key is read from a secret at run time.`
          : `The site CA "${m.ca.commonName}" is created on ${host.name} on the first run (/etc/airgap/ca, key 0600, valid ${m.ca.validityDays} days); back up /etc/airgap/ca/private. ` +
            `It may sign only for ${caNameConstraints(site).map((c) => c.slice(c.indexOf(":") + 1)).join(", ")} (critical X.509 name constraints): a certificate it signed for any other name or address is refused by every client.`,
        `It signs the admin services' certificates (re-issued when their names change or 30 days before they expire); every host trusts it (system trust store).`,
      ],
    });
  },
};
