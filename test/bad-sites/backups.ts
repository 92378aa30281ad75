// Backups that cannot work: the backup host is an etcd member (its snapshots
// would be lost with the cluster), the etcd schedule is not a systemd
// calendar expression, a retention rule keeps zero snapshots, and Velero has
// no S3 endpoint (nor a site registry to serve its images from).
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "backups",
  domain: "backups.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "10.20.0.21", os: "debian-12", roles: ["control-plane", "etcd", "worker"] },
  ],
  services: {
    repos: { on: "admin" },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
    backups: {
      on: "cp1", // <- AG210
      password: fromEnv("BACKUP_PASSWORD"),
      etcd: {
        schedule: "every night at two", // <- AG211
        retention: {
          daily: 0, // <- AG212
          weekly: 4,
        },
      },
      velero: { // <- AG215 AG218
        bucket: "velero",
        image: "docker.io/velero/velero:v1.18.1",
        plugin: "docker.io/velero/velero-plugin-for-aws:v1.14.2",
        accessKey: fromEnv("S3_ACCESS_KEY"),
        secretKey: fromEnv("S3_SECRET_KEY"),
      } as never,
    },
  },
});
