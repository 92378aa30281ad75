// Host variables that disagree with what airgap writes from the host's own
// fields (Ansible would connect to one address while DNS, the runbook and
// Kubespray use another).
import { defineSite } from "airgap";

export default defineSite({
  name: "hostvars",
  domain: "hostvars.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }, { name: "storage", cidr: "10.40.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"], vars: {
      ansible_host: "10.20.0.99", // <- AG134
      ansible_port: 2222, // <- AG134
      airgap_os: "ubuntu-24.04", // <- AG134
    } },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"],
      interfaces: [{ network: "storage", address: "10.40.0.21" }],
      vars: { ip: "10.40.0.21", access_ip: "10.20.0.22", ansible_host: "10.20.0.21", node_labels_zone: "a" } }, // <- AG134
  ],
  services: {},
});
