// Names the site's services already have: a record on one, and a host named
// like a service that runs elsewhere (repo.<domain> cannot name both).
import { defineSite } from "airgap";

export default defineSite({
  name: "svcshadow",
  domain: "svcshadow.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "repo", address: "10.20.0.11", os: "debian-12", roles: ["admin"] }, // <- AG144
  ],
  services: {
    repos: { on: "admin" },
    ntp: { on: "admin" },
    dns: {
      on: "admin",
      records: [{ name: "ntp", type: "A", value: "10.20.0.123" }], // <- AG139
    },
  },
});
