// devpi mode with an index name devpi cannot have, and an upload account
// that is root and has no password.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "pypi",
  domain: "pypi.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    pypi: {
      on: "admin",
      mode: "devpi",
      rootPassword: fromEnv("AIRGAP_DEVPI_ROOT_PASSWORD"),
      index: "root/pypi", // <- AG160
      // @ts-expect-error the password is missing
      uploader: { user: "root" }, // <- AG162 AG162
    },
  },
});
