// Repositories served over plain HTTP without saying it is meant.
import { defineSite } from "airgap";

export default defineSite({
  name: "plain",
  domain: "plain.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    repos: {
      on: "admin",
      tls: false, // <- AG200
    },
  },
});
