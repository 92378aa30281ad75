/**
 * Backups (issue 21): a backup host holding restic repositories under a
 * folder that a dedicated SFTP-only account is chrooted to (roles/backup_server),
 * and scheduled etcd snapshots from the cluster's etcd members into the
 * `etcd` repository (roles/etcd_backup: a systemd timer running
 * files/airgap_etcd_backup.py), with a compiled `playbooks/restore-etcd.yml`;
 * optionally Velero's settings. docs/backups.md.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { createHash } from "node:crypto";
import type { BackupRetention, BackupsService, EtcdBackup, Site, StateBackup, VeleroBackup } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import { isKubernetes, resolveSecret, type CoreModel, type HostModel, type SecretModel } from "../model/site.js";
import { secretExpression, type Component, type FreshnessExport, type Linked, type LinkedState, type PortClaim, type StateExport } from "./component.js";
import { clientNetwork } from "../link.js";
import { imageModel, type RegistryImageModel } from "./registry.js";
import { flag } from "../model/context.js";
import { GENERATED, toYaml } from "../emit/yaml.js";

/** restic's `forget` rules, by the DSL's names (`daily` → `--keep-daily`). */
export const RETENTION_KEYS = ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const;
export type RetentionModel = Partial<Record<(typeof RETENTION_KEYS)[number], number>>;

export interface EtcdBackupModel {
  /** The etcd members, in inventory order (each runs the timer; the first healthy one backs up). */
  members: HostModel[];
  /** systemd calendar expression of the snapshot timer. */
  schedule: string;
  /** systemd calendar expression of the `restic check` timer. */
  check: string;
  retention: RetentionModel;
  /** How Kubespray runs etcd: its layout (certificates, configuration) follows. */
  layout: "host" | "kubeadm";
}

export interface VeleroModel {
  endpoint: string;
  bucket: string;
  region: string;
  accessKey: SecretModel;
  secretKey: SecretModel;
  /** Five-field cron expression. */
  schedule: string;
  ttl: string;
  /** Velero's server image and its S3 plugin's, as carried into the site registry. */
  image: RegistryImageModel;
  plugin: RegistryImageModel;
  fileSystemBackup: boolean;
}

/** The service-state backups' settings (`backups.state`); which hosts and paths comes from the linked site. */
export interface StateBackupModel {
  schedule: string;
  check: string;
  retention: RetentionModel;
  /** Whether the site file wrote `state: {…}` (then a site with no state to keep is an error, AG182). */
  explicit: boolean;
}

export interface BackupsModel {
  host: HostModel;
  password: SecretModel;
  /** Absolute folder on the backup host: the SFTP accounts' chroot; each repository a folder under it. */
  path: string;
  etcd?: EtcdBackupModel;
  /** Undefined: `state: false`. */
  state?: StateBackupModel;
  velero?: VeleroModel;
  /** The site file's value, where whole-site errors point. */
  config: BackupsService;
}

/** The SFTP-only account on the backup host the etcd members log in as. */
export const BACKUP_USER = "airgap-backup";
/** The group of every backup account: sshd's `Match Group` limits its members to SFTP in the chroot. */
export const BACKUP_GROUP = "airgap-backup";
/** The etcd repository, as a path inside the accounts' chroot. */
export const ETCD_REPOSITORY = "/etcd";
/** Folder of the accounts' authorized keys on the backup host (root's, outside the chroot): one file per account. */
export const BACKUP_KEYS_DIR = "/etc/airgap/backup-server/keys";
/** Folder inside the chroot where each repository's account records its last good backup (`status/<repository>/last-success`). */
export const STATUS_DIR = "status";

/**
 * The backup host's account of a host's service-state repository:
 * `airgap-state-<host>` when it fits a user name (32 characters), else
 * `airgap-state-` and 12 hex digits of the name's SHA-256. One account per
 * host: its key reaches its own repository only.
 */
export function stateAccount(host: string): string {
  const plain = `airgap-state-${host}`;
  return plain.length <= 32 ? plain : `airgap-state-${createHash("sha256").update(host).digest("hex").slice(0, 12)}`;
}

/** A host's service-state repository, as a path inside the accounts' chroot (host names are DNS labels). */
export function stateRepository(host: string): string {
  return `/state-${host}`;
}
const DEFAULT_RETENTION: RetentionModel = { daily: 7, weekly: 4 };
const SAFE_PATH = /^\/[A-Za-z0-9._\/-]+$/;
/** S3 bucket names (AWS's rules, which S3-compatible stores follow): 3-63 lower-case letters, digits, `.`, `-`. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A Go duration of hours, minutes and seconds, as Velero's `ttl` takes it. */
const DURATION = /^(?=\d)(\d+h)?(\d+m)?(\d+s)?$/;

const calendarCache = new Map<string, string | undefined>();

/**
 * Why `expr` is not a systemd calendar expression, or undefined when it is.
 * Asks the real `systemd-analyze calendar` (systemd's own parser, the one
 * `OnCalendar=` uses) when this machine has it; without it only the plain
 * shape is checked here, and the role asks `systemd-analyze` on the host
 * before it writes the timer.
 */
export function calendarProblem(expr: unknown): string | undefined {
  if (typeof expr !== "string" || expr.trim() === "") return "it is empty";
  if (/[\n\r\0]/.test(expr)) return "it spans lines";
  if (calendarCache.has(expr)) return calendarCache.get(expr);
  const r = spawnSync("systemd-analyze", ["calendar", "--iterations=1", "--", expr], { encoding: "utf8", timeout: 10_000 });
  let problem: string | undefined;
  if (r.error) problem = undefined; // no systemd-analyze here: the host checks it (roles/etcd_backup)
  else if (r.status !== 0) problem = (r.stderr || r.stdout).trim().split("\n")[0] || "systemd-analyze calendar refuses it";
  calendarCache.set(expr, problem);
  return problem;
}

/** Why `expr` is not a five-field cron expression (Velero's schedules), or undefined. */
export function cronProblem(expr: unknown): string | undefined {
  if (typeof expr !== "string") return "it is not a string";
  // Velero's cron library (robfig/cron) also takes these descriptors.
  if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(expr.trim()) || /^@every \d+(\.\d+)?(ns|us|ms|s|m|h)(\d+(\.\d+)?(ns|us|ms|s|m|h))*$/.test(expr.trim())) return undefined;
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return `it has ${fields.length} field${fields.length === 1 ? "" : "s"}, not 5 (minute hour day-of-month month day-of-week)`;
  const field = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$|^[A-Za-z]{3}(-[A-Za-z]{3})?(,[A-Za-z]{3}(-[A-Za-z]{3})?)*$/;
  const bad = fields.find((f) => !field.test(f));
  return bad === undefined ? undefined : `"${bad}" is not a cron field`;
}

/** The retention rules of `r`, reporting each invalid one (AG212); undefined when there is none to apply. */
function resolveRetention(ctx: Context, owner: EtcdBackup | StateBackup, r: BackupRetention | undefined): RetentionModel | undefined {
  if (r === undefined) return DEFAULT_RETENTION;
  const out: RetentionModel = {};
  let bad = false;
  for (const k of RETENTION_KEYS) {
    const v = r[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      ctx.error("AG212", `retention ${k} is ${JSON.stringify(v)}: it must keep at least one snapshot`, r, k,
        `a whole number of 1 or more (restic forget --keep-${k}); leave ${k} out to not keep by ${k}`);
      bad = true;
    } else out[k] = v;
  }
  if (bad) return undefined;
  if (Object.keys(out).length === 0) {
    ctx.error("AG212", "the retention keeps nothing: no rule is given", owner, "retention",
      "give at least one rule, e.g. retention: { daily: 7, weekly: 4 } (or leave retention out for that default)");
    return undefined;
  }
  return out;
}

/** The backup host named by `s.on` (AG210 for a host that is not one, or is a Kubernetes node). */
function backupHost(ctx: Context, core: CoreModel, s: BackupsService): HostModel | undefined {
  const name = s.on;
  if (typeof name !== "string" || name === "") {
    ctx.error("AG210", "the backups are placed on no host", s, "on", 'name the host that holds them: on: "backup1"');
    return undefined;
  }
  const host = core.hosts.find((h) => h.name === name);
  const declared = core.declaredHosts.get(name);
  if (!host && declared) return undefined; // the host itself is invalid and already reported
  if (!host) {
    ctx.error("AG210", `the backups are placed on "${name}", which is not a host of the site`, s, "on",
      `hosts: ${core.hosts.map((h) => h.name).join(", ")}`);
    return undefined;
  }
  if (isKubernetes(host)) {
    const what = host.roles.includes("etcd") ? "an etcd member: its snapshots would be kept on a member of the cluster they restore" : `a Kubernetes node (${host.roles.filter((r) => r !== "admin").join(", ")}): the backups would be lost with the cluster`;
    ctx.error("AG210", `the backup host "${name}" is ${what}`, s, "on", "place the backups on a host outside the cluster (an admin host or a plain host of the site)");
    return undefined;
  }
  return host;
}

function resolveEtcd(ctx: Context, core: CoreModel, site: Site, s: BackupsService): EtcdBackupModel | undefined {
  const members = core.hosts.filter((h) => h.roles.includes("etcd"));
  const e: EtcdBackup | undefined = s.etcd;
  if (members.length === 0 && e === undefined) return undefined;
  const opts: EtcdBackup = e ?? {};
  const schedule = opts.schedule ?? "daily";
  const check = opts.check ?? "weekly";
  let ok = true;
  for (const [key, value] of [["schedule", schedule], ["check", check]] as const) {
    const problem = calendarProblem(value);
    if (problem) {
      ctx.error("AG211", `${key} ${JSON.stringify(value)} is not a systemd calendar expression: ${problem}`, opts, key,
        'write it as OnCalendar= takes it (check with `systemd-analyze calendar "EXPR"`): "daily", "*-*-* 02:30:00", "Mon..Fri 01:00"');
      ok = false;
    }
  }
  const retention = resolveRetention(ctx, opts, opts.retention);
  if (members.length === 0) {
    ctx.error("AG214", "etcd backups on a site without etcd members", s, "etcd", 'give the cluster\'s etcd hosts roles: ["etcd"], or leave etcd out');
    return undefined;
  }
  const deployment = site.services?.kubespray?.etcdDeployment;
  const layout = deployment === "kubeadm" ? "kubeadm" : "host"; // another value is the kubespray component's error (AG093)
  if (!ok || !retention) return undefined;
  return { members, schedule, check, retention, layout };
}

/** The calendar expressions `keys` of `opts` (AG211), each with its default; undefined when one is wrong. */
function calendars<K extends "schedule" | "check">(ctx: Context, opts: Partial<Record<K, string>>, defaults: Record<K, string>, what: string): Record<K, string> | undefined {
  const out = {} as Record<K, string>;
  let ok = true;
  for (const key of Object.keys(defaults) as K[]) {
    const value = opts[key] ?? defaults[key];
    const problem = calendarProblem(value);
    if (problem) {
      ctx.error("AG211", `${what} ${key} ${JSON.stringify(value)} is not a systemd calendar expression: ${problem}`, opts, key,
        'write it as OnCalendar= takes it (check with `systemd-analyze calendar "EXPR"`): "daily", "*-*-* 02:30:00", "Mon..Fri 01:00"');
      ok = false;
    } else out[key] = value;
  }
  return ok ? out : undefined;
}

/**
 * `backups.state`: its schedule, check and retention (AG211, AG212), and the
 * operator's `extra` paths as a state export of this component (AG184 for
 * a host that is not one, AG185 for a path that is not absolute and plain).
 */
function resolveState(ctx: Context, core: CoreModel, s: BackupsService, backupHost: string): { model?: StateBackupModel; extra: StateExport[] } {
  const v = s.state;
  if (v === false) return { extra: [] };
  if (v !== undefined && (typeof v !== "object" || v === null || Array.isArray(v))) {
    ctx.error("AG184", `backups.state is ${JSON.stringify(v)}: it is settings ({ schedule, retention, check, extra }) or false`, s, "state",
      "leave it out for the defaults, or write state: false to turn the service-state backups off");
    return { extra: [] };
  }
  const opts: StateBackup = v ?? {};
  const times = calendars(ctx, opts as Partial<Record<"schedule" | "check", string>>, { schedule: "daily", check: "weekly" }, "the service-state backups'");
  const retention = resolveRetention(ctx, opts, opts.retention);
  const extra: StateExport[] = [];
  const list = opts.extra ?? [];
  if (!Array.isArray(list)) {
    ctx.error("AG184", "backups.state.extra is a list of { on, paths }", opts, "extra", 'extra: [{ on: "gitlab1", paths: ["/srv/gitlab/backups"] }]');
  } else {
    list.forEach((e, i) => {
      const host = core.hosts.find((h) => h.name === e?.on);
      if (!host) {
        if (!core.declaredHosts.has(String(e?.on))) {
          ctx.error("AG184", `the extra state paths are on ${JSON.stringify(e?.on)}, which is not a host of the site`, e ?? list, e ? "on" : i,
            `hosts: ${core.hosts.map((h) => h.name).join(", ")}`);
        }
        return;
      }
      if (host.name === backupHost) {
        ctx.error("AG183", `the extra state paths are on the backup host "${host.name}": their backup would be lost with it`, e, "on",
          "keep them on another host, or back the backup host up by other means");
        return;
      }
      const paths = Array.isArray(e.paths) ? e.paths : [];
      if (paths.length === 0) ctx.error("AG185", `no paths to keep on ${host.name}`, e, Array.isArray(e.paths) ? "paths" : "on", 'paths: ["/srv/data"]');
      let ok = paths.length > 0;
      paths.forEach((p, j) => {
        if (typeof p !== "string" || !SAFE_PATH.test(p) || path.posix.normalize(p) !== p || p === "/" || p.endsWith("/") || p.split("/").includes("..")) {
          ctx.error("AG185", `${JSON.stringify(p)} is not a path the backups can keep`, paths, j,
            'an absolute, normalised path of letters, digits, ".", "_", "-", not "/" (restic stores it as it is), e.g. "/srv/data"');
          ok = false;
        } else if (paths.indexOf(p) !== j) {
          ctx.error("AG185", `${JSON.stringify(p)} is listed twice for ${host.name}`, paths, j);
          ok = false;
        }
      });
      if (ok) {
        extra.push({ name: "extra", hosts: [host], paths, what: `the site's own paths (${paths.join(", ")}; backups.state.extra)`, restore: "copy what you need from DIR back into place" });
      }
    });
  }
  if (!times || !retention) return { extra };
  return { model: { ...times, retention, explicit: v !== undefined }, extra };
}

function resolveVelero(ctx: Context, site: Site, s: BackupsService): VeleroModel | undefined {
  const v: VeleroBackup | undefined = s.velero;
  if (v === undefined) return undefined;
  let ok = true;
  if (!site.services?.kubespray) {
    ctx.error("AG218", "Velero without a cluster: the site has no kubespray service", s, "velero", "add services.kubespray, or leave velero out");
    ok = false;
  }
  let endpoint: URL | undefined;
  if (v.endpoint === undefined || v.endpoint === "") {
    ctx.error("AG215", "Velero has no S3 endpoint: it would have nowhere to store its backups", s, "velero",
      'name the site\'s S3-compatible store: endpoint: "https://s3.example.internal:9000"');
    ok = false;
  } else {
    try {
      endpoint = new URL(v.endpoint);
    } catch {
      endpoint = undefined;
    }
    if (!endpoint || endpoint.protocol !== "https:" || endpoint.username || endpoint.password || endpoint.search || endpoint.hash) {
      ctx.error("AG215", `Velero's endpoint ${JSON.stringify(v.endpoint)} is not an https:// URL of an S3 store`, v, "endpoint",
        'an https URL without credentials or query (its certificate from the site CA), e.g. "https://s3.example.internal:9000"');
      ok = false;
    }
  }
  if (typeof v.bucket !== "string" || !BUCKET.test(v.bucket) || v.bucket.includes("..")) {
    ctx.error("AG216", `${JSON.stringify(v.bucket)} is not an S3 bucket name`, v, v.bucket === undefined ? "endpoint" : "bucket",
      "3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit");
    ok = false;
  }
  const keys: Partial<Record<"accessKey" | "secretKey", SecretModel>> = {};
  for (const k of ["accessKey", "secretKey"] as const) {
    if (v[k] === undefined) {
      ctx.error("AG216", `Velero has no ${k === "accessKey" ? "S3 access key" : "S3 secret key"}`, v, "bucket", `${k}: fromEnv("NAME") or fromVault("secrets.yml", "key")`);
      ok = false;
      continue;
    }
    const secret = resolveSecret(ctx, v, k);
    if (!secret) ok = false;
    else keys[k] = secret;
  }
  const schedule = v.schedule ?? "0 3 * * *";
  const cron = cronProblem(schedule);
  if (cron) {
    ctx.error("AG217", `Velero's schedule ${JSON.stringify(schedule)} is not a cron expression: ${cron}`, v, "schedule", 'five fields, e.g. "0 3 * * *" (03:00 every day)');
    ok = false;
  }
  const ttl = v.ttl ?? "720h";
  if (typeof ttl !== "string" || !DURATION.test(ttl)) {
    ctx.error("AG217", `Velero's ttl ${JSON.stringify(ttl)} is not a duration`, v, "ttl", 'hours, minutes and seconds as Velero writes them, e.g. "720h" or "72h30m"');
    ok = false;
  }
  const region = v.region ?? "us-east-1";
  if (!site.services?.registry) {
    ctx.error("AG218", "Velero without the site registry: its images are served from it", s, "velero", "add services.registry (with a push and a pull account)");
    ok = false;
  }
  const images: Partial<Record<"image" | "plugin", RegistryImageModel>> = {};
  for (const k of ["image", "plugin"] as const) {
    if (typeof v[k] !== "string" || v[k] === "") {
      ctx.error("AG216", `Velero has no ${k === "image" ? "server image" : "S3 plugin image"}`, v, "bucket",
        k === "image" ? 'image: "docker.io/velero/velero:v1.18.1"' : 'plugin: "docker.io/velero/velero-plugin-for-aws:v1.14.2" (the release Velero\'s compatibility table pairs with image)');
      ok = false;
      continue;
    }
    const m = imageModel(v[k]);
    if ("problem" in m) {
      ctx.error("AG216", m.problem, v, k, m.hint);
      ok = false;
    } else images[k] = m;
  }
  const fileSystemBackup = flag(ctx, v, "fileSystemBackup", true);
  if (!ok || !endpoint) return undefined;
  return {
    endpoint: endpoint.href.replace(/\/$/, ""), bucket: v.bucket, region, accessKey: keys.accessKey!, secretKey: keys.secretKey!, schedule, ttl,
    image: images.image!, plugin: images.plugin!, fileSystemBackup,
  };
}

/** The linked state the backups keep, per host (the site's host order), each host's kinds in component order. */
export function stateByHost(site: Linked): { host: HostModel; items: LinkedState[] }[] {
  const out = new Map<string, { host: HostModel; items: LinkedState[] }>();
  for (const x of site.state) {
    const e = out.get(x.host.name) ?? { host: x.host, items: [] };
    e.items.push(x);
    out.set(x.host.name, e);
  }
  return [...out.values()];
}

/** `restic forget` flags of a retention (`--keep-daily 7`), in restic's order. */
export function forgetArgs(r: RetentionModel): string[] {
  return RETENTION_KEYS.flatMap((k) => (r[k] !== undefined ? [`--keep-${k}`, String(r[k])] : []));
}

/**
 * `playbooks/restore-etcd.yml`: the chosen snapshot fetched and checked on
 * every etcd member first; then every control-plane host's kube-apiserver
 * stopped, etcd stopped on every member, the snapshot restored on each
 * (roles/etcd_backup `tasks_from: restore_*`), etcd started on all, the
 * cluster's health checked, the API servers started again (the order of
 * Kubernetes' "Restoring an etcd cluster").
 */
function restorePlaybook(): string {
  const play = (name: string, hosts: string, tasksFrom: string) => ({
    name,
    hosts,
    become: true,
    gather_facts: true,
    gather_subset: ["!all", "network"],
    // One member that cannot go on stops the restore everywhere.
    any_errors_fatal: true,
    tasks: [{ name, "ansible.builtin.include_role": { name: "etcd_backup", tasks_from: tasksFrom } }],
  });
  return toYaml(
    [
      play("Name the snapshot, fetch it to every etcd member and check it", "airgap_etcd_backup", "restore_fetch"),
      play("Stop every API server", "kube_control_plane", "restore_apiserver_stop"),
      play("Stop etcd on every member", "airgap_etcd_backup", "restore_stop"),
      play("Restore the snapshot into every member's data folder", "airgap_etcd_backup", "restore_data"),
      play("Start etcd on every member and wait until every member is healthy", "airgap_etcd_backup", "restore_start"),
      play("Start the API servers again", "kube_control_plane", "restore_apiserver_start"),
    ],
    `${GENERATED}\nRestores etcd from the site's restic repository (docs/backups.md; the runbook's "Backups" section):\n` +
      "  ansible-playbook playbooks/restore-etcd.yml                     # the newest snapshot\n" +
      "  ansible-playbook playbooks/restore-etcd.yml -e airgap_etcd_backup_snapshot=ID  # one of `restic snapshots`",
  );
}

/**
 * `velero/values.yaml`: values for Velero's Helm chart (vmware-tanzu/velero):
 * both images from the site registry, one S3 backup storage location at the
 * site's endpoint (path-style, region), no volume snapshots, file-system
 * backup by default, the S3 keys from the secret `velero-s3` (key `cloud`),
 * the site's schedule. The CA is given at install (`--set …caCert=`): it is
 * made on the admin host at run time.
 */
export function veleroValues(v: VeleroModel, registry: string | undefined): string {
  const at = (i: RegistryImageModel) => (registry ? `${registry}/${i.path}` : `${i.host}/${i.path}`);
  return toYaml(
    {
      image: { repository: at(v.image), tag: v.image.tag },
      initContainers: [
        {
          name: "velero-plugin-for-aws",
          image: `${at(v.plugin)}:${v.plugin.tag}`,
          imagePullPolicy: "IfNotPresent",
          volumeMounts: [{ mountPath: "/target", name: "plugins" }],
        },
      ],
      // The CRDs come with the chart; its upgrade job would need a kubectl image the site does not carry.
      upgradeCRDs: false,
      snapshotsEnabled: false,
      deployNodeAgent: v.fileSystemBackup,
      credentials: { useSecret: true, existingSecret: "velero-s3" },
      configuration: {
        defaultVolumesToFsBackup: v.fileSystemBackup,
        backupStorageLocation: [
          { name: "default", default: true, provider: "aws", bucket: v.bucket, config: { region: v.region, s3ForcePathStyle: "true", s3Url: v.endpoint } },
        ],
        volumeSnapshotLocation: [],
      },
      schedules: {
        site: { disabled: false, schedule: v.schedule, useOwnerReferencesInBackup: false, template: { ttl: v.ttl, includedNamespaces: ["*"] } },
      },
    },
    `${GENERATED}\nValues for Velero's Helm chart (vmware-tanzu/velero); docs/backups.md "Velero".`,
  );
}

export const backups: Component<BackupsModel> = {
  key: "backups",
  resolve(ctx: Context, core: CoreModel, site: Site) {
    const s: BackupsService | undefined = site.services?.backups;
    if (!s) return undefined;
    const host = backupHost(ctx, core, s);
    let password: SecretModel | undefined;
    if (s.password === undefined) {
      ctx.error("AG213", "the backups have no password: restic encrypts every repository with one", s, "on", 'password: fromEnv("NAME") or fromVault("secrets.yml", "key")');
    } else password = resolveSecret(ctx, s, "password");
    const dir = s.path ?? "/srv/airgap-backup";
    let pathOk = true;
    if (typeof dir !== "string" || !SAFE_PATH.test(dir) || path.posix.normalize(dir) !== dir || dir === "/" || dir.endsWith("/")) {
      ctx.error("AG214", `${JSON.stringify(dir)} is not a folder the backups can live in`, s, "path",
        'an absolute, normalised path of letters, digits, ".", "_", "-", not "/", e.g. "/srv/airgap-backup"');
      pathOk = false;
    }
    const etcd = resolveEtcd(ctx, core, site, s);
    const state = resolveState(ctx, core, s, String(s.on));
    const velero = resolveVelero(ctx, site, s);
    if (!host || !password || !pathOk) return undefined;
    const freshness: FreshnessExport[] = [
      ...(etcd ? [{ host, what: "etcd snapshots", file: `${dir}/${STATUS_DIR}${ETCD_REPOSITORY}/last-success` }] : []),
      ...(state.model ? [{ host, what: "service state of {host}", file: `${dir}/${STATUS_DIR}/state-{host}/last-success`, perStateHost: true }] : []),
    ];
    // The clients log in to the backup host's own sshd (SFTP): the gateway
    // must let them reach it, from the etcd members' networks here and from
    // the service-state hosts' (known after link: fromStateHosts).
    const sshFrom = [...new Set((etcd?.members ?? []).filter((h) => h !== host).map((h) => clientNetwork(h, host)))]
      .flatMap((n) => core.networks.filter((x) => x.name === n));
    const ssh: PortClaim = { host, port: host.sshPort, protocol: "tcp", service: "backups", allow: sshFrom, owner: s, key: "on", sshd: true, fromStateHosts: state.model !== undefined };
    return {
      model: { host, password, path: dir, etcd, state: state.model, velero, config: s },
      exports: {
        ports: [ssh],
        plays: [
          // On the backup host once it installs from the site (any host, admin or not: so in nodes.yml).
          { playbook: "nodes", name: "Backup host (restic repositories over SFTP)", hosts: "airgap_backup_servers", role: "backup_server", after: ["repo_client", "ca_trust"] },
          ...(etcd
            ? [{ playbook: "nodes" as const, name: "Etcd snapshots into the backup host", hosts: "airgap_etcd_backup", role: "etcd_backup", after: ["repo_client", "backup_server"] }]
            : []),
          ...(state.model
            ? [{ playbook: "nodes" as const, name: "Service state into the backup host", hosts: "airgap_state_backup", role: "state_backup", after: ["repo_client", "backup_server"] }]
            : []),
        ],
        ...(state.extra.length ? { state: state.extra } : {}),
        freshness,
        // Velero's S3 keys are read by the runbook's commands (kubectl create secret), never by a playbook.
        secrets: [password],
        ...(velero ? { images: [velero.image, velero.plugin].map((i) => ({ source: i.source, target: i.target })) } : {}),
      },
    };
  },
  /** The backup host must not hold the state it keeps (AG183); `state: {…}` needs state to keep (AG182). */
  validate(ctx, m, site) {
    if (!m.state) return;
    const held = site.state.filter((x) => x.host.name === m.host.name && x.service !== "backups");
    if (held.length) {
      ctx.error("AG183", `the backup host "${m.host.name}" holds service state itself (${[...new Set(held.map((x) => x.name))].join(", ")}): its backup would be lost with it`, m.config, "on",
        "place the backups on a host that holds no service state (a plain host of the site), or write state: false and back that host up by other means");
    }
    if (m.state.explicit && site.state.length === 0) {
      ctx.error("AG182", "service-state backups on a site whose services keep no state of their own", m.config, "state",
        "leave state out (nothing to keep), or list paths of your own in state.extra");
    }
  },
  emit(m, site, out) {
    out.addGroup("airgap_backup_servers", [m.host.name]);
    const members = m.etcd?.members ?? [];
    const state = m.state ? stateByHost(site) : [];
    out.addVars("airgap_backup_servers", {
      airgap_backup_server_path: m.path,
      airgap_backup_server_group: BACKUP_GROUP,
      airgap_backup_server_keys_dir: BACKUP_KEYS_DIR,
      // One account per repository; a key is accepted from its host's address only.
      airgap_backup_server_accounts: [
        ...(m.etcd ? [{ user: BACKUP_USER, repository: ETCD_REPOSITORY.slice(1), clients: members.map((h) => h.address) }] : []),
        ...state.map(({ host }) => ({ user: stateAccount(host.name), repository: stateRepository(host.name).slice(1), clients: [host.address] })),
      ],
    });
    const lines: string[] = [
      `${m.host.name} holds the backups: restic repositories under ${m.path}, each reached over SFTP by an account of its own (group ${BACKUP_GROUP}: chrooted to ${m.path}, no shell, no forwarding, each key accepted from its host's address only, each repository 0700 to its account). restic encrypts them with the site's backup password: keep a copy of it outside the site's hosts; without it no backup can be read. Each repository's account records the time of its last good backup in ${m.path}/${STATUS_DIR}/<repository>/last-success (seconds since the epoch), which monitoring reads.`,
    ];
    if (m.etcd) {
      const e = m.etcd;
      out.addGroup("airgap_etcd_backup", members.map((h) => h.name));
      out.addVars("airgap_etcd_backup", {
        airgap_etcd_backup_server: m.host.address,
        airgap_etcd_backup_server_host: m.host.name,
        airgap_etcd_backup_server_port: m.host.sshPort,
        airgap_etcd_backup_user: BACKUP_USER,
        airgap_etcd_backup_authorized_keys: `${BACKUP_KEYS_DIR}/${BACKUP_USER}`,
        airgap_etcd_backup_repository: ETCD_REPOSITORY,
        airgap_etcd_backup_status: `/${STATUS_DIR}${ETCD_REPOSITORY}/last-success`,
        airgap_etcd_backup_schedule: e.schedule,
        airgap_etcd_backup_check_schedule: e.check,
        airgap_etcd_backup_retention: e.retention,
        airgap_etcd_backup_layout: e.layout,
        airgap_etcd_backup_members: members.map((h) => h.name),
        airgap_etcd_backup_password: secretExpression(m.password),
      });
      out.files.set("playbooks/restore-etcd.yml", restorePlaybook());
      const keep = RETENTION_KEYS.filter((k) => e.retention[k] !== undefined).map((k) => `${e.retention[k]} ${k}`).join(" + ");
      lines.push(
        `etcd snapshots: a systemd timer (airgap-etcd-backup.timer, OnCalendar=${e.schedule}) on every etcd member (${members.map((h) => h.name).join(", ")}); the first member in that order whose etcd is healthy takes \`etcdctl snapshot save\` over TLS (Kubespray's ${e.layout === "host" ? "/etc/ssl/etcd/ssl/admin-<host>.pem" : "/etc/kubernetes/ssl/etcd/server.crt"} certificates), checks it with \`etcdutl snapshot status\`, stores it with \`restic backup --stdin\` into ${ETCD_REPOSITORY.slice(1)} and applies the retention (keep ${keep}: \`restic forget --prune ${forgetArgs(e.retention).join(" ")}\`). A second timer (airgap-etcd-backup-check.timer, OnCalendar=${e.check}) runs \`restic check\`.`,
        `The time of the last good etcd backup, in seconds since the epoch, is in /var/lib/airgap/backup/etcd-last-success on the member that made it and in ${m.path}/${STATUS_DIR}${ETCD_REPOSITORY}/last-success on ${m.host.name} (whichever member made it: monitoring reads this one). A snapshot that fails its check, or a run killed on the way, never updates them and leaves no restic snapshot.`,
        "Kubespray installs etcd after site.yml: the timers fail (and say why in `journalctl -u airgap-etcd-backup`) until cluster.yml has run; run `site.yml --tags backups` after cluster.yml so the first backup is made and the repository checked at once.",
        `List the snapshots on an etcd member: \`airgap-etcd-backup snapshots\`. Back up now: \`systemctl start airgap-etcd-backup.service\`.`,
        "Restore etcd (the whole cluster, from one snapshot), in the order the etcd and Kubernetes documentation give: `ansible-playbook playbooks/restore-etcd.yml` restores the newest snapshot; `-e airgap_etcd_backup_snapshot=ID` another. It checks the snapshot on every member first (`etcdutl snapshot status`), then moves the kube-apiserver static pod manifest aside on every control-plane host (the API servers stop), stops etcd on every member, restores the snapshot on each with its own name, peer URL and the initial cluster read from its configuration (" +
          (e.layout === "host" ? "/etc/etcd.env" : "/etc/kubernetes/manifests/etcd.yaml") +
          "), keeps the old data folder beside it (`<data-dir>.before-restore-<time>`), starts etcd on every member, waits for `etcdctl endpoint health --cluster` to report every member healthy, then puts the API servers back. Restart kubelet, kube-scheduler and kube-controller-manager afterwards so they read the restored state.",
      );
    }
    if (m.state && state.length) {
      const st = m.state;
      out.addGroup("airgap_state_backup", state.map(({ host }) => host.name));
      out.addVars("airgap_state_backup", {
        airgap_state_backup_server: m.host.address,
        airgap_state_backup_server_host: m.host.name,
        airgap_state_backup_server_port: m.host.sshPort,
        airgap_state_backup_keys_dir: BACKUP_KEYS_DIR,
        airgap_state_backup_schedule: st.schedule,
        airgap_state_backup_check_schedule: st.check,
        airgap_state_backup_retention: st.retention,
        airgap_state_backup_password: secretExpression(m.password),
      });
      for (const { host, items } of state) {
        out.addHostVars(host.name, {
          airgap_state_backup_user: stateAccount(host.name),
          airgap_state_backup_repository: stateRepository(host.name),
          airgap_state_backup_status: `/${STATUS_DIR}${stateRepository(host.name)}/last-success`,
          airgap_state_backup_items: items.map((x) => ({ name: x.name, paths: x.paths, ...(x.dump ? { dump: x.dump } : {}) })),
        });
      }
      const keep = RETENTION_KEYS.filter((k) => st.retention[k] !== undefined).map((k) => `${st.retention[k]} ${k}`).join(" + ");
      lines.push(
        `Service state (what no bundle rebuilds): a systemd timer (airgap-state-backup.timer, OnCalendar=${st.schedule}) on each host holding some stores it with \`restic backup\` into that host's own repository on ${m.host.name} (state-<host>, its own account and key), one snapshot per kind of state (tag airgap-state plus its name), then applies the retention per kind (keep ${keep}: \`restic forget --prune --group-by host,tags ${forgetArgs(st.retention).join(" ")}\`); airgap-state-backup-check.timer (OnCalendar=${st.check}) runs \`restic check\`. The package repositories, the registry, the charts and the Go modules come back from the bundles (\`airgap import\`, then site.yml), so they are not in these backups.`,
        ...state.flatMap(({ host, items }) => items.map((x) => `- ${x.name} on ${host.name}: ${x.what}${x.dump ? ` (dumped first: \`${[...x.dump.argv, "DIR"].join(" ")}\` as ${x.dump.user})` : ""}.`)),
        "Restore one kind (the newest snapshot, or `--snapshot ID` from `airgap-state-backup snapshots NAME`) on its host, while the host still has its key: `airgap-state-backup restore NAME --target /root/restore-NAME` writes it under that folder at its original paths (DIR below is that folder) and prints the folder a dump is in. " +
          `A rebuilt host has lost its key (and, for the repository host, the site's packages are not served yet): on ${m.host.name}, as root, \`restic -r ${m.path}/state-HOST restore latest --host HOST --tag airgap-state,NAME --target /root/restore-NAME\` (restic asks for the site's backup password; ${m.host.name} never stores it; the backup host's role installs restic for this), then copy DIR to the rebuilt host before site.yml runs there. Then:`,
        ...state.flatMap(({ host, items }) => items.map((x) => `- ${x.name} on ${host.name}: ${x.restore}.`)),
      );
    }
    if (m.velero) {
      const v = m.velero;
      const registry = site.endpoints.registry;
      out.files.set("velero/values.yaml", veleroValues(v, registry));
      const env = (x: SecretModel) => (x.kind === "env" ? `"$${x.name}"` : `"<${x.key} from ${path.basename(x.file)}>"`);
      lines.push(
        `Velero: \`airgap bundle\` carries its images (${v.image.source}, ${v.plugin.source}) and the registry serves them as ${registry}/${v.image.target} and ${registry}/${v.plugin.target}. velero/values.yaml holds the values for Velero's Helm chart (vmware-tanzu/velero: list it in helm.charts to carry it): the backup storage location ${v.endpoint}, bucket ${v.bucket}, region ${v.region}, path-style S3, the schedule "${v.schedule}" kept ${v.ttl}, ${v.fileSystemBackup ? "file-system backup of every pod volume (the node agent on every node)" : "no volume backup"}; the S3 keys come from the secret velero-s3, the site CA from the command line. Not proven against a cluster: airgap's lab runs none.`,
        "Install, on the controller with kubectl and helm against the cluster: " +
          "`kubectl create namespace velero`; " +
          `\`printf '[default]\\naws_access_key_id=%s\\naws_secret_access_key=%s\\n' ${env(v.accessKey)} ${env(v.secretKey)} | kubectl -n velero create secret generic velero-s3 --from-file=cloud=/dev/stdin\`; ` +
          "`helm install velero <site>/velero -n velero -f velero/values.yaml --set \"configuration.backupStorageLocation[0].caCert=$(base64 -w0 ca.crt)\"` (ca.crt: the site CA).",
        "Use: `velero backup create NAME --wait`, `velero backup get`, `velero restore create --from-backup NAME`. A whole-site restore: etcd first (restore-etcd.yml), then `velero restore create` for what changed since the etcd snapshot, with the volumes (file-system backup).",
      );
    }
    out.runbook.push({ title: "Backups", lines });
  },
};
