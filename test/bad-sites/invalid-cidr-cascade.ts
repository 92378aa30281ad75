// One network's CIDR is wrong: one error. Its hosts, the interfaces on it,
// the allow lists and the flows that name it are not judged against it.
import { defineSite } from "airgap";

export default defineSite({
  name: "cascade",
  domain: "cascade.internal",
  networks: [
    { name: "admin", cidr: "10.20.0.0/24" },
    { name: "nodes", cidr: "10.21.0.0/33" }, // <- AG020
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.20.0.1", os: "debian-12", roles: ["gateway"], interfaces: [{ network: "nodes", address: "10.21.0.1" }] },
    { name: "cp1", address: "10.21.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
    { name: "w1", address: "10.21.0.31", os: "debian-12", roles: ["worker"] },
    { name: "w2", address: "10.21.0.32", os: "debian-12", roles: ["worker"] },
  ],
  services: {
    ntp: { on: "admin", allow: ["admin", "nodes"] },
    dns: { on: "admin", allow: ["admin", "nodes"] },
    repos: { on: "admin", allow: ["nodes", "admin"] },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
  flows: [{ from: "admin", to: "nodes", protocol: "tcp", ports: [22] }, { from: "nodes", to: "cp1", protocol: "icmp" }],
});
