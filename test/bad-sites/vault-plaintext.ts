// A vault file that is not encrypted: fromVault names this very file, plain text.
import { defineSite, fromVault } from "airgap";

export default defineSite({
  name: "vault",
  domain: "vault.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromVault("vault-plaintext.ts", "push_password"), access: "push" }, // <- AG190
        { name: "pull", password: fromVault("vault-plaintext.ts", "pull_password"), access: "pull" }, // <- AG190
      ],
    },
  },
});
