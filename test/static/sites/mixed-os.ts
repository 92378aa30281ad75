// A cluster of Debian and Rocky Linux nodes pulling through containerd, with a
// site name of more than five characters: the registry mirrors' CA path is
// chosen per OS family (test/static/lint.test.ts lints the compiled project).
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "refinery",
  domain: "refinery.example.internal",
  networks: [{ name: "site", cidr: "10.30.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.30.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "worker1", address: "10.30.0.31", os: "rocky-9", roles: ["worker"] },
    { name: "worker2", address: "10.30.0.32", os: "debian-12", roles: ["worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    dns: { on: "admin" },
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "pusher", password: fromEnv("REFINERY_REGISTRY_PUSH_PASSWORD"), access: "push" },
        { name: "puller", password: fromEnv("REFINERY_REGISTRY_PULL_PASSWORD"), access: "pull" },
      ],
    },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
