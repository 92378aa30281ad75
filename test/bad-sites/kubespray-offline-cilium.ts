// Kubespray 2.28.1 cannot install Cilium offline; a CRI-O version it pins no
// checksum for, and a setting airgap cannot follow.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "cilium",
  domain: "cilium.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "pusher", password: fromEnv("PUSH_PASSWORD"), access: "push" },
        { name: "puller", password: fromEnv("PULL_PASSWORD"), access: "pull" },
      ],
    },
    kubespray: {
      version: "2.28.1",
      kubernetes: "1.32.8",
      containerRuntime: "crio",
      networkPlugin: "cilium", // <- AG120
      extraVars: {
        crio_version: "9.9.9", // <- AG099
        coredns_version: "1.11.1", // <- AG099
        kube_version: "1.32.7", // <- AG099
      },
    },
  },
});
