// The CA's key without its certificate: it would be ignored and a new CA made.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "cakey",
  domain: "cakey.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  ca: { commonName: "Plant CA", key: fromEnv("PLANT_CA_KEY") }, // <- AG140
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: { repos: { on: "admin" } },
});
