// Hosts on "nodes" use the admin's NTP and a flow names "nodes", but the
// gateway host has no address there; nor on the DMZ it should masquerade to.
import { defineSite } from "airgap";

export default defineSite({
  name: "nointerface",
  domain: "nointerface.internal",
  networks: [
    { name: "admin", cidr: "10.20.0.0/24" },
    { name: "nodes", cidr: "10.21.0.0/24" },
    { name: "dmz", cidr: "10.22.0.0/24", masquerade: true }, // <- AG118
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.20.0.1", os: "debian-12", roles: ["gateway"] }, // <- AG118
    { name: "cp1", address: "10.21.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: { ntp: { on: "admin" } },
  flows: [{ from: "admin", to: "nodes", protocol: "tcp", ports: [22], why: "SSH" }],
});
