// The site's trusted bundle key must be a readable ed25519 public key (airgap keygen).
import { defineSite } from "airgap";

export default defineSite({
  name: "bundlekey",
  domain: "bundlekey.internal",
  networks: [{ name: "site", cidr: "10.21.0.0/24" }],
  hosts: [{ name: "admin", address: "10.21.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    repos: {
      on: "admin",
      trustedKey: "keys/no-such-airgap-bundle.pub", // <- AG088
    },
  },
});
