/**
 * The site's mail relay (issue 22): Postfix on an admin host, `mail.<domain>`,
 * accepting mail from the site's networks only and only for addresses inside
 * the site: the site's domain (Maildir mailboxes on the relay host, or the
 * site's own mail server `relay`) and the `domains` the site says `relay`
 * delivers inside. Everything else is refused at RCPT time; no outside relay
 * host exists in the configuration (roles/mail_relay, docs/mail.md).
 */
import type { MailService, Site } from "../../dsl/index.js";
import { compareText, type Context } from "../model/context.js";
import { contains, parseIPv4 } from "../model/ip.js";
import { isDomain, type CoreModel, type HostModel } from "../model/site.js";
import { allowedNetworks, cidrs, claimPort, placeOn } from "./placement.js";
import type { Component, PortClaim } from "./component.js";

export interface MailModel {
  host: HostModel;
  /** SMTP port (STARTTLS). */
  port: number;
  /** CIDRs allowed to send through the relay (Postfix `mynetworks`). */
  allow: string[];
  /** The site's domain: the relay's own mail domain. */
  domain: string;
  /** Local parts with a Maildir on the relay host, sorted. */
  mailboxes: string[];
  /** The site's own mail server that takes what the relay does not deliver itself: an address and a port. */
  relay?: { address: string; port: number; as: string };
  /** Other domains `relay` delivers inside the site, sorted. */
  domains: string[];
  /** `mail.<domain>:<port>`: how the site's hosts name the relay. */
  endpoint: string;
}

/** Default SMTP port of the relay. */
export const MAIL_DEFAULT_PORT = 25;
/** A mailbox's local part: what Postfix and a Maildir folder name both take plainly. */
export const LOCAL_PART = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

/**
 * Where a relay named in the site file (`host[:port]`) is: a host of the site
 * (by name) or an address inside one of its networks; a problem otherwise.
 */
export function insideRelay(core: CoreModel, text: unknown): { address: string; port: number; host?: HostModel } | { problem: string } {
  if (typeof text !== "string" || text === "") return { problem: "it is empty" };
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return { problem: "it is not host[:port]" };
  const port = m[2] === undefined ? 25 : Number(m[2]);
  if (port < 1 || port > 65535) return { problem: `${m[2]} is not a port` };
  const name = m[1].toLowerCase().replace(/\.$/, "");
  const host = core.hosts.find((h) => h.name === name || h.fqdn === name);
  if (host) return { address: host.address, port, host };
  const ip = parseIPv4(name);
  if (ip === undefined) {
    return { problem: isDomain(name) ? `"${name}" is not a host of the site` : `"${name}" is neither a host of the site nor an address` };
  }
  if (!core.networks.some((n) => contains(n.range, ip))) return { problem: `${name} is outside the site's networks` };
  return { address: name, port, host: core.hosts.find((h) => h.interfaces.some((i) => i.address === name)) };
}

/** Whether `domain` is `inside` or a domain below it. */
export function withinDomain(domain: string, inside: string): boolean {
  return domain === inside || domain.endsWith(`.${inside}`);
}

export const mail: Component<MailModel> = {
  key: "mail",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: MailService | undefined = site.services?.mail;
    if (!s) return undefined;
    const [host] = placeOn(ctx, core, "mail", s);
    const port = s.port ?? MAIL_DEFAULT_PORT;
    const allow = allowedNetworks(ctx, core, s);
    const ports = host
      ? [claimPort(ctx, host, port, "tcp", "mail", allow, s, s.port !== undefined ? "port" : "on", { setting: "services.mail.port" })].filter((p): p is PortClaim => !!p)
      : [];
    const list = Array.isArray(s.mailboxes) ? s.mailboxes : [];
    const mailboxes: string[] = [];
    list.forEach((box, i) => {
      if (typeof box !== "string" || !LOCAL_PART.test(box)) {
        ctx.error("AG223", `${JSON.stringify(box)} is not a mailbox name`, list, i,
          `a local part of the site's domain in lower case (letters, digits, ".", "_", "-"), e.g. "ops" for ops@${core.domain}`);
      } else if (mailboxes.includes(box)) {
        ctx.error("AG223", `the mailbox "${box}" is listed twice`, list, i);
      } else mailboxes.push(box);
    });
    let relay: MailModel["relay"];
    if (s.relay !== undefined) {
      const r = insideRelay(core, s.relay);
      if ("problem" in r) {
        ctx.error("AG224", `the mail relay "${String(s.relay)}" is not inside the site: ${r.problem}`, s, "relay",
          "name a host of the site or an address in its networks (with :port when not 25): the relay hands mail to nothing outside the site");
      } else if (host && r.host === host && r.port === port) {
        ctx.error("AG224", `the mail relay "${s.relay}" is the relay host itself: mail would loop`, s, "relay",
          "name the site's own mail server, or leave relay out and list mailboxes");
      } else relay = { address: r.address, port: r.port, as: s.relay };
    }
    const domainList = Array.isArray(s.domains) ? s.domains : [];
    const domains: string[] = [];
    domainList.forEach((d, i) => {
      const name = typeof d === "string" ? d.toLowerCase().replace(/\.$/, "") : d;
      if (!isDomain(name)) ctx.error("AG224", `${JSON.stringify(d)} is not a mail domain`, domainList, i);
      else if (withinDomain(name, core.domain)) {
        ctx.error("AG224", `"${d}" is the site's own domain or below it: the relay takes its mail already`, domainList, i, "list only other domains");
      } else if (domains.includes(name)) ctx.error("AG224", `the domain "${d}" is listed twice`, domainList, i);
      else domains.push(name);
    });
    if (domainList.length > 0 && s.relay === undefined) {
      ctx.error("AG224", "mail domains besides the site's need the site's own mail server to deliver them (relay)", s, "domains",
        'add relay: "<a host of the site>" (its mail server), or leave domains out');
    }
    if (list.length > 0 && s.relay !== undefined && domainList.length === 0) {
      ctx.error("AG224", "the mail relay would hand nothing to the site's mail server: with mailboxes the site's domain is kept on the relay host", s, "relay",
        "leave relay out, or list the domains it delivers (domains), or leave mailboxes out so that the site's mail goes to it");
    }
    if (list.length === 0 && s.relay === undefined) {
      ctx.error("AG223", "the mail relay would deliver no mail: it has neither mailboxes nor a relay inside the site", s, "on",
        'list the mailboxes the relay host keeps (mailboxes: ["ops"]) or name the site\'s mail server (relay: "mailhost")');
    }
    if (!host) return undefined;
    mailboxes.sort(compareText);
    domains.sort(compareText);
    const endpoint = `mail.${core.domain}:${port}`;
    return {
      model: { host, port, allow: cidrs(allow), domain: core.domain, mailboxes, ...(relay ? { relay } : {}), domains, endpoint },
      exports: {
        names: [{ name: "mail", host }],
        ports,
        tls: [{ name: "mail", host }],
        plays: [{ playbook: "admin", name: "Mail relay", hosts: "airgap_mail_servers", role: "mail_relay", after: ["repo_server", "ca", "repo_client"] }],
        endpoints: { smtp: endpoint },
      },
    };
  },
  emit(m, site, out) {
    out.addGroup("airgap_mail_servers", [m.host.name]);
    out.addVars("airgap_mail_servers", {
      airgap_mail_relay_port: m.port,
      airgap_mail_relay_address: m.host.address,
      airgap_mail_relay_allow: m.allow,
      airgap_mail_relay_names: site.tlsNames.get("mail"),
      airgap_mail_relay_domain: m.domain,
      airgap_mail_relay_mailboxes: m.mailboxes,
      airgap_mail_relay_relay: m.relay ? `[${m.relay.address}]:${m.relay.port}` : "",
      airgap_mail_relay_domains: m.domains,
    });
    out.runbook.push({
      title: "Mail relay",
      lines: [
        `Postfix on ${m.host.name} (smtp://${m.endpoint}, STARTTLS with a certificate from the site CA) takes mail from ${m.allow.join(", ")} only, for addresses inside the site only: anything else is refused, nothing is relayed outside.`,
        m.mailboxes.length
          ? `Mailboxes (Maildir under /var/mail/airgap/<name>/ on ${m.host.name}): ${m.mailboxes.map((b) => `${b}@${m.domain}`).join(", ")}.`
          : `No mailbox on ${m.host.name}.`,
        ...(m.relay
          ? [`Mail for ${[...(m.mailboxes.length ? [] : [m.domain]), ...m.domains].join(", ")} goes to the site's mail server ${m.relay.as} ([${m.relay.address}]:${m.relay.port}).`]
          : [`Other addresses are refused (550).`]),
        `Check from a host of the site: \`swaks --server ${m.endpoint.replace(/:25$/, "")} --tls --to ${m.mailboxes[0] ?? "postmaster"}@${m.domain}\`.`,
      ],
    });
  },
};
