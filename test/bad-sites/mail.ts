// A mail relay that would relay outside the site: its relay is an address
// outside the site's networks; a domain listed without a relay to take it;
// mailbox names that are none, or twice.
import { defineSite } from "airgap";

export default defineSite({
  name: "mailsite",
  domain: "mail.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "admin2", address: "10.20.0.11", os: "debian-12", roles: ["admin"] },
  ],
  services: {
    mail: {
      on: "admin",
      mailboxes: ["ops", "Ops Team", "ops"], // <- AG223 AG223
      relay: "smtp.example.com", // <- AG224
      domains: ["corp.example.com", "sub.mail.internal"], // <- AG224
    },
  },
});
