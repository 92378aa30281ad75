/**
 * Issue 22 part 5: nothing a site with monitoring and a mail relay compiles
 * to names an address or a host outside the site. Every IPv4 address and
 * every DNS name in every file the compiler generates (the hand-written
 * roles it copies are not generated: they are the same for every site) is
 * checked: an address must be in one of the site's networks (or be the
 * loopback / "any" address, or one of the site's own CIDRs), a name must be
 * the site's domain or below it, a domain the mail relay says the site's
 * own mail server delivers inside (`mail.domains`), a reverse zone of a site
 * network, or a short host name of the site.
 *
 * The checked site is a compact one (no Kubespray, no carried images,
 * charts or Python packages), so that every name left in it is one the
 * site's own services use; the carried artifacts' upstream names (an
 * image's source, a file's download path under files_repo, the bastion's
 * PyPI) are what the bundle is made from, on the bastion, and are kept out
 * of this site on purpose.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { contains, parseCidr, parseIPv4, type Cidr } from "../../compile/model/ip.js";
import { synth } from "../../compile/synth.js";

/** File suffixes and dotted identifiers that look like names but are none (files, modules, Jinja attributes). */
const NOT_A_NAME = /\.(ya?ml|j2|cfg|conf|json|py|md|txt|sh|crt|key|pem|csr|pub|tgz|gz|tar|sig|dot|svg|sock|cf|log|php|service|timer|list|asc|gpg|psk|ts|js|d|sources|arpa|ini)$|^(ansible|community|airgap_|files_repo|services)\./;

interface Finding {
  file: string;
  line: number;
  token: string;
}

/**
 * The addresses and names in `files` that are outside the site: `networks`
 * (CIDRs), `domains` (the site's domain and the ones allowed), `hosts`
 * (short host names). Each finding names its file and line.
 */
export function outside(files: Map<string, string>, networks: Cidr[], domains: string[], hosts: string[]): Finding[] {
  const found: Finding[] = [];
  const within = (name: string) => domains.some((d) => name === d || name.endsWith(`.${d}`));
  for (const [file, text] of files) {
    text.split("\n").forEach((line, i) => {
      // Every dotted quad (a CIDR's base included): inside a site network, or the loopback / any.
      for (const m of line.matchAll(/(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?(?![\d.])/g)) {
        const ip = parseIPv4(m[1]);
        if (ip === undefined) continue;
        if (m[1].startsWith("127.") || m[1] === "0.0.0.0") continue;
        const cidr = m[2] !== undefined ? parseCidr(`${m[1]}/${m[2]}`) : undefined;
        const ok = networks.some((n) => contains(n, ip) && (!cidr || cidr.prefix >= n.prefix));
        if (!ok) found.push({ file, line: i + 1, token: m[0] });
      }
      // Every dotted name ending in letters: the site's domain or an allowed one, else a file or identifier.
      for (const m of line.matchAll(/(?<![\w.@/-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])/g)) {
        const name = m[0].toLowerCase();
        if (within(name) || NOT_A_NAME.test(name)) continue;
        found.push({ file, line: i + 1, token: m[0] });
      }
      // Every address of a URL or mail address: its host must be inside too.
      for (const m of line.matchAll(/(?:[a-z]+:\/\/|@)([A-Za-z0-9.-]+)/g)) {
        const host = m[1].toLowerCase().replace(/\.$/, "");
        if (parseIPv4(host) !== undefined || within(host) || hosts.includes(host) || host === "localhost") continue;
        if (/^\{\{|^[a-z_]+$/.test(host)) continue; // a Jinja expression or a bare variable (`@{{ x }}`, `@localhost`)
        found.push({ file, line: i + 1, token: m[0] });
      }
    });
  }
  return found;
}

const SITE = `
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "inside",
  domain: "inside.plant.internal",
  networks: [
    { name: "admin", cidr: "10.70.0.0/24", gateway: "10.70.0.1" },
    { name: "nodes", cidr: "10.70.1.0/24", gateway: "10.70.1.1" },
  ],
  hosts: [
    { name: "infra1", address: "10.70.0.10", os: "debian-12", roles: ["admin"] },
    { name: "mon1", address: "10.70.0.12", os: "debian-12", roles: ["admin"] },
    { name: "mailhub", address: "10.70.0.25", os: "debian-12" },
    { name: "cp1", address: "10.70.1.11", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "infra1", upstream: ["10.70.0.5"] },
    dns: { on: "infra1", forwarders: ["10.70.0.53"] },
    repos: { on: "infra1" },
    mail: { on: "infra1", mailboxes: ["ops"], relay: "mailhub", domains: ["corp.plant.example"] },
    monitoring: {
      on: "mon1",
      recipients: ["ops@inside.plant.internal", "oncall@corp.plant.example"],
      webhook: { url: "https://chat.inside.plant.internal/hooks/", key: fromEnv("CHAT_HOOK_KEY") },
      adminPassword: fromEnv("ZABBIX_ADMIN_PASSWORD"),
      databasePassword: fromEnv("ZABBIX_DB_PASSWORD"),
      agentPsk: fromEnv("ZABBIX_AGENT_PSK"),
      backupMaxAgeHours: 26,
    },
  },
});
`;

describe("issue 22 part 5: a site with monitoring names nothing outside the site", () => {
  let dir: string;
  let files: Map<string, string>;
  const networks = ["10.70.0.0/24", "10.70.1.0/24"].map((c) => parseCidr(c)!);
  const domains = ["inside.plant.internal", "corp.plant.example"];
  const hosts = ["infra1", "mon1", "mailhub", "cp1"];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "airgap-inside-"));
    writeFileSync(path.join(dir, "site.ts"), SITE);
    const r = await synth(path.join(dir, "site.ts"));
    assert.deepEqual(r.errors.map((e) => `${e.code} ${e.message}`), []);
    files = new Map([...r.files].filter(([f]) => !f.startsWith("roles/")));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("compiles monitoring and the relay (the checked files hold their variables)", () => {
    const all = [...files.values()].join("\n");
    for (const v of ["airgap_zabbix_agent_servers", "airgap_zabbix_config_recipients", "airgap_zabbix_config_tls_fronts", "airgap_mail_relay_relay"]) assert.match(all, new RegExp(v));
    assert.ok(files.size > 10);
  });

  it("every address is in a site network and every name in the site's domain (or a domain its mail server takes)", () => {
    const found = outside(files, networks, domains, hosts);
    assert.deepEqual(found.map((f) => `${f.file}:${f.line}: ${f.token}`), []);
  });

  it("the check finds what is outside (an address, a name, a URL, a mail address planted in a copy)", () => {
    const planted = new Map(files);
    planted.set("planted.yml", [
      "a: 10.71.0.5",
      "b: smtp.example.com",
      "c: https://chat.example.org/hooks/x",
      "d: ops@corp.example.net",
      "e: 10.70.0.0/16",
      "f: ntp.pool.ntp.org",
    ].join("\n"));
    const found = outside(planted, networks, domains, hosts).filter((f) => f.file === "planted.yml").map((f) => f.line);
    for (const line of [1, 2, 3, 4, 5, 6]) assert.ok(found.includes(line), `line ${line} of the planted file is found`);
  });
});
