// Servers that would take what they serve from themselves.
import { defineSite } from "airgap";

export default defineSite({
  name: "loops",
  domain: "loops.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }, { name: "mgmt", cidr: "10.50.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"], interfaces: [{ network: "mgmt", address: "10.50.0.10" }] },
    { name: "admin2", address: "10.20.0.11", os: "debian-12", roles: ["admin"] },
  ],
  services: {
    dns: {
      on: ["admin", "admin2"],
      forwarders: [
        "10.20.0.1",
        "10.50.0.10", // <- AG136
        "10.20.0.11", // <- AG136
        "10.20.0.1", // <- AG136
        "127.0.0.53", // <- AG136
      ],
    },
    ntp: {
      on: ["admin", "admin2"],
      upstream: [
        "ntp.corp.example",
        "admin2.loops.internal", // <- AG137
        "admin", // <- AG137
        "localhost", // <- AG137
      ],
    },
  },
});
