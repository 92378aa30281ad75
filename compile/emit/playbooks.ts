/** Playbooks: one for the admin services, one for every host's clients, one running both. */
import path from "node:path";
import type { Linked } from "../components/component.js";
import type { KubesprayModel } from "../components/kubespray.js";
import { fromProject } from "./files.js";
import { GENERATED, toYaml } from "./yaml.js";

const PLAYBOOKS = [
  { file: "admin", title: "Admin services" },
  { file: "network", title: "Site network (routes, gateway)" },
  { file: "nodes", title: "Clients on every host" },
] as const;

/** Vault files relative to the playbooks folder, for `vars_files`. */
function vaultFiles(site: Linked, playbookDir: string): string[] {
  const files = site.secrets.flatMap((s) => (s.kind === "vault" ? [s.file] : []));
  return [...new Set(files)].map((f) => path.relative(playbookDir, f)).sort();
}

/** The playbooks, their plays in the linked order (link.ts, from the roles' declared dependencies). */
export function emitPlaybooks(site: Linked, outDir: string, kubespray?: KubesprayModel): Map<string, string> {
  const files = new Map<string, string>();
  const vars = vaultFiles(site, path.join(outDir, "playbooks"));
  // network.yml only for a site that routes; admin.yml and nodes.yml always.
  const used = PLAYBOOKS.filter((p) => p.file !== "network" || site.plays.some((x) => x.playbook === "network"));
  for (const { file: playbook } of used) {
    const plays = site.plays
      .filter((p) => p.playbook === playbook)
      .map((p) => ({
        name: p.name,
        hosts: p.hosts,
        become: true,
        gather_facts: true,
        ...(vars.length ? { vars_files: vars } : {}),
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
