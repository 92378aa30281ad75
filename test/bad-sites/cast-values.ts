// Values outside their union or of the wrong kind, let through by casts: the
// compiler checks them itself (a cast does not change what it accepts).
import { defineSite } from "airgap";

const settings = JSON.parse('{"mode": "mirror", "tls": "no", "python": "yes", "masquerade": "true"}');

export default defineSite({
  name: "casts",
  domain: "casts.internal",
  networks: [
    { name: "site", cidr: "10.20.0.0/24" },
    { name: "dmz", cidr: "10.22.0.0/24", masquerade: settings.masquerade }, // <- AG131
  ],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"], python: settings.python }, // <- AG131
  ],
  services: {
    repos: { on: "admin", tls: settings.tls }, // <- AG131
    pypi: { on: "admin", mode: settings.mode }, // <- AG131
  },
});
