// Monitoring whose alerts would leave the site, or that would fail with the
// cluster it watches: the server on an etcd member, a recipient outside the
// site's domain without the mail service saying its server delivers it
// inside, an address that is none, a chat webhook outside the site's domain
// and another outside its networks, a backup age that is no whole number
// of hours.
import { defineSite, fromEnv } from "airgap";

const secrets = {
  adminPassword: fromEnv("ZABBIX_ADMIN_PASSWORD"),
  databasePassword: fromEnv("ZABBIX_DB_PASSWORD"),
  agentPsk: fromEnv("ZABBIX_AGENT_PSK"),
};

export default defineSite({
  name: "mon",
  domain: "mon.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.11", os: "debian-12", roles: ["admin", "control-plane", "etcd", "worker"] },
  ],
  services: {
    mail: { on: "admin", mailboxes: ["ops"] },
    monitoring: {
      on: "cp1", // <- AG220
      recipients: [
        "ops@mon.internal",
        "oncall@team.mon.internal",
        "ops@example.com", // <- AG221
        "not an address", // <- AG221
      ],
      webhook: { url: "https://chat.example.com/hooks/" }, // <- AG222
      backupMaxAgeHours: 1.5, // <- AG226
      ...secrets,
    },
  },
});
