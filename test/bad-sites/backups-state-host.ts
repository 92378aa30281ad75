// The backup host holds service state itself: admin is the repository server
// and the site CA's host (its signing key and the CA's private key would be
// backed up onto the host they are to survive).
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "backups4",
  domain: "backups4.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    repos: { on: "admin" },
    backups: {
      on: "admin", // <- AG183
      password: fromEnv("BACKUP_PASSWORD"),
    },
  },
});
