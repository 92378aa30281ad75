// Flows the gateway never sees (inside one network), and a network router
// that is the address of a host that does not route.
import { defineSite } from "airgap";

export default defineSite({
  name: "inside",
  domain: "inside.internal",
  networks: [
    { name: "admin", cidr: "10.20.0.0/24" },
    { name: "nodes", cidr: "10.21.0.0/24" },
    { name: "lab", cidr: "10.23.0.0/24", gateway: "10.23.0.5" }, // <- AG147
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.20.0.1", os: "debian-12", roles: ["gateway"], interfaces: [{ network: "nodes", address: "10.21.0.1" }] },
    { name: "cp1", address: "10.21.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
    { name: "bench", address: "10.23.0.5", os: "debian-12", roles: ["worker"] },
  ],
  services: {},
  flows: [
    { from: "admin", to: "nodes", protocol: "tcp", ports: [22] },
    { from: "nodes", to: "nodes", protocol: "tcp", ports: [10250] }, // <- AG146
    { from: "nodes", to: "cp1", protocol: "tcp", ports: [6443] }, // <- AG146
  ],
});
