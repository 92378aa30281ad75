/**
 * Monitoring with alerts that stay inside (issue 22): the Zabbix 6.0 LTS
 * server (Debian's packages) with PostgreSQL and its web frontend behind the
 * shared nginx front on a host outside the Kubernetes cluster; Zabbix agent 2
 * on every host, PSK-encrypted, answering the server only; hosts, templates,
 * the site's checks, triggers, the mail media type (through the site relay,
 * `services.mail`), an optional chat webhook and the alert action set through
 * Zabbix's API (community.zabbix). Roles zabbix_server, zabbix_agent,
 * zabbix_config; docs/monitoring.md.
 */
import type { MonitoringService, Site } from "../../dsl/index.js";
import { compareText, type Context } from "../model/context.js";
import { contains, parseIPv4 } from "../model/ip.js";
import { isDomain, isKubernetes, resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { withinDomain } from "./mail.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import { secretExpression, type Component, type PortClaim } from "./component.js";

export interface MonitoringModel {
  host: HostModel;
  /** HTTPS port of the frontend (nginx). */
  port: number;
  /** CIDRs allowed to open the frontend. */
  allow: string[];
  /** `https://monitoring.<domain>:<port>/`. */
  url: string;
  /** Mail addresses alerts go to, sorted. */
  recipients: string[];
  webhook?: { url: string; key?: SecretModel };
  adminPassword: SecretModel;
  databasePassword: SecretModel;
  agentPsk: SecretModel;
  /** Hours after which a missing fresh backup is a problem; undefined: the default when the site has backups to watch. */
  backupMaxAgeHours?: number;
  /** Hosts whose agent the server polls (every host of the site). */
  agents: HostModel[];
}

/** Default HTTPS port of the frontend. */
export const MONITORING_DEFAULT_PORT = 8445;
/** Zabbix agent's port (the server polls it: passive checks only). */
export const ZABBIX_AGENT_PORT = 10050;
/** Zabbix server's trapper port (the frontend, on the loopback). */
export const ZABBIX_SERVER_PORT = 10051;
/** `backupMaxAgeHours` when the site has backups to watch and the site file leaves it out (a daily backup, two hours late). */
export const DEFAULT_BACKUP_MAX_AGE_HOURS = 26;

const MAIL_ADDRESS = /^([a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?)@([^@]+)$/;

/** Why a webhook URL is not inside the site, or undefined when it is. */
export function webhookProblem(core: CoreModel, url: unknown): string | undefined {
  if (typeof url !== "string" || url === "") return "it is empty";
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "it is not a URL";
  }
  if (!["http:", "https:"].includes(u.protocol)) return `${u.protocol}// is not http(s)`;
  if (u.username || u.password) return "credentials belong in key (by reference), not in the URL";
  const host = u.hostname.replace(/\.$/, "");
  const ip = parseIPv4(host);
  if (ip !== undefined) return core.networks.some((n) => contains(n.range, ip)) ? undefined : `${host} is outside the site's networks`;
  if (!isDomain(host)) return `"${host}" is not a host name`;
  if (core.hosts.some((h) => h.name === host)) return undefined;
  return withinDomain(host, core.domain) ? undefined : `${host} is outside the site's domain ${core.domain}`;
}

export const monitoring: Component<MonitoringModel> = {
  key: "monitoring",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: MonitoringService | undefined = site.services?.monitoring;
    if (!s) return undefined;
    let [host]: (HostModel | undefined)[] = placeOn(ctx, core, "monitoring", s);
    if (host && isKubernetes(host)) {
      ctx.error("AG220", `the monitoring service is placed on "${host.name}", a member of the Kubernetes cluster (${host.roles.filter((r) => r !== "admin").join(", ")}): it would fail with the cluster it watches`, s, "on",
        "place it on an admin host that is not a control-plane, worker or etcd member");
      host = undefined;
    }
    const port = s.port ?? MONITORING_DEFAULT_PORT;
    const allow = allowedNetworks(ctx, core, s);
    const mail = site.services?.mail;
    const mailDomains = [core.domain, ...(Array.isArray(mail?.domains) ? mail.domains.filter((d) => typeof d === "string").map((d) => d.toLowerCase().replace(/\.$/, "")) : [])];
    const list = Array.isArray(s.recipients) ? s.recipients : [];
    const recipients: string[] = [];
    if (list.length === 0) {
      ctx.error("AG221", "the monitoring service has no recipients: its alerts would reach nobody", s, s.recipients === undefined ? "on" : "recipients",
        `list mail addresses of the site, e.g. recipients: ["ops@${core.domain}"]`);
    }
    list.forEach((r, i) => {
      const m = typeof r === "string" ? MAIL_ADDRESS.exec(r.toLowerCase()) : null;
      if (!m || !isDomain(m[2])) {
        ctx.error("AG221", `${JSON.stringify(r)} is not a mail address`, list, i, `write local-part@domain, e.g. "ops@${core.domain}"`);
        return;
      }
      if (!mailDomains.some((d) => withinDomain(m[2], d))) {
        ctx.error("AG221", `the recipient "${r}" is outside the site's domain ${core.domain}: alerts must stay inside`, list, i,
          `use an address of ${core.domain}, or, when the site's own mail server delivers ${m[2]} inside the site, say so: services.mail.domains: ["${m[2]}"] with services.mail.relay`);
        return;
      }
      if (recipients.includes(r.toLowerCase())) ctx.error("AG221", `the recipient "${r}" is listed twice`, list, i);
      else recipients.push(r.toLowerCase());
    });
    if (!mail) {
      ctx.error("AG223", "the monitoring service needs the site's mail relay: its alerts are mailed through it", s, "on",
        'add services.mail on an admin host, with the recipients\' mailboxes (mailboxes: ["ops"]) or the site\'s mail server (relay)');
    }
    let webhook: MonitoringModel["webhook"];
    if (s.webhook !== undefined) {
      const problem = webhookProblem(core, s.webhook?.url);
      if (problem) {
        ctx.error("AG222", `the chat webhook "${String(s.webhook?.url)}" is not inside the site: ${problem}`, s.webhook ?? s, s.webhook ? "url" : "webhook",
          `an incoming webhook of a chat server inside the site, e.g. "https://chat.${core.domain}/hooks/" with its key by reference`);
      } else {
        const key = resolveSecret(ctx, s.webhook, "key");
        webhook = { url: s.webhook.url, ...(key ? { key } : {}) };
      }
    }
    const secret = (key: "adminPassword" | "databasePassword" | "agentPsk", what: string): SecretModel | undefined => {
      if (s[key] === undefined) {
        ctx.error("AG225", `the monitoring service has no ${what}`, s, "on", `add ${key}: fromEnv("…") or fromVault("…", "…")`);
        return undefined;
      }
      return resolveSecret(ctx, s, key);
    };
    const adminPassword = secret("adminPassword", "password for Zabbix's Admin account");
    const databasePassword = secret("databasePassword", "database password");
    const agentPsk = secret("agentPsk", "agent PSK");
    const hours = s.backupMaxAgeHours;
    if (hours !== undefined && (typeof hours !== "number" || !Number.isInteger(hours) || hours < 1 || hours > 24 * 90)) {
      ctx.error("AG226", `backupMaxAgeHours ${JSON.stringify(hours)} is not a whole number of hours from 1 to 2160`, s, "backupMaxAgeHours",
        "the age in hours after which a missing fresh backup is a problem, e.g. 26 for a daily backup");
    }
    if (!host || !adminPassword || !databasePassword || !agentPsk) return undefined;
    const frontend = claimPort(ctx, host, port, "tcp", "monitoring", allow, s, s.port !== undefined ? "port" : "on", { setting: "services.monitoring.port" });
    // The server polls every agent (passive checks only): from the networks the monitoring host is on.
    const serverNets = core.networks.filter((n) => host!.interfaces.some((i) => i.network === n.name));
    const agents = [...core.hosts];
    const ports = [
      frontend,
      claimPort(ctx, host, ZABBIX_SERVER_PORT, "tcp", "zabbix-server", "loopback", s, "on"),
      claimPort(ctx, host, 5432, "tcp", "zabbix-database", "loopback", s, "on"),
      ...agents.map((h) => claimPort(ctx, h, ZABBIX_AGENT_PORT, "tcp", "zabbix-agent", serverNets, s, "on", {
        clients: [host!],
        clientsWhy: "the Zabbix server polls every agent",
      })),
    ].filter((p): p is PortClaim => !!p);
    const url = `https://monitoring.${core.domain}:${port}/`;
    recipients.sort(compareText);
    return {
      model: {
        host, port, allow: cidrs(allow), url, recipients,
        ...(webhook ? { webhook } : {}),
        adminPassword, databasePassword, agentPsk,
        ...(hours !== undefined ? { backupMaxAgeHours: hours } : {}),
        agents,
      },
      exports: {
        names: [{ name: "monitoring", host }],
        ports,
        tls: [{ name: "monitoring", host }],
        plays: [
          { playbook: "admin", name: "Monitoring server", hosts: "airgap_monitoring_servers", role: "zabbix_server", after: ["repo_server", "ca", "repo_client", "ca_trust"] },
          { playbook: "nodes", name: "Monitoring agent", hosts: "all", role: "zabbix_agent", after: ["resolver", "repo_client", "chrony"] },
          { playbook: "nodes", name: "Monitoring configuration", hosts: "airgap_monitoring_servers", role: "zabbix_config", after: ["zabbix_agent"] },
        ],
        endpoints: { monitoring: url },
        secrets: [adminPassword, databasePassword, agentPsk, ...(webhook?.key ? [webhook.key] : [])],
      },
    };
  },
  emit(m, site, out) {
    const core = site.core;
    const server = m.host;
    out.addGroup("airgap_monitoring_servers", [server.name]);
    out.addVars("all", {
      airgap_zabbix_agent_servers: server.interfaces.map((i) => i.address),
      airgap_zabbix_agent_psk_identity: `${core.name}-agent`,
      airgap_zabbix_agent_psk: secretExpression(m.agentPsk),
    });
    // What the server checks, from what the site runs (the linked facts).
    const tlsFronts = site.ports
      // HTTPS fronts (the relay's STARTTLS is checked as SMTP, from airgap_zabbix_config_smtp).
      .filter((p) => p.protocol === "tcp" && p.allow !== "loopback" && site.tlsNames.has(p.service) && p.service !== "mail")
      .map((p) => ({ service: p.service, name: site.tlsNames.get(p.service)![0], address: p.host.address, port: p.port }))
      .sort((a, b) => compareText(a.service, b.service) || a.port - b.port);
    const servicePorts = (service: string) => site.ports.filter((p) => p.service === service && p.allow !== "loopback");
    const etcd = site.exports.has("kubespray") ? core.hosts.filter((h) => h.roles.includes("etcd")).map((h) => h.name) : [];
    const freshness = site.freshness.map((f) => ({ host: f.host.name, what: f.what, file: f.file }));
    const maxAge = m.backupMaxAgeHours ?? DEFAULT_BACKUP_MAX_AGE_HOURS;
    const dnsNames = [...site.names.keys()].map((n) => ({ name: `${n}.${core.domain}`, address: site.names.get(n)! }))
      .concat(core.hosts.map((h) => ({ name: h.fqdn, address: h.address })))
      .sort((a, b) => compareText(a.name, b.name));
    out.addVars("airgap_monitoring_servers", {
      airgap_zabbix_server_port: m.port,
      airgap_zabbix_server_address: server.address,
      airgap_zabbix_server_allow: m.allow,
      airgap_zabbix_server_names: site.tlsNames.get("monitoring"),
      airgap_zabbix_server_url: m.url,
      airgap_zabbix_server_admin_password: secretExpression(m.adminPassword),
      airgap_zabbix_server_database_password: secretExpression(m.databasePassword),
      airgap_zabbix_config_hosts: m.agents.map((h) => ({
        name: h.name,
        address: h.address,
        groups: [...new Set(["airgap", ...h.roles.map((r) => `airgap-${r}`)])],
        etcd: etcd.includes(h.name),
        ...(freshness.some((f) => f.host === h.name) ? { backups: true } : {}),
      })),
      airgap_zabbix_config_recipients: m.recipients,
      airgap_zabbix_config_smtp: site.endpoints.smtp ?? "",
      airgap_zabbix_config_mail_from: `zabbix@${core.domain}`,
      airgap_zabbix_config_domain: core.domain,
      airgap_zabbix_config_webhook_url: m.webhook?.url ?? "",
      airgap_zabbix_config_webhook_key: m.webhook?.key ? secretExpression(m.webhook.key) : "",
      airgap_zabbix_config_ntp_servers: servicePorts("ntp").map((p) => p.host.address),
      airgap_zabbix_config_dns_servers: servicePorts("dns").filter((p) => p.protocol === "udp").map((p) => p.host.address),
      airgap_zabbix_config_dns_names: dnsNames,
      airgap_zabbix_config_tls_fronts: tlsFronts,
      airgap_zabbix_config_backup_max_age: freshness.length ? maxAge * 3600 : 0,
      // Read on the host that holds the backups, whichever member or host made them (docs/backups.md).
      airgap_zabbix_config_freshness: freshness,
    });
    out.runbook.push({
      title: "Monitoring",
      lines: [
        `Zabbix 6.0 on ${server.name}: ${m.url} (nginx, TLS with a certificate from the site CA), open to ${m.allow.join(", ")} only; log in as Admin with the password the site refers to (guest is off).`,
        `Zabbix agent 2 on every host (port ${ZABBIX_AGENT_PORT}, PSK identity ${core.name}-agent): it answers ${server.interfaces.map((i) => i.address).join(", ")} only, encrypted.`,
        `Alerts (problems and recoveries) are mailed through the site relay ${site.endpoints.smtp ?? "(none)"} to ${m.recipients.join(", ")}${m.webhook ? `, and posted to the chat webhook ${m.webhook.url}` : ""}.`,
        `Checks: each host's Linux template; chrony's offset and reachable sources; the site's names on its DNS servers; HTTPS and certificate expiry of ${tlsFronts.map((f) => `${f.name}:${f.port}`).join(", ") || "no front"}${freshness.length ? `; the age of the last good backup (at most ${maxAge} h) of ${freshness.map((f) => `${f.what} (${f.file} on ${f.host})`).join(", ")}` : ""}.`,
      ],
    });
  },
};
