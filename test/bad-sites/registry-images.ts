// Images the registry cannot carry: malformed, without a tag, listed twice,
// two upstream images on one name in the site registry.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "images",
  domain: "images.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
      images: [
        "quay.io/prometheus/node-exporter:v1.8.2",
        "Quay.io/UPPER/case:1", // <- AG083
        "registry.k8s.io/pause", // <- AG083
        "quay.io/prometheus/node-exporter:v1.8.2", // <- AG083
        "ghcr.io/prometheus/node-exporter:v1.8.2", // <- AG083
        "nginx:1.27.3",
        "docker.io/library/busybox:1.37@sha256:0000000000000000000000000000000000000000000000000000000000000000",
      ],
    },
  },
});
