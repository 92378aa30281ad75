// With Kubespray declared: a site without networks. One mistake, one error:
// no host is judged "outside every network", and the cluster still has the
// control plane and etcd its hosts declare.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-no-networks",
  domain: "ks-no-networks.internal",
  networks: [], // <- AG025
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
