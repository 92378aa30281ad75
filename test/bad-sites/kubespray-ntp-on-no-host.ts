// With Kubespray declared: the time service placed on an empty list of hosts.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-on-nothing",
  domain: "ks-on-nothing.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: [] }, // <- AG040
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
