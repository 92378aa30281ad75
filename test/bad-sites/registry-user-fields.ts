// Registry accounts that the type check was told to trust: one without a
// password (it would be dropped, and the nodes' pull credentials with it), one
// whose access comes from a table as a plain string, one without access.
import { defineSite, fromEnv, type RegistryUser } from "airgap";

const fromTable = { access: "admin" };

export default defineSite({
  name: "regusers",
  domain: "regusers.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", access: "pull" } as RegistryUser, // <- AG132
        { name: "ops", password: fromEnv("OPS"), access: fromTable.access } as RegistryUser, // <- AG131
        { name: "ci", password: fromEnv("CI") } as RegistryUser, // <- AG132
      ],
    },
  },
});
