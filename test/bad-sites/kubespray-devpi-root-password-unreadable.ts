// With Kubespray declared: a devpi index whose root password refers to a
// vault file that does not exist.
import { defineSite, fromVault } from "airgap";

export default defineSite({
  name: "ks-devpi-vault",
  domain: "ks-devpi-vault.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    pypi: {
      on: "admin",
      mode: "devpi",
      rootPassword: fromVault("no-such-vault.yml", "devpi_root_password"), // <- AG072
    },
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
