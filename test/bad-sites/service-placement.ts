// Services on a host that does not exist, and on one that is not an admin.
import { defineSite } from "airgap";

export default defineSite({
  name: "placement",
  domain: "placement.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "adnim" }, // <- AG040
    dns: { on: ["admin", "cp1"] }, // <- AG041
    repos: { on: "admin", allow: ["site", "dmz"] }, // <- AG043
  },
});
