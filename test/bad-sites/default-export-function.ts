// The default export is a function that makes the site, not the site.
import { defineSite } from "airgap";

export default () => // <- AG130
  defineSite({
    name: "fn",
    domain: "fn.internal",
    networks: [{ name: "site", cidr: "10.20.0.0/24" }],
    hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
    services: {},
  });
