// With Kubespray declared: a site without hosts, its time service placed on
// an admin host it does not declare.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-no-hosts",
  domain: "ks-no-hosts.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [],
  services: {
    ntp: { on: "admin" }, // <- AG040
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" }, // <- AG050 AG051
  },
});
