// A registry storage folder that is the system's own, and two files that
// would be served at one files_repo path.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "storage",
  domain: "storage.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    registry: {
      on: "admin",
      storage: "/var/lib/", // <- AG085
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    repos: {
      on: "admin",
      files: [
        { url: "https://dl.example.org/tool?version=1.0", sha256: "a".repeat(64) },
        { url: "https://dl.example.org/tool?version=1.1", sha256: "b".repeat(64) }, // <- AG082
        { url: "https://dl.example.org/other", sha256: "c".repeat(64) },
        { url: "https://dl.example.org/other#latest", sha256: "c".repeat(64) }, // <- AG082
      ],
    },
  },
});
