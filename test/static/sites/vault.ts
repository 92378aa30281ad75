// A site whose registry accounts live in an Ansible Vault file beside it
// (test/static/vault.test.ts writes secrets.yml, encrypted, before compiling).
import { defineSite, fromVault } from "airgap";

export default defineSite({
  name: "vaulted",
  domain: "vaulted.internal",
  networks: [{ name: "site", cidr: "10.30.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.30.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    dns: { on: "admin" },
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "pusher", password: fromVault("secrets.yml", "registry_push_password"), access: "push" },
        { name: "puller", password: fromVault("secrets.yml", "registry_pull_password"), access: "pull" },
      ],
    },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
