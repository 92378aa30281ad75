// Records that point at names the zone does not have, a CNAME loop, and a
// target outside the site with no forwarder to reach it.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "dangling",
  domain: "dangling.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
  ],
  services: {
    repos: { on: "admin" },
    dns: {
      on: "admin",
      records: [
        { name: "git", type: "A", value: "10.20.0.50" },
        { name: "gitlab", type: "CNAME", value: "git" },
        { name: "packages", type: "CNAME", value: "repo" },
        { name: "ns", type: "CNAME", value: "ns1.dangling.internal." },
        { name: "wiki", type: "CNAME", value: "confluence" }, // <- AG138
        { name: "@", type: "MX", value: "10 mail" }, // <- AG138
        { name: "a", type: "CNAME", value: "b" }, // <- AG138
        { name: "b", type: "CNAME", value: "a" },
        { name: "docs", type: "CNAME", value: "docs.example.com." }, // <- AG138
        { name: "_ldap._tcp", type: "SRV", value: "0 5 389 git" },
      ],
    },
  },
});
