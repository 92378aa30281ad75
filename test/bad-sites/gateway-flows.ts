// The gateway and its flows: undeclared networks and hosts, bad ports, an
// interface outside its network, a second gateway host.
import { defineSite } from "airgap";

export default defineSite({
  name: "flows",
  domain: "flows.internal",
  networks: [
    { name: "admin", cidr: "10.20.0.0/24" },
    { name: "nodes", cidr: "10.21.0.0/24" },
    { name: "dmz", cidr: "10.22.0.0/24" },
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    {
      name: "gw",
      address: "10.20.0.1",
      interfaces: [
        { network: "lab", address: "10.23.0.1" }, // <- AG110
        { network: "dmz", address: "10.21.0.1" }, // <- AG111
      ],
      os: "debian-12",
      roles: ["gateway"],
    },
    { name: "gw2", address: "10.21.0.2", os: "debian-12", roles: ["gateway"] }, // <- AG113
    { name: "cp1", address: "10.21.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: { ntp: { on: "admin" } },
  flows: [
    { from: "office", to: "nodes", protocol: "tcp", ports: [22] }, // <- AG114
    { from: "admin", to: "cp9", protocol: "tcp", ports: [22] }, // <- AG114
    { from: "admin", to: "cp1", protocol: "tcp", ports: [70000] }, // <- AG115
    { from: "admin", to: "nodes", protocol: "udp" }, // <- AG115
  ],
});
