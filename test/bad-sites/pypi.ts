// A Python index with a malformed requirement, a source that is not an
// http(s) index, and devpi without its root password.
import { defineSite } from "airgap";

export default defineSite({
  name: "pypi",
  domain: "pypi.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    pypi: {
      on: "admin",
      mode: "devpi", // <- AG081
      packages: ["requests==2.32.3", "not a requirement"], // <- AG086
      source: { index: "ftp://mirror.example.org/simple/" }, // <- AG087
    },
  },
});
