// With Kubespray declared: a site without networks, so no host has a valid
// address and the cluster is left without its control plane and etcd.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-no-networks",
  domain: "ks-no-networks.internal",
  networks: [], // <- AG025
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }, // <- AG033
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] }, // <- AG033
  ],
  services: {
    ntp: { on: "admin" },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" }, // <- AG050 AG051
  },
});
