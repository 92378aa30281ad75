/**
 * Services placed on the site's admin host(s), and the Kubernetes deployment.
 * `on` names hosts of the site that have the `admin` role.
 */
import type { Secret } from "./secrets.js";
import type { Scalar } from "./site.js";

/** Time for the whole site (chrony). */
export interface NtpService {
  /** Admin host(s) serving time. With two or more, they form an orphan-mode group. */
  on: string | string[];
  /**
   * Time sources reachable inside the site (a GPS appliance, a corporate NTP server):
   * host names or addresses.
   * @default [] (serve the local clock at `localStratum`)
   */
  upstream?: string[];
  /**
   * Networks (by name) allowed to query the servers.
   * @default every network of the site
   */
  allow?: string[];
  /**
   * Stratum the servers announce when they serve their own clock.
   * @default 8
   */
  localStratum?: number;
}

/** Record types the site's zone accepts from the site file. */
export type DnsRecordType = "A" | "AAAA" | "CNAME" | "TXT" | "SRV" | "MX";

/** An extra DNS record. */
export interface DnsRecord {
  /** Name relative to the site domain (`"gitlab"`), `"@"` for the apex, or a fully qualified name ending in `.`. */
  name: string;
  /** Record type. */
  type: DnsRecordType;
  /** Record data as in a zone file (`"10.20.0.5"`, `"registry"`, `"10 mail"`). */
  value: string;
  /**
   * Time to live in seconds.
   * @default the zone's `ttl`
   */
  ttl?: number;
}

/** Names for the whole site (BIND). */
export interface DnsService {
  /** Admin host(s) serving DNS: the first is the primary, the others secondaries (zone transfer with TSIG). */
  on: string | string[];
  /**
   * Resolvers inside the site that answer for names outside it. Without any, the
   * servers do not recurse and names outside the site get REFUSED.
   * @default []
   */
  forwarders?: string[];
  /**
   * Networks (by name) allowed to query.
   * @default every network of the site
   */
  allow?: string[];
  /**
   * Extra records in the site's zone (hosts and service names are added already).
   * @default []
   */
  records?: DnsRecord[];
  /**
   * Default time to live of the site's zones, in seconds.
   * @default 3600
   */
  ttl?: number;
}

/** A plain file carried into the site and served under Kubespray's `files_repo`. */
export interface FileArtifact {
  /** Upstream URL; served at `files_repo/<host>/<path>`. */
  url: string;
  /** Expected SHA-256 of the file, hex. */
  sha256: string;
}

/** OS package repositories and the Kubespray file server (nginx). */
export interface ReposService {
  /** Admin host serving the repositories. */
  on: string;
  /**
   * Serve over HTTPS with a certificate from the site CA. `false` is refused
   * unless `plainHttp` says it is meant: over plain HTTP anyone on the path
   * can change Kubespray's binaries under files_repo (only OS packages are
   * signed).
   * @default true
   */
  tls?: boolean;
  /**
   * Serve without TLS on purpose: required beside `tls: false`, refused
   * without it. Even then the APT archive key reaches the hosts over SSH
   * (read on the repository server), never over plain HTTP.
   * @default false
   */
  plainHttp?: boolean;
  /**
   * TCP port.
   * @default 443 with TLS, 80 without
   */
  port?: number;
  /**
   * Extra OS packages carried into the site for the hosts (names as the OS knows them).
   * @default []
   */
  packages?: string[];
  /**
   * Plain files served under `files_repo` (Kubespray's binaries are added by the `kubespray` service).
   * @default []
   */
  files?: FileArtifact[];
  /**
   * Networks (by name) allowed to fetch.
   * @default every network of the site
   */
  allow?: string[];
  /**
   * The public key bundles must be signed with: path of the `airgap-bundle.pub`
   * made by `airgap keygen`, relative to the site file. The admin play refuses
   * a bundle whose `manifest.json.sig` does not verify against it, and any
   * bundle while the site names no key.
   * @default undefined (every bundle is refused)
   */
  trustedKey?: string;
}

/** An account of the site's registry. */
export interface RegistryUser {
  /** User name. */
  name: string;
  /** Password, by reference. */
  password: Secret;
  /** `push` may push and pull; `pull` may only pull. */
  access: "push" | "pull";
}

/** The site's container registry (distribution), with TLS and authentication. */
export interface RegistryService {
  /** Admin host running the registry. */
  on: string;
  /**
   * TCP port.
   * @default 5000
   */
  port?: number;
  /**
   * Storage folder on the admin host.
   * @default "/var/lib/docker-registry"
   */
  storage?: string;
  /** Accounts: at least one `push` and one `pull` account. */
  users: RegistryUser[];
  /**
   * Extra images to carry into the site, as `registry/path:tag`.
   * @default []
   */
  images?: string[];
  /**
   * Networks (by name) allowed to connect.
   * @default every network of the site
   */
  allow?: string[];
}

/**
 * Where the bundle's Python packages come from: an index URL, a local
 * wheelhouse folder, or both (pip looks in the index and the folder:
 * `--index-url URL --find-links DIR`).
 */
export type PypiSource = { index: string; wheelhouse?: string } | { wheelhouse: string; index?: string };

/** devpi mode: the one account, besides root, allowed to upload to the site's index. */
export interface PypiUploader {
  /** devpi user name (letters, digits, `.`, `_`, `-`; not `root`). */
  user: string;
  /** Its password, by reference (12 characters or more: the playbook refuses a shorter one). */
  password: Secret;
}

/** The site's Python package index. */
export interface PypiService {
  /** Admin host serving the index. */
  on: string;
  /**
   * `static`: a PEP 503 index served by nginx; `devpi`: a devpi-server.
   * @default "static"
   */
  mode?: "static" | "devpi";
  /**
   * TCP port (HTTPS).
   * @default 3141
   */
  port?: number;
  /**
   * Requirements carried into the site (`"requests==2.32.3"`, `"jinja2"`).
   * @default []
   */
  packages?: string[];
  /**
   * Where `airgap bundle` gets the packages and their dependencies: a PEP 503
   * index (`{ index: "https://pypi.org/simple/" }`, another index or a proxy
   * the bastion reaches), or a local folder of wheels and sdists
   * (`{ wheelhouse: "wheels" }`, relative to the site file; pip's
   * `--no-index --find-links`).
   * @default { index: "https://pypi.org/simple/" }
   */
  source?: PypiSource;
  /**
   * devpi's root password, by reference (required with `mode: "devpi"`; 12
   * characters or more: the playbook refuses a shorter one). Set when devpi's
   * server folder is first initialised; never on a command line.
   * @default undefined
   */
  rootPassword?: Secret;
  /**
   * devpi mode: the index holding the site's packages, `user/name`. It has no
   * upstream (no mirror of PyPI) and is non-volatile: a package a newer
   * bundle no longer lists stays installable (docs/pypi.md).
   * @default "<site name>/prod"
   */
  index?: string;
  /**
   * devpi mode: the account allowed to upload to the index besides root
   * (`devpi login`, `devpi upload`). Anonymous uploads are refused.
   * @default none: only the playbook, as root, uploads (the bundle's packages)
   */
  uploader?: PypiUploader;
  /**
   * devpi mode: also serve devpi-web, devpi's web view (browse and search the
   * index in a browser at `https://pypi.<domain>:<port>/`). `airgap bundle`
   * carries devpi-web and its dependencies; pyramid-chameleon, which PyPI
   * has as an sdist only, is built into a wheel on the bastion (the manifest
   * says so, with the sdist's SHA-256: docs/pypi.md).
   * @default false
   */
  web?: boolean;
  /**
   * Networks (by name) allowed to connect.
   * @default every network of the site
   */
  allow?: string[];
}

/**
 * A Helm chart carried into the site: from a classic chart repository
 * (`repo` an `https://` URL, its `index.yaml` names the chart) or from an OCI
 * registry (`repo` an `oci://host/path` reference; the chart is
 * `<repo>/<name>`), at one exact version.
 */
export interface HelmChart {
  /**
   * Where `airgap bundle` pulls the chart on the bastion: a classic repository
   * (`"https://charts.example.org/stable"`) or an OCI one
   * (`"oci://registry.example.org/charts"`, the chart being `<repo>/<name>`).
   */
  repo: string;
  /** The chart's name (`"ingress-nginx"`). */
  name: string;
  /** One exact SemVer version (`"4.11.3"`); ranges (`"^4.11"`, `"4.x"`, `">=4"`) are refused. */
  version: string;
  /**
   * SHA-256 of the chart's packaged archive (`.tgz`, as `helm pull` writes it
   * and as a classic `index.yaml` and an OCI registry name it):
   * `"sha256:<64 hex digits>"`. `airgap bundle` refuses other bytes.
   * @default undefined (the bytes first pulled are kept; a classic repository's own index digest is checked)
   */
  digest?: string;
  /**
   * A GnuPG public keyring (a file, relative to the site file; `gpg --export
   * KEY > keyring.gpg`) holding the chart publisher's key: `airgap bundle`
   * then pulls with `helm pull --verify` and refuses a chart whose provenance
   * file is missing or not signed by it.
   * @default undefined (a published provenance file is carried and its recorded SHA-256 checked against the archive; its signature is not checked)
   */
  keyring?: string;
  /**
   * Images the chart runs, carried and pushed into the site registry
   * (`"registry.k8s.io/ingress-nginx/controller:v1.11.3"`). `airgap bundle`
   * renders the chart with `helm template` (its default values) and refuses
   * to go on while it renders an image neither listed here nor in `exclude`.
   * @default []
   */
  images?: string[];
  /**
   * Images the rendered chart names that the site does not carry (an
   * optional part it never turns on), as rendered (`"docker.io/library/busybox:1.36"`).
   * @default []
   */
  exclude?: string[];
}

/**
 * Helm charts inside the site: a classic chart repository (a static
 * `index.yaml` and the charts, served by nginx over TLS from the site CA) and
 * the same charts as OCI artifacts in the site registry (`charts/<name>`).
 * Needs `services.registry` (docs/helm.md).
 */
export interface HelmService {
  /** Admin host serving the chart repository. */
  on: string;
  /**
   * TCP port (HTTPS) of the classic repository, `https://charts.<domain>:<port>/`.
   * @default 8443
   */
  port?: number;
  /** The charts to carry. */
  charts: HelmChart[];
  /**
   * Networks (by name) allowed to fetch.
   * @default every network of the site
   */
  allow?: string[];
}

/**
 * The site's mail relay (Postfix, from Debian's packages carried in the
 * bundle): it accepts mail only from the site's networks (`allow`), and only
 * for addresses inside the site: the site's domain (delivered into
 * `mailboxes` on the relay host, or handed to `relay`) and the `domains` the
 * site declares as delivered inside by `relay`. It relays nowhere else
 * (docs/mail.md).
 */
export interface MailService {
  /** Admin host running the relay, `mail.<domain>`. */
  on: string;
  /**
   * SMTP port (plain SMTP with STARTTLS, certificate from the site CA).
   * @default 25
   */
  port?: number;
  /**
   * Mailboxes on the relay host, by local part (`"ops"` is
   * `ops@<domain>`): Maildir folders under `/var/mail/airgap/<local part>/`.
   * With mailboxes the relay keeps the site's domain itself (other addresses
   * of it are refused).
   * @default [] (with `relay`: every address of the site's domain is handed to it)
   */
  mailboxes?: string[];
  /**
   * A mail server inside the site that takes the site's mail the relay does
   * not keep itself: the site's domain when there are no `mailboxes`, and
   * `domains`. A host of the site (its name) or an address inside the site's
   * networks, with `:port` when not 25.
   * @default undefined (only `mailboxes` are delivered; other addresses are refused)
   */
  relay?: string;
  /**
   * Mail domains besides the site's own that `relay` delivers inside the
   * site (the plant's own mail domain, whose server is inside the gap).
   * Monitoring may send alerts to them. Needs `relay`.
   * @default []
   */
  domains?: string[];
  /**
   * Networks (by name) allowed to send mail through the relay.
   * @default every network of the site
   */
  allow?: string[];
}

/**
 * How many restic snapshots to keep (`restic forget --keep-last/--keep-hourly/
 * --keep-daily/--keep-weekly/--keep-monthly/--keep-yearly`, then `--prune`),
 * applied after each backup. Each number given is a whole number, 1 or more;
 * a snapshot kept by any rule stays.
 */
export interface BackupRetention {
  /** Keep the newest N snapshots. @default undefined */
  last?: number;
  /** Keep the newest snapshot of each of the last N hours that have one. @default undefined */
  hourly?: number;
  /** Keep the newest snapshot of each of the last N days that have one. @default undefined */
  daily?: number;
  /** Keep the newest snapshot of each of the last N weeks that have one. @default undefined */
  weekly?: number;
  /** Keep the newest snapshot of each of the last N months that have one. @default undefined */
  monthly?: number;
  /** Keep the newest snapshot of each of the last N years that have one. @default undefined */
  yearly?: number;
}

/** Scheduled snapshots of the cluster's etcd (`etcdctl snapshot save` on one healthy member, into restic). */
export interface EtcdBackup {
  /**
   * When the snapshot is taken: a systemd calendar expression (`OnCalendar=`,
   * checked as `systemd-analyze calendar` reads it): `"daily"`,
   * `"*-*-* 02:30:00"`, `"Mon..Fri 01:00"`, `"hourly"`.
   * @default "daily"
   */
  schedule?: string;
  /**
   * What `restic forget --prune` keeps after each backup.
   * @default { daily: 7, weekly: 4 }
   */
  retention?: BackupRetention;
  /**
   * When `restic check` verifies the repository (a systemd calendar expression).
   * @default "weekly"
   */
  check?: string;
}

/** Paths of one host that the service-state backups keep besides what the site's services declare. */
export interface StateBackupPaths {
  /** The host holding them (by name); not the backup host. */
  on: string;
  /**
   * Absolute, normalised paths of folders or files, stored as they are, read
   * while their service runs: list only what a live copy keeps sound (or what
   * the service's own dump, run by you before the schedule, wrote).
   */
  paths: string[];
}

/**
 * Backups of the state the site's services keep and no bundle rebuilds
 * (docs/backups.md "Service state"): devpi's users, indexes and uploads
 * (through `devpi-export`), the site CA's private key, the package
 * repositories' signing key, Kubernetes' and etcd's certificate authorities.
 * Each host holding some backs it up on a systemd timer into a restic
 * repository of its own on the backup host (its own SFTP account and key).
 */
export interface StateBackup {
  /**
   * When each host backs its state up: a systemd calendar expression (`OnCalendar=`).
   * @default "daily"
   */
  schedule?: string;
  /**
   * What `restic forget --prune` keeps after each backup, per host and per kind of state.
   * @default { daily: 7, weekly: 4 }
   */
  retention?: BackupRetention;
  /**
   * When `restic check` verifies each host's repository (a systemd calendar expression).
   * @default "weekly"
   */
  check?: string;
  /**
   * More paths to keep, on hosts of the site (not the backup host): state of
   * your own that airgap does not know about.
   * @default []
   */
  extra?: StateBackupPaths[];
}

/**
 * Velero for the cluster's resources and persistent volumes, storing into
 * the site's S3-compatible object store (docs/backups.md).
 */
export interface VeleroBackup {
  /** The site's S3 endpoint, an `https://` URL (`"https://s3.plant1.internal:9000"`); its certificate from the site CA. */
  endpoint: string;
  /** Bucket Velero writes into (an S3 bucket name). */
  bucket: string;
  /**
   * The S3 region the store expects.
   * @default "us-east-1"
   */
  region?: string;
  /** The S3 access key id, by reference. */
  accessKey: Secret;
  /** The S3 secret access key, by reference. */
  secretKey: Secret;
  /**
   * When Velero's schedule backs up the cluster: a cron expression of five fields, as Velero's `Schedule` takes it.
   * @default "0 3 * * *"
   */
  schedule?: string;
  /**
   * How long each Velero backup is kept, as Velero writes durations (`"720h"`).
   * @default "720h"
   */
  ttl?: string;
  /**
   * Velero's server image, carried into the bundle and pushed into the site
   * registry: `"docker.io/velero/velero:v1.18.1"` (a tag; `@sha256:…` pins it).
   */
  image: string;
  /**
   * The object-store plugin image for S3-compatible stores, matching `image`'s
   * release (Velero's compatibility table): `"docker.io/velero/velero-plugin-for-aws:v1.14.2"`.
   */
  plugin: string;
  /**
   * Back up pods' volumes with Velero's file-system backup (its node agent on every node).
   * @default true
   */
  fileSystemBackup?: boolean;
}

/**
 * Backups of the site (issue 21): a host holding an encrypted, deduplicated
 * restic repository reached over SFTP by a dedicated account limited to it;
 * scheduled etcd snapshots from the cluster's etcd members; optionally
 * Velero. See docs/backups.md.
 */
export interface BackupsService {
  /** The host holding the backups: a host of the site that is not a Kubernetes node (not control-plane, worker or etcd). */
  on: string;
  /** The restic repository's password, by reference (it encrypts the backups; keep it outside the site too: without it nothing can be restored). */
  password: Secret;
  /**
   * Folder on the backup host under which the repositories live (the SFTP
   * account's chroot; absolute, owned by root).
   * @default "/srv/airgap-backup"
   */
  path?: string;
  /**
   * etcd snapshots.
   * @default {} (daily, keep 7 daily and 4 weekly) when the site has etcd members
   */
  etcd?: EtcdBackup;
  /**
   * Backups of the services' own state (devpi, the site CA's key, the
   * repositories' signing key, Kubernetes' CAs); `false` turns them off
   * (back that state up by other means then).
   * @default {} (daily, keep 7 daily and 4 weekly) when a service of the site keeps state
   */
  state?: StateBackup | false;
  /** @default undefined (no Velero) */
  velero?: VeleroBackup;
}

/**
 * Go modules inside the site (issue 20): a Go module proxy (the GOPROXY
 * protocol as static files: `<module>/@v/list`, `.info`, `.mod`, `.zip`,
 * `@latest`) and the checksum database's answers for those modules
 * (`/sumdb/sum.golang.org/...`, captured on the bastion), served by nginx over
 * TLS from the site CA, so that `go` inside keeps `GOSUMDB=sum.golang.org` on
 * (docs/goproxy.md). Hosts with `go: true` are pointed at it.
 */
export interface GoproxyService {
  /** Admin host serving the proxy. */
  on: string;
  /**
   * TCP port (HTTPS): `GOPROXY=https://goproxy.<domain>:<port>`.
   * @default 8444
   */
  port?: number;
  /**
   * Modules to carry, `"<module path>@<version>"` with an exact version as
   * the go command writes it (`"golang.org/x/text@v0.14.0"`,
   * `"github.com/pkg/errors@v0.9.1"`, a pseudo-version, `"…@v2.0.0+incompatible"`).
   * Each is carried with its whole build list (what `go get` of it alone
   * selects), so a program requiring it builds inside.
   * @default []
   */
  modules?: string[];
  /**
   * `go.mod` files of the site's own projects, relative to the site file: the
   * whole build list of each (`go mod download all` on the bastion) is carried.
   * Replacements by a local folder cannot be carried (refused at compile).
   * @default []
   */
  goMod?: string[];
  /**
   * Networks (by name) allowed to fetch.
   * @default every network of the site
   */
  allow?: string[];
}

/** A chat server's incoming webhook inside the site. */
export interface MonitoringWebhook {
  /**
   * The webhook's URL without its secret part (`"https://chat.plant1.internal/hooks/"`):
   * `http(s)`, its host a name of the site's domain or an address in the site's networks.
   */
  url: string;
  /**
   * The secret part appended to `url` (Mattermost's hook key), by reference.
   * @default undefined (the URL alone)
   */
  key?: Secret;
}

/**
 * Monitoring with alerts that stay inside (Zabbix 6.0 LTS from Debian's
 * packages, with PostgreSQL): the server and its web frontend on a host
 * outside the Kubernetes cluster, Zabbix agent 2 on every host (PSK, the
 * server only), problems and recoveries mailed through the site's relay
 * (`services.mail`) and, when declared, posted to an internal chat webhook
 * (docs/monitoring.md).
 */
export interface MonitoringService {
  /** Admin host running the Zabbix server, its database and its frontend; not a Kubernetes member. */
  on: string;
  /**
   * HTTPS port of the web frontend (the shared nginx front, TLS from the
   * site CA), `https://monitoring.<domain>:<port>/`.
   * @default 8445
   */
  port?: number;
  /**
   * Who gets the alerts: mail addresses of the site's domain (or of a
   * domain `services.mail.domains` delivers inside the site).
   */
  recipients: string[];
  /**
   * An incoming webhook of a chat server inside the site (Mattermost's
   * `https://chat.<domain>/hooks/<key>`): a second media type, which posts
   * `{"text": …}` for each problem and recovery.
   * @default undefined (mail only)
   */
  webhook?: MonitoringWebhook;
  /**
   * Networks (by name) allowed to open the web frontend.
   * @default every network of the site
   */
  allow?: string[];
  /** The Zabbix `Admin` account's password, by reference (8 characters or more). */
  adminPassword: Secret;
  /** The Zabbix database user's password, by reference. */
  databasePassword: Secret;
  /**
   * The site's agent PSK, by reference: 32 to 512 hexadecimal digits
   * (`openssl rand -hex 32`). Every agent and the server use it; the agents
   * answer the server's address only.
   */
  agentPsk: Secret;
  /**
   * How old the last good backup may grow before a problem is raised, in
   * hours: the etcd snapshots (the newest from any member) and each host's
   * service state, as the backups record them on the backup host
   * (`<backups.path>/status/<repository>/last-success`). Set it above the
   * longest backup schedule's period.
   * @default 26 (when the site has backups)
   */
  backupMaxAgeHours?: number;
}

/** Container runtimes Kubespray can install. */
export type ContainerRuntime = "containerd" | "crio";

/** Network plugins Kubespray can install. */
export type NetworkPlugin = "calico" | "cilium" | "flannel" | "kube-ovn" | "kube-router";

/** Where Kubespray runs etcd: as a service from the etcd binaries (`host`), or as static pods set up by kubeadm. */
export type EtcdDeployment = "host" | "kubeadm";

/**
 * Optional parts of the cluster Kubespray installs; each turns on its Kubespray
 * setting (`helm` → `helm_enabled: true`) and adds its files and images to the bundle.
 */
export type KubesprayAddon =
  | "helm"
  | "metrics-server"
  | "local-path-provisioner"
  | "local-volume-provisioner"
  | "cert-manager"
  | "metallb"
  | "argocd"
  | "gateway-api"
  | "prometheus-operator-crds"
  | "registry"
  | "kube-vip"
  | "multus"
  | "csi-snapshot-controller"
  | "cinder-csi"
  | "aws-ebs-csi"
  | "ingress-alb"
  | "hubble"
  | "calico-typha"
  | "calico-apiserver"
  | "node-feature-discovery"
  | "netchecker"
  | "gvisor"
  | "kata-containers"
  | "crun"
  | "youki"
  | "ingress-nginx"
  | "dashboard";

/** The Kubernetes deployment, done by Kubespray against the same inventory. */
export interface KubesprayConfig {
  /** Kubespray release, for example `"2.30.0"`; airgap ships the lists of the releases it knows. */
  version: string;
  /** Kubernetes version, for example `"1.32.8"`; one the Kubespray release supports. */
  kubernetes: string;
  /**
   * Container runtime.
   * @default "containerd"
   */
  containerRuntime?: ContainerRuntime;
  /**
   * Network plugin.
   * @default "calico"
   */
  networkPlugin?: NetworkPlugin;
  /**
   * How etcd runs.
   * @default "host"
   */
  etcdDeployment?: EtcdDeployment;
  /**
   * Optional parts to install (their Kubespray settings are turned on).
   * @default []
   */
  addons?: KubesprayAddon[];
  /**
   * Carry every file and image this Kubespray release knows for the Kubernetes
   * version, enabled or not (for changing the cluster's settings later without a new bundle).
   * @default false (exactly what the cluster needs)
   */
  everything?: boolean;
  /**
   * A local Kubespray checkout (relative to the site file) to take artifact lists from.
   * @default undefined (the shipped catalogue)
   */
  checkout?: string;
  /**
   * A catalogue file (airgap's format, written by `npm run kubespray:catalogue`;
   * relative to the site file) to take the artifact lists from: for a release
   * airgap does not ship yet, or a reviewed variant of a shipped one. Not with `checkout`.
   * @default undefined (the shipped catalogue of `version`)
   */
  catalogue?: string;
  /**
   * Extra Kubespray variables, written as they are (no secrets here).
   * @default {}
   */
  extraVars?: Record<string, Scalar | Scalar[]>;
}

/** Everything the admin hosts serve, and the Kubernetes deployment. */
export interface Services {
  /** @default undefined (no NTP service) */
  ntp?: NtpService;
  /** @default undefined (no DNS service) */
  dns?: DnsService;
  /** @default undefined (no package repositories) */
  repos?: ReposService;
  /** @default undefined (no registry) */
  registry?: RegistryService;
  /** @default undefined (no Python index) */
  pypi?: PypiService;
  /** @default undefined (no Helm chart repository) */
  helm?: HelmService;
  /** @default undefined (no mail relay) */
  mail?: MailService;
  /** @default undefined (no Go module proxy) */
  goproxy?: GoproxyService;
  /** @default undefined (no monitoring) */
  monitoring?: MonitoringService;
  /** @default undefined (no Kubernetes deployment) */
  kubespray?: KubesprayConfig;
  /** @default undefined (no backups) */
  backups?: BackupsService;
}
