// Service ports that the host's sshd or its Kubernetes daemons hold.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "sshports",
  domain: "sshports.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"], sshPort: 2222 },
    { name: "admin2", address: "10.20.0.11", os: "debian-12", roles: ["admin", "control-plane", "etcd", "worker"] },
  ],
  services: {
    registry: {
      on: "admin",
      port: 2222, // <- AG135
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    repos: { on: "admin2", port: 6443 }, // <- AG135
    pypi: { on: "admin2", port: 22 }, // <- AG135
  },
});
