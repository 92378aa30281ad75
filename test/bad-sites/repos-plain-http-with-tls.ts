// plainHttp: true while TLS stays on: the site says two different things.
import { defineSite } from "airgap";

export default defineSite({
  name: "plainhttps",
  domain: "plainhttps.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    repos: {
      on: "admin",
      plainHttp: true, // <- AG201
    },
  },
});
