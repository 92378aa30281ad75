// extraVars that contradict the site's own fields: the compiler's variables
// (airgap_*), an add-on turned off that addons lists, the Kubernetes version
// and network plugin set twice.
import { defineSite } from "airgap";

export default defineSite({
  name: "contradict",
  domain: "contradict.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    kubespray: {
      version: "2.30.0",
      kubernetes: "1.32.8",
      addons: ["helm"],
      extraVars: {
        airgap_registry_host: "registry.example.org", // <- AG133
        helm_enabled: false, // <- AG133
        kube_version: "1.31.4", // <- AG099
        kube_network_plugin: "flannel", // <- AG099
      },
    },
  },
});
