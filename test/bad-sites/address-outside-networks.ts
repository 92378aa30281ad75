// An address in no declared network, and one that is not an address.
import { defineSite } from "airgap";

export default defineSite({
  name: "outside",
  domain: "outside.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.30.0.21", os: "debian-12", roles: ["control-plane", "etcd"] }, // <- AG033
    { name: "w1", address: "10.20.0.300", os: "debian-12", roles: ["worker"] }, // <- AG032
    { name: "w2", address: "10.20.0.255", os: "debian-12", roles: ["worker"] }, // <- AG035
  ],
  services: {},
});
