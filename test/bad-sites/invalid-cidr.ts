// Networks that are not networks, or overlap.
import { defineSite } from "airgap";

export default defineSite({
  name: "cidr",
  domain: "cidr.internal",
  networks: [
    { name: "site", cidr: "10.20.0.0/24" },
    { name: "hosts", cidr: "10.20.0.5/24" }, // <- AG020
    { name: "wide", cidr: "10.20.0.0/16" }, // <- AG021
    { name: "bad", cidr: "10.40.0.0/40" }, // <- AG020
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {},
});
