/** Playbooks: one for the admin services, one for every host's clients, one running both. */
import path from "node:path";
import type { Linked } from "../components/component.js";
import type { KubesprayModel } from "../components/kubespray.js";
import { fromProject } from "./files.js";
import { playTags } from "./runbook.js";
import { compareText } from "../model/context.js";
import { GENERATED, toYaml } from "./yaml.js";

const PLAYBOOKS = [
  { file: "admin", title: "Admin services" },
  { file: "network", title: "Site network (routes, gateway)" },
  { file: "nodes", title: "Clients on every host" },
] as const;

/**
 * The facts each play gathers: Ansible's minimal set (distribution and OS
 * family, architecture, Python, service manager, AppArmor, date and time,
 * environment) and the network facts (`ansible_default_ipv4`,
 * `all_ipv4_addresses`), the only ones the roles read. The hardware and
 * virtualisation scans are left out.
 */
export const GATHER_SUBSET = ["!all", "network"];

/**
 * `inventory/group_vars/all/airgap-secrets.yml`: each vault secret the site
 * refers to, as a variable named by its key whose value reads the vault file
 * (path relative to the inventory, `inventory_dir`) through the `unvault`
 * lookup when a task uses it. In the inventory, every playbook run against it
 * has the secrets, Kubespray's `cluster.yml` included; nothing is decrypted
 * to parse, lint or syntax-check a playbook. Undefined when the site keeps no
 * secret in a vault.
 */
export function emitVaultSecrets(site: Linked, outDir: string): string | undefined {
  const inventoryDir = path.join(outDir, "inventory");
  const vars = new Map<string, string>();
  for (const s of site.secrets) {
    if (s.kind !== "vault") continue;
    const rel = path.relative(inventoryDir, s.file).split(path.sep).join("/");
    vars.set(s.key, `{{ (lookup('ansible.builtin.unvault', inventory_dir ~ '/${rel}') | from_yaml)['${s.key}'] }}`);
  }
  if (vars.size === 0) return undefined;
  return toYaml(
    Object.fromEntries([...vars].sort(([a], [b]) => compareText(a, b))),
    `${GENERATED}\nThe site's vault secrets, read from their vault files only when a task uses one\n(ansible-playbook --ask-vault-pass); never written here in clear.`,
  );
}

/** The playbooks, their plays in the linked order (link.ts, from the roles' declared dependencies). */
export function emitPlaybooks(site: Linked, outDir: string, kubespray?: KubesprayModel): Map<string, string> {
  const files = new Map<string, string>();
  // network.yml only for a site that routes; admin.yml and nodes.yml always.
  const used = PLAYBOOKS.filter((p) => p.file !== "network" || site.plays.some((x) => x.playbook === "network"));
  for (const { file: playbook } of used) {
    const plays = site.plays
      .filter((p) => p.playbook === playbook)
      .map((p) => ({
        name: p.name,
        hosts: p.hosts,
        become: true,
        // Gathered once per host and run (ansible.cfg: gathering = smart),
        // and only what the roles read: the OS, Python, the service manager
        // (the minimal set) and the addresses (network); no hardware scan.
        gather_facts: true,
        gather_subset: GATHER_SUBSET,
        // `--tags dns` runs the service's plays alone; `--tags bind` one role.
        tags: playTags(p),
        roles: [{ role: p.role }],
      }));
    const text = plays.length ? toYaml(plays, GENERATED) : toYaml([], `${GENERATED}\nThis site has no ${playbook} plays.`);
    files.set(`playbooks/${playbook}.yml`, text);
  }
  files.set(
    "site.yml",
    toYaml(
      used.map((p) => ({ name: p.title, "ansible.builtin.import_playbook": `playbooks/${p.file}.yml` })),
      GENERATED,
    ),
  );
  // With the site's Kubespray checkout: the site's services, then Kubernetes, in one run.
  if (kubespray?.checkoutDir) {
    files.set(
      "deploy.yml",
      toYaml(
        [
          { name: "The site's services", "ansible.builtin.import_playbook": "site.yml" },
          { name: `Kubernetes ${kubespray.kubernetes}, by Kubespray ${kubespray.version}`, "ansible.builtin.import_playbook": `${fromProject(outDir, kubespray.checkoutDir)}/cluster.yml` },
        ],
        GENERATED,
      ),
    );
  }
  return files;
}

/** Roles the plays use. */
export function usedRoles(site: Linked): string[] {
  return [...new Set(site.plays.map((p) => p.role))].sort();
}
