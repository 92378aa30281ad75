/**
 * The site's components, in the order their runbook sections, port claims and
 * exports are listed. Nothing else depends on this order: plays are ordered
 * by their declared dependencies (link.ts), DNS names, flows and TLS names
 * come from the exports.
 */
import { backups, type BackupsModel } from "./backups.js";
import { ca, type CaComponentModel } from "./ca.js";
import type { Component } from "./component.js";
import { dns, type DnsModel } from "./dns.js";
import { gateway, type GatewayModel } from "./gateway.js";
import { goproxy, type GoproxyModel } from "./goproxy.js";
import { helm, type HelmModel } from "./helm.js";
import { kubespray, type KubesprayModel } from "./kubespray.js";
import { mail, type MailModel } from "./mail.js";
import { monitoring, type MonitoringModel } from "./monitoring.js";
import { ntp, type NtpModel } from "./ntp.js";
import { pypi, type PypiModel } from "./pypi.js";
import { registry, type RegistryModel } from "./registry.js";
import { repos, type ReposModel } from "./repos.js";

export const components: Component<unknown>[] = [repos, ca, ntp, registry, pypi, helm, goproxy, mail, monitoring, kubespray, backups, dns, gateway] as Component<unknown>[];

/** The resolved models of a site, by component key (absent: the site does not have it). */
export interface SiteModels {
  repos?: ReposModel;
  ca?: CaComponentModel;
  ntp?: NtpModel;
  registry?: RegistryModel;
  pypi?: PypiModel;
  helm?: HelmModel;
  mail?: MailModel;
  goproxy?: GoproxyModel;
  monitoring?: MonitoringModel;
  kubespray?: KubesprayModel;
  backups?: BackupsModel;
  dns?: DnsModel;
  gateway?: GatewayModel;
}
