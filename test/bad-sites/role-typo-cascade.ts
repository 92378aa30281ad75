// A misspelt role is one mistake: the host is not also refused as a service's
// admin host, nor the cluster as having no control plane.
import { defineSite, type HostRole } from "airgap";

export default defineSite({
  name: "typo",
  domain: "typo.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admn" as HostRole] }, // <- AG038
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plan" as HostRole, "etcd", "worker"] }, // <- AG038
  ],
  services: {
    ntp: { on: "admin" },
    dns: { on: "admin" },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
