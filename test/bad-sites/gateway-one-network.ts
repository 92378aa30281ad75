// A gateway host with an address on one network: it routes nothing.
import { defineSite } from "airgap";

export default defineSite({
  name: "onenet",
  domain: "onenet.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "gw", address: "10.20.0.1", os: "debian-12", roles: ["gateway"] }, // <- AG141
  ],
  services: { ntp: { on: "admin" } },
});
