// Records outside the zone, a CNAME at the apex, bad record data.
import { defineSite } from "airgap";

export default defineSite({
  name: "records",
  domain: "records.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    dns: {
      on: "admin",
      records: [
        { name: "gitlab.example.com.", type: "A", value: "10.20.0.50" }, // <- AG060
        { name: "@", type: "CNAME", value: "admin" }, // <- AG061
        { name: "ldap", type: "A", value: "10.20.0.500" }, // <- AG062
        { name: "admin", type: "CNAME", value: "cp1" }, // <- AG064
        { name: "gitlab.records.internal.", type: "A", value: "10.20.0.50" },
      ],
    },
  },
});
