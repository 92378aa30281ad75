// Host and site names must be DNS labels.
import { defineSite } from "airgap";

export default defineSite({
  name: "Bad Site", // <- AG010
  domain: "names.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp_1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] }, // <- AG034
    { name: "-w1", address: "10.20.0.31", os: "debian-12", roles: ["worker"] }, // <- AG034
  ],
  services: {},
});
