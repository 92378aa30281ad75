// Two hosts with one name.
import { defineSite } from "airgap";

export default defineSite({
  name: "dup",
  domain: "dup.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp1", address: "10.20.0.22", os: "debian-12", roles: ["worker"] }, // <- AG030
  ],
  services: {},
});
