// A cluster whose nodes are all control plane: nothing can run workloads.
import { defineSite } from "airgap";

export default defineSite({
  name: "noworker",
  domain: "noworker.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp2", address: "10.20.0.22", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp3", address: "10.20.0.23", os: "debian-12", roles: ["control-plane", "etcd"] },
  ],
  services: {
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" }, // <- AG142
  },
});
