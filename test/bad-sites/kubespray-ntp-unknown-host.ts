// With Kubespray declared: the time service placed on a host the site does not have.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-unknown-host",
  domain: "ks-unknown-host.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "adnim" }, // <- AG040
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
