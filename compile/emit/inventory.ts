/** The inventory, shared with Kubespray: its groups and host variables, plus ours. */
import { compareText } from "../model/context.js";
import type { Emission } from "../components/component.js";
import type { CoreModel, HostModel } from "../model/site.js";
import { GENERATED, toYaml } from "./yaml.js";

/** Kubespray's group for each Kubernetes role. */
const KUBESPRAY_GROUPS = { "control-plane": "kube_control_plane", worker: "kube_node", etcd: "etcd" } as const;

function hostVars(h: HostModel): Record<string, unknown> {
  return {
    ansible_host: h.address,
    ...(h.sshUser !== "root" ? { ansible_user: h.sshUser } : { ansible_user: "root" }),
    ...(h.sshPort !== 22 ? { ansible_port: h.sshPort } : {}),
    // Kubespray binds and advertises on these.
    ip: h.address,
    access_ip: h.address,
    airgap_os: h.os.release,
    airgap_arch: h.arch,
    ...h.vars,
  };
}

const members = (names: string[]) => Object.fromEntries(names.map((n) => [n, null]));

export function emitInventory(core: CoreModel, out: Emission): Map<string, string> {
  const children: Record<string, unknown> = {};
  for (const [role, group] of Object.entries(KUBESPRAY_GROUPS)) {
    children[group] = { hosts: members(core.hosts.filter((h) => h.roles.includes(role as keyof typeof KUBESPRAY_GROUPS)).map((h) => h.name)) };
  }
  children.k8s_cluster = { children: { kube_control_plane: null, kube_node: null } };
  children.airgap_admin = { hosts: members(core.hosts.filter((h) => h.roles.includes("admin")).map((h) => h.name)) };
  for (const [group, names] of [...out.groups].sort(([a], [b]) => compareText(a, b))) {
    children[group] = { hosts: members(names) };
  }
  const inventory = { all: { hosts: Object.fromEntries(core.hosts.map((h) => [h.name, { ...hostVars(h), ...out.hostVars.get(h.name) }])), children } };
  const files = new Map<string, string>();
  files.set("inventory/hosts.yml", toYaml(inventory, GENERATED));
  const site = {
    airgap_site_name: core.name,
    airgap_site_domain: core.domain,
    airgap_site_networks: core.networks.map((n) => n.cidr),
  };
  out.addVars("all", site);
  for (const [group, vars] of out.groupVars) {
    const sorted = Object.fromEntries(Object.entries(vars).sort(([a], [b]) => compareText(a, b)));
    files.set(`inventory/group_vars/${group}/airgap.yml`, toYaml(sorted, GENERATED));
  }
  if (Object.keys(out.kubespray).length > 0) {
    files.set(
      "inventory/group_vars/all/kubespray-offline.yml",
      toYaml(
        Object.fromEntries(Object.entries(out.kubespray).sort(([a], [b]) => compareText(a, b))),
        `${GENERATED}\nKubespray's own variables: where it downloads from, and what it leaves to airgap.`,
      ),
    );
  }
  return files;
}
