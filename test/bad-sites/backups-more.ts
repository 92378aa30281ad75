// More backups that cannot work, each at its line: a backup host the site
// does not have, no password, a relative folder, a check schedule systemd
// refuses, a retention with no rule, etcd backups on a site without etcd,
// and Velero on a site without a cluster or registry, over plain HTTP, a plugin image without a tag, with a bucket
// name S3 refuses, a schedule that is not cron and a ttl that is not a duration.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "backups2",
  domain: "backups2.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    backups: {
      on: "backup9", // <- AG210 AG213
      path: "backups", // <- AG214
      etcd: { // <- AG214
        check: "Mon..Fri 25:00", // <- AG211
        retention: {}, // <- AG212
      },
      velero: { // <- AG218 AG218
        endpoint: "http://s3.backups2.internal:9000", // <- AG215
        bucket: "Velero_Backups", // <- AG216
        accessKey: fromEnv("S3_ACCESS_KEY"),
        secretKey: fromEnv("S3_SECRET_KEY"),
        schedule: "0 3 * *", // <- AG217
        ttl: "30 days", // <- AG217
        image: "docker.io/velero/velero:v1.18.1",
        plugin: "docker.io/velero/velero-plugin-for-aws", // <- AG216
      },
    } as never,
  },
});
