// The gateway host doubles as a worker: its default-drop forward chain would
// drop pod traffic, and Kubernetes' rules would share its firewall.
import { defineSite } from "airgap";

export default defineSite({
  name: "gwnode",
  domain: "gwnode.internal",
  networks: [{ name: "admin", cidr: "10.20.0.0/24" }, { name: "nodes", cidr: "10.21.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.20.0.1", os: "debian-12", roles: ["gateway", "worker"], interfaces: [{ network: "nodes", address: "10.21.0.1" }] }, // <- AG148
    { name: "cp1", address: "10.21.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: { ntp: { on: "admin" } },
  flows: [{ from: "admin", to: "nodes", protocol: "tcp", ports: [22] }],
});
