// The lab of the end-to-end tests (test/lab/lab.sh, docs/lab.md): one admin
// host and two nodes on the bridge agbr0, with no route out.
import { defineSite } from "airgap";

export default defineSite({
  name: "lab",
  domain: "lab.airgap.internal",
  networks: [{ name: "site", cidr: "10.213.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.213.0.10", os: "debian-12", roles: ["admin"] },
    { name: "node1", address: "10.213.0.11", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "node2", address: "10.213.0.12", os: "debian-12", roles: ["worker"] },
  ],
  services: {
    repos: {
      on: "admin",
      // Clients the tests run on the nodes.
      packages: ["curl", "bind9-dnsutils"],
      // Never fetched from there: the test bundles it from a local mirror
      // (airgap bundle --files-from test/e2e/mirror).
      files: [
        {
          url: "https://files.example.org/airgap/lab/hello.txt",
          sha256: "ec869b1eafca8fbca25e24ef45114f6aae0b95e5069fb667e380990b5dba7c1e",
        },
      ],
    },
    ntp: { on: "admin" },
    dns: { on: "admin" },
  },
});
