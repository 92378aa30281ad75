// With Kubespray declared: the time service placed on admin hosts that are
// each invalid in their own way (so it is left with no host to run on).
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-hosts-invalid",
  domain: "ks-hosts-invalid.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin1", address: "10.20.0.300", os: "debian-12", roles: ["admin"] }, // <- AG032
    { name: "admin2", address: "10.20.0.255", os: "debian-12", roles: ["admin"] }, // <- AG035
    { name: "Admin_3", address: "10.20.0.13", os: "debian-12", roles: ["admin"] }, // <- AG034
    {
      name: "admin4",
      address: "10.20.0.14",
      os: "debian-12",
      roles: ["admin"],
      interfaces: [{ network: "storage", address: "10.40.0.14" }], // <- AG110
    },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: ["admin1", "admin2", "Admin_3", "admin4"] },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
