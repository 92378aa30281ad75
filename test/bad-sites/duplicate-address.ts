// Two hosts with one address.
import { defineSite } from "airgap";

export default defineSite({
  name: "dup",
  domain: "dup.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "w1", address: "10.20.0.21", os: "debian-12", roles: ["worker"] }, // <- AG031
  ],
  services: {},
});
