// Service-state backups that cannot work, each at its line: a schedule systemd
// refuses, a retention keeping nothing, extra paths on a host the site does
// not have, on the backup host itself (lost with it), with no paths, a
// relative path, "/" and a path listed twice.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "backups3",
  domain: "backups3.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "backup1", address: "10.20.0.11", os: "debian-12" },
    { name: "gitlab1", address: "10.20.0.12", os: "debian-12" },
  ],
  services: {
    repos: { on: "admin" },
    backups: {
      on: "backup1",
      password: fromEnv("BACKUP_PASSWORD"),
      state: {
        schedule: "twice a day", // <- AG211
        retention: {
          last: -1, // <- AG212
        },
        extra: [
          { on: "gitlab9", paths: ["/srv/gitlab"] }, // <- AG184
          { on: "backup1", paths: ["/srv/notes"] }, // <- AG183
          { on: "gitlab1", paths: [] }, // <- AG185
          {
            on: "gitlab1",
            paths: [
              "srv/gitlab", // <- AG185
              "/", // <- AG185
              "/srv/gitlab/backups",
              "/srv/gitlab/backups", // <- AG185
            ],
          },
        ],
      },
    },
  },
});
