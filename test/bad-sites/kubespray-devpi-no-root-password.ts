// With Kubespray declared: a devpi index without its root password.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-devpi",
  domain: "ks-devpi.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    pypi: { on: "admin", mode: "devpi" }, // <- AG081
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
