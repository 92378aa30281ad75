// The static index with devpi's index name, upload account and web view.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "pypi",
  domain: "pypi.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    pypi: {
      on: "admin",
      index: "pypi/prod", // <- AG161
      uploader: { user: "ci", password: fromEnv("AIRGAP_DEVPI_UPLOAD_PASSWORD") }, // <- AG161
      web: true, // <- AG161
    },
  },
});
