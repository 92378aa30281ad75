// A mail relay that delivers nothing (no mailbox, no relay) and lists a
// domain with no relay to take it; another relay's address outside the
// site's networks.
import { defineSite } from "airgap";

export default defineSite({
  name: "mailsite",
  domain: "mail.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    mail: {
      on: "admin", // <- AG223
      domains: ["corp.example.com"], // <- AG224
    },
  },
});
