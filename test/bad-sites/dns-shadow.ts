// Records and hosts that take a name something else already has.
import { defineSite } from "airgap";

export default defineSite({
  name: "shadow",
  domain: "shadow.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "admin2", address: "10.20.0.11", os: "debian-12", roles: ["admin"] },
    { name: "ns2", address: "10.20.0.12", os: "debian-12", roles: ["admin"] }, // <- AG144
    { name: "etcd", address: "10.20.0.13", os: "debian-12", roles: ["admin"] }, // <- AG144
  ],
  services: {
    dns: {
      on: ["admin", "admin2"],
      records: [
        { name: "admin", type: "A", value: "10.20.0.99" }, // <- AG139
        { name: "ns1", type: "A", value: "10.20.0.98" }, // <- AG139
        { name: "admin", type: "TXT", value: "the first admin host" },
      ],
    },
  },
});
