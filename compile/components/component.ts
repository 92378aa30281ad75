/**
 * A component is one service of the site (NTP, DNS, repositories, …). The
 * compiler runs every component through the same phases (compile/synth.ts):
 *
 * 1. `resolve`: the component reads the site file's value and the core model
 *    (hosts, networks), alone: it never sees another component. It reports its
 *    own errors and returns its typed model and what it exports (`Exports`).
 * 2. link (compile/link.ts): every cross-service fact is derived from the
 *    exports: DNS names, gateway flows, TLS names, the play order, Kubespray's
 *    merged variables. Runs only on a site without errors.
 * 3. `validate`: whole-site checks that need the linked facts.
 * 4. `emit`: pure rendering of the model and the linked facts into `Emission`.
 */
import type { Site } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import type { CoreModel, HostModel, NetworkModel, SecretModel } from "../model/site.js";

/** A port a service listens on. */
export interface PortClaim {
  host: HostModel;
  port: number;
  protocol: "tcp" | "udp";
  /** The service's name in messages, flows' comments and DNS (`registry`). */
  service: string;
  /**
   * Who may reach it: the networks named in the service's `allow` (every site
   * network by default), or `"loopback"` for a backend only its host reaches
   * (no gateway flow, no clash with the host's site addresses).
   */
  allow: NetworkModel[] | "loopback";
  /** Where the claim was written in the site file: errors about it point there. */
  owner: object;
  key: string;
  /**
   * The site field that moves this port (`"services.registry.port"`), when
   * the service has one; a clash is blamed on a claim that has one.
   */
  setting?: string;
  /**
   * Hosts the compiled project configures as this service's clients: each
   * must reach it from a network in `allow` (AG143, link.ts `checkClients`).
   */
  clients?: HostModel[];
  /** Why those hosts are its clients, for the error (`"every other host takes its time from it"`). */
  clientsWhy?: string;
  /**
   * The port is the host's own sshd (`sshPort`), which the service's clients
   * log in to (the backups' SFTP accounts): it opens the flows and the
   * gateway's input like any claim, but is no server of the service's own,
   * so it neither clashes with the host's SSH (AG135) nor with another such claim (AG042).
   */
  sshd?: boolean;
  /**
   * The hosts holding service state are clients too (known after link, like
   * `FreshnessExport.perStateHost`): link.ts adds the network each reaches
   * the claim's host from to `allow`.
   */
  fromStateHosts?: boolean;
}

/** A play of a compiled playbook: one role, applied to a host pattern. */
export interface Play {
  /** admin.yml (the services), network.yml (routes, gateway), nodes.yml (every host's clients), run in that order. */
  playbook: "admin" | "network" | "nodes";
  name: string;
  /** Inventory host pattern (`airgap_dns_servers`, `all:!airgap_ntp_servers`). */
  hosts: string;
  role: string;
  /** The component (service key: `dns`, `registry`, …) that declared it; its tag in the playbooks. */
  service: string;
}

/** A play a component declares, with what must run before it. */
export interface PlayDecl extends Omit<Play, "service"> {
  /**
   * Roles whose plays in the same playbook must run first (on any host: they
   * provide what this role installs from, names, certificates). A role the
   * site does not use is ignored.
   */
  after?: string[];
  /**
   * A name other plays' `after` can use for this play alone (an `after`
   * entry matches a play by its role or by this key): for a role that runs
   * in two plays of one playbook, the earlier one on fewer hosts (the time
   * server on the repository host, before the other admin hosts' clocks are
   * set from it).
   */
  key?: string;
  /**
   * Roles of other playbooks this play's hosts need first, in this playbook:
   * each becomes a play of that role narrowed to this play's hosts (its host
   * pattern with `all` replaced by this play's `hosts`), named as given. For
   * a host that the rest of the site is reached through (the gateway).
   */
  first?: { role: string; name: string }[];
}

/** OS packages a service needs on hosts beyond what its roles install (Kubespray's own). */
export interface PackageNeed {
  hosts: HostModel[];
  deb: string[];
  rpm: string[];
  why: string;
}

/** An image the site registry must hold for a service (pushed from the bundle). */
export interface RegistryImage {
  /** Upstream reference: `registry.k8s.io/pause:3.10`. */
  source: string;
  /** Its name in the site registry: `pause:3.10`. */
  target: string;
}

/**
 * State a service keeps on its hosts that no bundle rebuilds (users, uploads,
 * private keys): the site's backups keep it (`services.backups.state`,
 * docs/backups.md "Service state") when the site has them.
 */
export interface StateExport {
  /** Short name: a restic tag and the name in the runbook (lower-case letters, digits, `-`). */
  name: string;
  /**
   * Hosts holding it (each backs its own copy up), or `"ca"`: the host of
   * the site CA, known once the site is linked (`Linked.caHost`).
   */
  hosts: HostModel[] | "ca";
  /** Absolute paths of what is kept (folders or files). */
  paths: string[];
  /**
   * A consistent copy made by the service's own tool instead of reading
   * `paths` live: `argv` with a new empty folder appended, run as `user`;
   * that folder is stored instead of `paths`.
   */
  dump?: { argv: string[]; user: string };
  /** What it holds that no bundle rebuilds (the runbook says it). */
  what: string;
  /** How to put it back from the folder `airgap-state-backup restore` wrote (`DIR`), for the runbook. */
  restore: string;
}

/** A state export placed on one host (`Linked.state`). */
export interface LinkedState extends Omit<StateExport, "hosts"> {
  host: HostModel;
  /** The component that exported it. */
  service: string;
}

/**
 * A file whose content is the time (seconds since the epoch) of the last
 * success of something the site does on a schedule: monitoring raises a
 * problem when it grows too old (`monitoring.backupMaxAgeHours`).
 */
export interface FreshnessCheck {
  /** The host whose agent reads `file`. */
  host: HostModel;
  /** What the time is of, in the trigger's name (`"etcd snapshots"`). */
  what: string;
  file: string;
}

/** A freshness check as exported: one, or one per host holding service state (`{host}` replaced in `what` and `file`). */
export interface FreshnessExport extends FreshnessCheck {
  perStateHost?: boolean;
}

/**
 * What a component declares for the rest of the site. Every cross-service
 * fact comes from here; nothing reads another component's model.
 */
export interface Exports {
  /** `<name>.<domain>` → host, served by the site's DNS (`registry`, `repo`). */
  names?: { name: string; host: HostModel }[];
  /** Ports it listens on; the link phase checks clashes and opens gateway flows for them. */
  ports?: PortClaim[];
  /**
   * Hosts where it serves TLS under a name of `names`: the CA lives on the
   * first such host and the certificate carries `<name>.<domain>` and the
   * host's FQDN (`Linked.tlsNames`).
   */
  tls?: { name: string; host: HostModel }[];
  plays?: PlayDecl[];
  /** Kubespray variables it owns (the offline vars file). */
  kubespray?: Record<string, unknown>;
  /** Named URLs it offers other services (`pip-index`). */
  endpoints?: Record<string, string>;
  /** Images the site registry must carry for it. */
  images?: RegistryImage[];
  packages?: PackageNeed[];
  /** Secrets the compiled project reads at run time. */
  secrets?: SecretModel[];
  /** The site registry's pull-only account (Kubernetes nodes pull with it). */
  registryPull?: { name: string; password: SecretModel };
  /** The site registry's first push account (the chart repository pushes charts with it). */
  registryPush?: { name: string; password: SecretModel };
  /**
   * Python requirements the site's index must carry for this service beyond
   * `pypi.packages` (Kubespray: its controller's `requirements.txt`), resolved
   * for the index host's CPython and platform (the controller's, as a rule).
   */
  python?: string[];
  /** State of its own no bundle rebuilds, for the site's backups. */
  state?: StateExport[];
  /** Times of last success that monitoring watches. */
  freshness?: FreshnessExport[];
}

/** A component's resolution: its typed model and its exports. */
export interface Resolved<M> {
  model: M;
  exports: Exports;
}

/** The site after the link phase: core, typed models, every derived cross-service fact. */
export interface Linked {
  core: CoreModel;
  /** The components' exports, by component key, in component order. */
  exports: Map<string, Exports>;
  /** Service names the DNS serves (`registry` → its host's address), host names excluded. */
  names: Map<string, string>;
  /** Every port claim, in component order. */
  ports: PortClaim[];
  /** The host holding the site CA: the first that serves TLS. */
  caHost?: HostModel;
  /** Service name → the DNS names of its certificate (`registry.<domain>`, then the host's FQDN). */
  tlsNames: Map<string, string[]>;
  /** Plays in run order per playbook (admin, network, nodes), from the declared dependencies. */
  plays: Play[];
  /** Kubespray variables the services own, merged (the kubespray component adds its own). */
  kubespray: Record<string, unknown>;
  endpoints: Record<string, string>;
  /** Images the services need in the site registry; undefined when no service asks for any. */
  images?: RegistryImage[];
  packages: PackageNeed[];
  secrets: SecretModel[];
  registryPull?: { name: string; password: SecretModel };
  /** The site registry's first push account, when it has one. */
  registryPush?: { name: string; password: SecretModel };
  /** Python requirements the services need in the site's index (each once, in component order). */
  python: string[];
  /** Every service's state, per host (hosts in the site's order, then the components' order). */
  state: LinkedState[];
  /** Times of last success to watch, `perStateHost` ones expanded over the hosts of `state`. */
  freshness: FreshnessCheck[];
}

/** What a component adds to the compiled project. */
export class Emission {
  /** Inventory groups of ours (`airgap_…`) → member host names. */
  readonly groups = new Map<string, string[]>();
  /** Variables per inventory group (`all` included), written to `inventory/group_vars/<group>/airgap.yml`. */
  readonly groupVars = new Map<string, Record<string, unknown>>();
  /** Variables of single hosts, written into the inventory. */
  readonly hostVars = new Map<string, Record<string, unknown>>();
  /** Kubespray's own variables, written to the Kubespray offline vars file. */
  readonly kubespray: Record<string, unknown> = {};
  /** Lines for the site's runbook, per component. */
  readonly runbook: { title: string; lines: string[] }[] = [];
  /**
   * Extra files of the project (relative path → content), such as a playbook
   * run by hand (`playbooks/restore-etcd.yml`); site.yml does not import them,
   * and the roles they use must be used by a play too (they are copied then).
   */
  readonly files = new Map<string, string>();

  addVars(group: string, vars: Record<string, unknown>): void {
    this.groupVars.set(group, { ...(this.groupVars.get(group) ?? {}), ...vars });
  }

  addHostVars(host: string, vars: Record<string, unknown>): void {
    this.hostVars.set(host, { ...(this.hostVars.get(host) ?? {}), ...vars });
  }

  addGroup(group: string, hosts: string[]): void {
    this.groups.set(group, [...new Set([...(this.groups.get(group) ?? []), ...hosts])]);
  }
}

export interface Component<M> {
  /** The key under `services` in the site file, or the component's own name (`ca`, `gateway`). */
  key: string;
  /**
   * The component is part of the site only when another one exports this
   * (the CA: when some service serves TLS).
   */
  onlyWith?: keyof Exports;
  /**
   * Validates and resolves the service from the site alone; reports errors on
   * `ctx`; undefined when the site does not have it (or it is too broken to
   * export anything).
   */
  resolve(ctx: Context, core: CoreModel, site: Site): Resolved<M> | undefined;
  /** Whole-site checks that need the linked facts (run only on a site without errors). */
  validate?(ctx: Context, model: M, site: Linked): void;
  /** Adds the service's groups, variables, Kubespray settings and runbook lines. */
  emit(model: M, site: Linked, out: Emission): void;
}

/** The Jinja2 expression that reads a secret at run time. */
export function secretExpression(s: SecretModel): string {
  return s.kind === "env" ? `{{ lookup('ansible.builtin.env', '${s.name}') }}` : `{{ ${s.key} }}`;
}
