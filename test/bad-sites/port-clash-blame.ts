// A port clash is reported at the port the site wrote, whichever service
// claims it first, with a hint about a setting that exists.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "blame",
  domain: "blame.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "admin2", address: "10.20.0.11", os: "debian-12", roles: ["admin"] },
  ],
  services: {
    dns: { on: ["admin", "admin2"] },
    // The DNS claims 53 first (tcp): the clash is the repository's written port.
    repos: { on: "admin", port: 53 }, // <- AG042
    registry: {
      on: "admin2",
      port: 3141, // <- AG042
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    // Its default port (3141) is the one the registry took above.
    pypi: { on: "admin2" },
  },
});
