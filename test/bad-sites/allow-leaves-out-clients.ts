// Services whose allow leaves out hosts the compiled project makes their
// clients (issue 17): the nodes on "nodes" would be pointed at servers that
// refuse them, and the gateway would open no flow for them.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "allowed",
  domain: "allowed.internal",
  networks: [
    { name: "admin", cidr: "10.20.0.0/24" },
    { name: "nodes", cidr: "10.21.0.0/24" },
    { name: "storage", cidr: "10.22.0.0/24" },
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.20.0.1", os: "debian-12", roles: ["gateway"],
      interfaces: [{ network: "nodes", address: "10.21.0.1" }, { network: "storage", address: "10.22.0.1" }] },
    { name: "cp1", address: "10.21.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
    { name: "w1", address: "10.21.0.31", os: "debian-12", roles: ["worker"], python: false },
    // On "storage" but with an address on the admin network: it reaches the services there.
    { name: "nas", address: "10.22.0.5", os: "debian-12", roles: ["worker"], python: false, interfaces: [{ network: "admin", address: "10.20.0.5" }] },
    { name: "backup", address: "10.22.0.6", os: "debian-12", roles: ["admin"], python: false },
  ],
  services: {
    ntp: { on: "admin", allow: ["admin"] }, // <- AG143
    dns: { on: "admin", allow: ["admin", "nodes"] }, // <- AG143
    repos: { on: "admin", allow: ["admin", "nodes", "storage"] },
    registry: {
      on: "admin",
      allow: ["admin", "storage"], // <- AG143
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    // The index host's own pip connects from its own network.
    pypi: { on: "admin", allow: ["nodes"] }, // <- AG143
    kubespray: { version: "2.30.0", kubernetes: "1.32.8", containerRuntime: "containerd" },
  },
  flows: [{ from: "admin", to: "nodes", protocol: "tcp", ports: [22] }],
});
