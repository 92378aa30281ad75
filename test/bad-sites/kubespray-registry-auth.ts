// Kubespray 2.28.1's containerd templates drop the registry's pull account.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "credentials",
  domain: "credentials.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "pusher", password: fromEnv("PUSH_PASSWORD"), access: "push" },
        { name: "puller", password: fromEnv("PULL_PASSWORD"), access: "pull" },
      ],
    },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" }, // <- AG121
  },
});
