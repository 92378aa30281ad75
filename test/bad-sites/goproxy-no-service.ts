// A host that builds Go on a site without a goproxy service: it would have
// no module proxy to point at.
import { defineSite } from "airgap";

export default defineSite({
  name: "nogo",
  domain: "nogo.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "build", address: "10.20.0.20", os: "debian-12", go: true }, // <- AG181
  ],
  services: {},
});
