// With Kubespray declared: a host role the DSL does not know. The roles come
// from an exported inventory as plain strings and are cast to the DSL's type,
// so the type check lets "master" through.
import { defineSite, type HostRole } from "airgap";

const exported: string[] = ["control-plane", "etcd", "worker", "master"]; // <- AG038

export default defineSite({
  name: "ks-unknown-role",
  domain: "ks-unknown-role.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: exported as HostRole[] },
  ],
  services: {
    ntp: { on: "admin" },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
