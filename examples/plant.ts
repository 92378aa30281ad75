// A larger site: a factory with separate admin and node networks, two admin
// hosts (time and names on both), three control-plane/etcd members, mixed
// Debian and Ubuntu workers, a CI server that is only a client of the site,
// an internal time source and an internal resolver.
import { defineSite, fromEnv, type Host } from "airgap";

const workers: Host[] = Array.from({ length: 6 }, (_, i) => ({
  name: `worker${i + 1}`,
  address: `10.60.1.${31 + i}`,
  os: i % 2 === 0 ? "debian-12" : "ubuntu-24.04",
  roles: ["worker"],
}));

export default defineSite({
  name: "plant1",
  domain: "plant1.factory.internal",
  networks: [
    { name: "admin", cidr: "10.60.0.0/24", gateway: "10.60.0.1" },
    { name: "nodes", cidr: "10.60.1.0/24", gateway: "10.60.1.1" },
  ],
  ca: { commonName: "Plant 1 infrastructure CA", validityDays: 1825 },
  hosts: [
    { name: "infra1", address: "10.60.0.10", os: "debian-12", roles: ["admin"] },
    { name: "infra2", address: "10.60.0.11", os: "debian-12", roles: ["admin"] },
    // A plain client (no role): the CI server gets time, names, packages and CA trust,
    // and builds Go with the site's module proxy.
    { name: "ci1", address: "10.60.0.21", os: "debian-12", go: true },
    { name: "cp1", address: "10.60.1.11", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp2", address: "10.60.1.12", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "cp3", address: "10.60.1.13", os: "debian-12", roles: ["control-plane", "etcd"], sshUser: "ansible", sshPort: 2222 },
    ...workers,
  ],
  services: {
    ntp: { on: ["infra1", "infra2"], upstream: ["10.60.0.5"] },
    dns: {
      on: ["infra1", "infra2"],
      forwarders: ["10.60.0.53"],
      records: [
        { name: "gitlab", type: "A", value: "10.60.0.20" },
        { name: "git", type: "CNAME", value: "gitlab" },
        { name: "@", type: "TXT", value: "site=plant1" },
        { name: "_ldap._tcp", type: "SRV", value: "0 5 389 infra1" },
      ],
    },
    repos: { on: "infra1", packages: ["curl", "jq", "bind9-dnsutils"], allow: ["admin", "nodes"] },
    registry: {
      on: "infra1",
      port: 5443,
      storage: "/srv/registry",
      users: [
        { name: "ci", password: fromEnv("PLANT1_REGISTRY_CI_PASSWORD"), access: "push" },
        { name: "nodes", password: fromEnv("PLANT1_REGISTRY_NODES_PASSWORD"), access: "pull" },
      ],
    },
    // devpi-server (from the bundle) serves plant/prod, with devpi-web's view
    // of it in a browser; the CI account may upload to it.
    pypi: {
      on: "infra2",
      mode: "devpi",
      web: true,
      rootPassword: fromEnv("PLANT_DEVPI_ROOT_PASSWORD"),
      uploader: { user: "ci", password: fromEnv("PLANT_DEVPI_UPLOAD_PASSWORD") },
      packages: ["jmespath", "netaddr"],
    },
    // Helm charts: a classic repository (https://charts.plant1.factory.internal:8443/) and the
    // same charts in the registry (oci://registry.plant1.factory.internal:5443/charts/<name>).
    helm: {
      on: "infra2",
      allow: ["admin", "nodes"],
      charts: [
        {
          repo: "https://kubernetes.github.io/ingress-nginx",
          name: "ingress-nginx",
          version: "4.11.3",
          images: [
            "registry.k8s.io/ingress-nginx/controller:v1.11.3",
            "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.4",
          ],
        },
        {
          repo: "oci://ghcr.io/prometheus-community/charts",
          name: "prometheus-node-exporter",
          version: "4.39.0",
          images: ["quay.io/prometheus/node-exporter:v1.8.2"],
        },
      ],
    },
    // Go modules (https://goproxy.plant1.factory.internal:8444): these modules and the
    // whole build list of the plant's tools, with sum.golang.org's answers for them.
    goproxy: {
      on: "infra2",
      modules: ["golang.org/x/text@v0.14.0", "github.com/BurntSushi/toml@v1.4.0"],
      goMod: ["tools/go.mod"],
      allow: ["admin"],
    },
    // The site's mail relay (smtp://mail.plant1.factory.internal): the ops
    // mailbox on infra1; the plant's own mail domain goes to its mail server
    // inside the site (ci1 here); nothing is relayed outside.
    mail: { on: "infra1", mailboxes: ["ops"], relay: "ci1", domains: ["factory.example"] },
    // Zabbix on infra2 (not a cluster member): https://monitoring.plant1.factory.internal:8444/
    // from the admin network, agent 2 on every host, alerts mailed through the relay.
    monitoring: {
      on: "infra2",
      allow: ["admin"],
      recipients: ["ops@plant1.factory.internal", "oncall@factory.example"],
      adminPassword: fromEnv("PLANT1_ZABBIX_ADMIN_PASSWORD"),
      databasePassword: fromEnv("PLANT1_ZABBIX_DB_PASSWORD"),
      agentPsk: fromEnv("PLANT1_ZABBIX_AGENT_PSK"),
      backupMaxAgeHours: 26,
    },
    kubespray: {
      version: "2.30.0",
      kubernetes: "1.32.8",
      networkPlugin: "cilium",
      extraVars: { kube_proxy_strict_arp: true },
    },
    // Backups on the CI server (outside the cluster): etcd snapshots every
    // night at 01:30 into restic over SFTP, 7 daily + 4 weekly kept; Velero's
    // values and images (the plant's S3 store holds its backups).
    backups: {
      on: "ci1",
      password: fromEnv("PLANT1_BACKUP_PASSWORD"),
      etcd: { schedule: "*-*-* 01:30:00", retention: { daily: 7, weekly: 4 } },
      // Velero into the plant's S3-compatible store; its images through the site registry.
      velero: {
        endpoint: "https://s3.plant1.factory.internal:9000",
        bucket: "plant1-velero",
        region: "plant1",
        accessKey: fromEnv("PLANT1_S3_ACCESS_KEY"),
        secretKey: fromEnv("PLANT1_S3_SECRET_KEY"),
        image: "docker.io/velero/velero:v1.18.1",
        plugin: "docker.io/velero/velero-plugin-for-aws:v1.14.2",
      },
    },
  },
});
