// A helm service whose charts are wrong: a reference that is neither a chart
// repository nor an OCI one, a version range, a digest that is not sha256,
// the same chart and version from two sources, an image without a tag, a
// keyring that does not exist; and
// no registry to push the charts into.
import { defineSite } from "airgap";

export default defineSite({
  name: "helm",
  domain: "helm.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    helm: {
      on: "admin", // <- AG174
      charts: [
        { repo: "ftp://charts.example.org/stable", name: "web", version: "1.0.0" }, // <- AG170
        { repo: "https://charts.example.org/stable", name: "api", version: "^2.1" }, // <- AG171
        { repo: "https://charts.example.org/stable", name: "db", version: "3.0.0", digest: "md5:0123456789abcdef" }, // <- AG172
        { repo: "https://charts.example.org/stable", name: "cache", version: "1.2.3" },
        { repo: "oci://registry.example.org/charts", name: "cache", version: "1.2.3" }, // <- AG173
        { repo: "oci://registry.example.org/charts", name: "queue", version: "0.4.0", images: ["docker.io/library/rabbitmq"] }, // <- AG174
        { repo: "oci://registry.example.org/charts", name: "signed", version: "1.0.0", keyring: "no-such-keyring.gpg" }, // <- AG172
      ],
    },
  },
});
