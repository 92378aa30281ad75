// A chat webhook by address outside the site's networks, no relay to mail
// the alerts through, and no agent PSK.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "mon",
  domain: "mon.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    // @ts-expect-error: agentPsk is required (a cast in a real file)
    monitoring: {
      on: "admin", // <- AG223 AG225
      recipients: ["ops@mon.internal"],
      webhook: { url: "http://192.168.1.5/hooks/", key: fromEnv("CHAT_HOOK_KEY") }, // <- AG222
      adminPassword: fromEnv("ZABBIX_ADMIN_PASSWORD"),
      databasePassword: fromEnv("ZABBIX_DB_PASSWORD"),
    },
  },
});
