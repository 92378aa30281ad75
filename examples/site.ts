// The default example: one admin host serving the site's infrastructure,
// one control plane (also the etcd member) and two workers.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "example",
  domain: "example.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "worker1", address: "10.20.0.31", os: "debian-12", roles: ["worker"] },
    { name: "worker2", address: "10.20.0.32", os: "debian-12", roles: ["worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    dns: { on: "admin" },
    repos: { on: "admin", packages: ["curl", "bind9-dnsutils"] },
    registry: {
      on: "admin",
      users: [
        { name: "pusher", password: fromEnv("AIRGAP_REGISTRY_PUSH_PASSWORD"), access: "push" },
        { name: "puller", password: fromEnv("AIRGAP_REGISTRY_PULL_PASSWORD"), access: "pull" },
      ],
    },
    pypi: { on: "admin", mode: "static" },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
