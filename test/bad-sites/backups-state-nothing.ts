// Service-state backups asked for on a site whose services keep no state of
// their own (no CA, no index, no repositories, no cluster) and no extra paths.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "backups5",
  domain: "backups5.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "backup1", address: "10.20.0.11", os: "debian-12" },
  ],
  services: {
    backups: {
      on: "backup1",
      password: fromEnv("BACKUP_PASSWORD"),
      state: { schedule: "daily" }, // <- AG182
    },
  },
});
