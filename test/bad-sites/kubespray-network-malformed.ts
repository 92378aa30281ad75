// With Kubespray declared: the site's only network is not a CIDR (host bits
// set). One mistake, one error: the hosts on it are not judged against it, and
// the cluster still has the control plane and etcd its hosts declare.
import { defineSite } from "airgap";

export default defineSite({
  name: "ks-bad-cidr",
  domain: "ks-bad-cidr.internal",
  networks: [{ name: "site", cidr: "10.20.0.1/24" }], // <- AG020
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
