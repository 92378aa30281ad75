// Errors inside a loop point at the line that made the value.
import { defineSite } from "airgap";

const workers = Array.from({ length: 3 }, (_, i) => ({
  name: `worker${i}`,
  address: `10.20.1.${10 + i}`, // <- AG033 AG033 AG033
  os: "debian-12" as const,
  roles: ["worker" as const],
}));

export default defineSite({
  name: "loops",
  domain: "loops.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd"] },
    ...workers,
  ],
  services: {},
});
