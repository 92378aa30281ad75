// The registry, repository and PyPI roles support Debian and Ubuntu only
// (their meta/main.yml): an admin host on Rocky Linux is refused at its OS.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "rocky",
  domain: "rocky.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "rocky-9", roles: ["admin"] }, // <- AG039
    { name: "cp1", address: "10.20.0.21", os: "rocky-9", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "ci", password: fromEnv("REGISTRY_PUSH_PASSWORD"), access: "push" },
        { name: "nodes", password: fromEnv("REGISTRY_PULL_PASSWORD"), access: "pull" },
      ],
    },
  },
});
