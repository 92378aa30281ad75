// Type errors come first, located like tsc; semantic errors follow. A
// semantic error about a value that holds a type error is not reported (no
// AG080 for the literal password, no AG032 for the address the typo left out).
import { defineSite } from "airgap";

export default defineSite({
  name: "types",
  domain: "types.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-11", roles: ["admin"] }, // <- TS2820
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp1", address: "10.20.0.22", os: "debian-12", roles: ["worker"] }, // <- AG030
    { name: "w2", adress: "10.20.0.23", os: "debian-12", roles: ["worker"] }, // <- TS2561
  ],
  services: {
    registry: {
      on: "admin",
      users: [{ name: "push", password: "hunter2", access: "push" }], // <- TS2322
    },
  },
});
