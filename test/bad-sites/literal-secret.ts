// Secrets written in clear: in free-form variables, and where a reference belongs.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "secrets",
  domain: "secrets.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"], vars: { ldap_password: "s3cret" } }, // <- AG070
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("PUSH-PASSWORD"), access: "push" }, // <- AG071
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8", extraVars: { registry_token: "abc123" } }, // <- AG070
  },
});
