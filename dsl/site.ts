/**
 * The site: everything an operator describes about one air-gapped location.
 * These are plain data types; `defineSite` only gives the editor a type to check.
 */
import type { Secret } from "./secrets.js";
import type { Services } from "./services.js";

/** Operating system releases the roles know how to configure. */
export type OsRelease =
  | "debian-12"
  | "ubuntu-22.04"
  | "ubuntu-24.04"
  | "rhel-9"
  | "rocky-9"
  | "almalinux-9";

/** CPU architecture, named as Debian and Kubespray name it. */
export type Arch = "amd64" | "arm64";

/**
 * What a host does in the site.
 * - `admin`: serves the site's infrastructure (NTP, DNS, repos, registry, PyPI).
 * - `control-plane`, `worker`, `etcd`: Kubernetes roles, mapped to Kubespray's
 *   groups `kube_control_plane`, `kube_node` and `etcd`.
 * - `gateway`: routes between the networks it has an address on (`interfaces`),
 *   forwarding only the site's flows (nftables, default drop). At most one.
 */
export type HostRole = "admin" | "control-plane" | "worker" | "etcd" | "gateway";

/** A value that may be written to an Ansible variable as is. */
export type Scalar = string | number | boolean;

/** An IPv4 network of the site. */
export interface Network {
  /** Name other parts of the site use to refer to this network (a DNS label). */
  name: string;
  /** IPv4 network in CIDR form, for example `"10.20.0.0/24"`. */
  cidr: string;
  /**
   * Address of the router on this network, when the site routes between networks
   * through a router airgap does not configure. With a `gateway` host on this
   * network, its address here is the router (and this field, if given, must match).
   * @default the gateway host's address on this network; else none (hosts reach only their own network)
   */
  gateway?: string;
  /**
   * Hosts on this network get a default route through its router (for a site
   * with a way out). Without it they get routes to the site's networks only.
   * @default false
   */
  defaultRoute?: boolean;
  /**
   * A DMZ: traffic the gateway host forwards into this network leaves with the
   * gateway's own address there (source NAT), so its hosts need no route back.
   * @default false
   */
  masquerade?: boolean;
}

/** An extra address of a host, on another network of the site. */
export interface Interface {
  /** Name of a network of the site. */
  network: string;
  /** IPv4 address inside that network. */
  address: string;
}

/** Transport protocols a flow can allow. */
export type FlowProtocol = "tcp" | "udp" | "icmp";

/**
 * Traffic the gateway forwards between the site's networks. Everything else is
 * dropped; the site's own services (DNS, NTP, repos, registry, PyPI) open their
 * flows by themselves, from the networks allowed to use them.
 */
export interface Flow {
  /** Network (by name) the connections come from. */
  from: string;
  /** Network or host (by name) they go to. */
  to: string;
  /** Protocol. */
  protocol: FlowProtocol;
  /**
   * Destination ports (tcp, udp): numbers, or ranges written `"30000-32767"`.
   * @default [] (required for tcp and udp; none for icmp)
   */
  ports?: (number | `${number}-${number}`)[];
  /**
   * Why the flow exists (written into the ruleset as a comment).
   * @default undefined
   */
  why?: string;
}

/** One machine of the site. */
export interface Host {
  /** Short host name: a DNS label (letters, digits, `-`; at most 63 characters). */
  name: string;
  /** IPv4 address inside one of the site's networks; Ansible and Kubespray use it. */
  address: string;
  /**
   * Addresses on other networks of the site (a gateway host has one on every
   * network it routes).
   * @default []
   */
  interfaces?: Interface[];
  /** Operating system release installed on the host. */
  os: OsRelease;
  /**
   * CPU architecture.
   * @default "amd64"
   */
  arch?: Arch;
  /**
   * What the host does: `admin`, `control-plane`, `worker`, `etcd`, `gateway`
   * (several allowed). None makes it a plain client of the site (a GitLab
   * server, a workstation): it gets the site's time, names, package sources
   * and CA trust, and is not part of Kubernetes.
   * @default []
   */
  roles?: HostRole[];
  /**
   * User Ansible connects as over SSH.
   * @default "root"
   */
  sshUser?: string;
  /**
   * SSH port.
   * @default 22
   */
  sshPort?: number;
  /**
   * Whether the host's pip is pointed at the site's Python package index.
   * @default true for admin and Kubernetes hosts when the site has a `pypi` service
   */
  python?: boolean;
  /**
   * Whether the host builds Go: its `go` is pointed at the site's module
   * proxy (GOPROXY, GOSUMDB, for every user: /etc/environment and
   * /etc/profile.d) and Debian's golang-go is installed from the site
   * repository. Needs a `goproxy` service.
   * @default false
   */
  go?: boolean;
  /**
   * Extra Ansible host variables (no secrets: use a `Secret` reference elsewhere).
   * @default {}
   */
  vars?: Record<string, Scalar>;
}

/** The site's certificate authority, which signs the admin services' certificates. */
export interface CertificateAuthority {
  /**
   * Common name of the CA certificate.
   * @default "<site name> airgap CA"
   */
  commonName?: string;
  /**
   * Validity of the CA certificate, in days.
   * @default 3650
   */
  validityDays?: number;
  /**
   * Use an existing CA instead of creating one: path of its PEM certificate,
   * relative to the site file.
   * @default undefined (the admin playbook creates the CA on first run)
   */
  certificate?: string;
  /**
   * Private key of the existing CA, by reference (with `certificate`).
   * @default undefined
   */
  key?: Secret;
}

/** A whole air-gapped site. */
export interface Site {
  /** Site name: a DNS label; the output goes to `out/<name>/`. */
  name: string;
  /** DNS domain the site's own DNS serves, for example `"plant1.example.internal"`. */
  domain: string;
  /** The site's IPv4 networks. Every host address must fall in one of them. */
  networks: Network[];
  /**
   * The site's certificate authority.
   * @default {} (a CA created on the first admin run)
   */
  ca?: CertificateAuthority;
  /** Every machine of the site. */
  hosts: Host[];
  /** Services the admin host(s) provide, and the Kubernetes deployment. */
  services: Services;
  /**
   * Traffic allowed through the gateway host besides the services' own (SSH
   * from the controller's network, Kubernetes between node networks, ...).
   * @default []
   */
  flows?: Flow[];
}

/** Declares the site; returns its argument unchanged so the editor checks it. */
export function defineSite(site: Site): Site {
  return site;
}
