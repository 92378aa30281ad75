// The cluster's own ranges and DNS domain against the site's: a site network
// inside Kubespray's default service range, pod ranges that overlap, and a
// site domain inside the cluster's.
import { defineSite } from "airgap";

export default defineSite({
  name: "ranges",
  domain: "plant.cluster.local", // <- AG145
  networks: [
    { name: "site", cidr: "10.20.0.0/24" },
    { name: "lab", cidr: "10.233.10.0/24" }, // <- AG145
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    kubespray: {
      version: "2.30.0",
      kubernetes: "1.32.8",
      extraVars: {
        kube_pods_subnet: "10.20.0.0/16", // <- AG145
      },
    },
  },
});
