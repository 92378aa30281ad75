// With Kubespray declared: the admin host that serves time has an address
// outside every network of the site.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-admin-outside",
  domain: "ks-admin-outside.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] }, // <- AG033
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
