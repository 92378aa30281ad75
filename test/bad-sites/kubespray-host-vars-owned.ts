// A host variable named like a Kubespray variable airgap writes: host
// variables win over the offline vars file, so this node alone would pull
// from elsewhere.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "hostowned",
  domain: "hostowned.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"],
      vars: { registry_host: "registry.hostowned.internal:5443" } }, // <- AG134
  ],
  services: {
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
