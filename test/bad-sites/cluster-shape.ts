// No control plane, and an even number of etcd members.
import { defineSite } from "airgap";

export default defineSite({
  name: "shape",
  domain: "shape.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "w1", address: "10.20.0.31", os: "debian-12", roles: ["worker", "etcd"] },
    { name: "w2", address: "10.20.0.32", os: "debian-12", roles: ["worker", "etcd"] },
  ],
  services: {
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" }, // <- AG050 AG051
  },
});
