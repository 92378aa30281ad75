// extraVars that would override what airgap writes for Kubespray: the
// runbook, `airgap check` and the bundle would describe another cluster than
// the one Kubespray builds.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "owned",
  domain: "owned.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    dns: { on: "admin" },
    repos: { on: "admin" },
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    kubespray: {
      version: "2.30.0",
      kubernetes: "1.32.8",
      extraVars: {
        registry_host: "registry.owned.internal:5443", // <- AG133
        ntp_enabled: true, // <- AG133
        ntp_servers: ["0.pool.ntp.org iburst"], // <- AG133
        files_repo: "https://repo.owned.internal/other", // <- AG133
        upstream_dns_servers: ["10.20.0.53"], // <- AG133
        kube_image_repo: "registry.owned.internal:5000/mirror", // <- AG133
        kube_proxy_strict_arp: true,
      },
    },
  },
});
