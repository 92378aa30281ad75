// Two services on one host and port.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "ports",
  domain: "ports.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    registry: {
      on: "admin",
      port: 443, // <- AG042
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    repos: { on: "admin" },
    pypi: { on: "admin", port: 70000 }, // <- AG044
  },
});
