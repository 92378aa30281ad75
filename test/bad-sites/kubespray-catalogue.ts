// A catalogue file that is not there.
import { defineSite } from "airgap";

export default defineSite({
  name: "catalogue",
  domain: "catalogue.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    kubespray: {
      version: "2.28.1",
      kubernetes: "1.32.8",
      catalogue: "kubespray-2.28.1-reviewed.json", // <- AG094
    },
  },
});
