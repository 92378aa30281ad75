/** Playbooks: one for the admin services, one for every host's clients, one running both. */
import path from "node:path";
import type { Emission, Play } from "../components/component.js";
import type { KubesprayModel } from "../components/kubespray.js";
import { fromProject } from "./files.js";
import { GENERATED, toYaml } from "./yaml.js";

/**
 * The order roles run in. The repo server comes first on the admin (everything
 * installs from it); on every host, names and the CA before package sources,
 * package sources before anything that installs a package. The network
 * playbook runs between the admin's and the nodes': routes on every host, then
 * the gateway (with its own package sources first, as it installs nftables),
 * so the hosts behind it are configured through its final ruleset.
 */
const ROLE_ORDER = ["repo_server", "ca", "bind", "registry", "pypi_server", "routes", "resolver", "ca_trust", "repo_client", "gateway", "chrony", "pip_client"];

const PLAYBOOKS = [
  { file: "admin", title: "Admin services" },
  { file: "network", title: "Site network (routes, gateway)" },
  { file: "nodes", title: "Clients on every host" },
] as const;

function order(p: Play): number {
  const i = ROLE_ORDER.indexOf(p.role);
  return i < 0 ? ROLE_ORDER.length : i;
}

/** Vault files relative to the playbooks folder, for `vars_files`. */
function vaultFiles(out: Emission, playbookDir: string): string[] {
  const files = out.secrets.flatMap((s) => (s.kind === "vault" ? [s.file] : []));
  return [...new Set(files)].map((f) => path.relative(playbookDir, f)).sort();
}

export function emitPlaybooks(out: Emission, outDir: string, kubespray?: KubesprayModel): Map<string, string> {
  const files = new Map<string, string>();
  const vars = vaultFiles(out, path.join(outDir, "playbooks"));
  // network.yml only for a site that routes; admin.yml and nodes.yml always.
  const used = PLAYBOOKS.filter((p) => p.file !== "network" || out.plays.some((x) => x.playbook === "network"));
  for (const { file: playbook } of used) {
    const plays = out.plays
      .filter((p) => p.playbook === playbook)
      .sort((a, b) => order(a) - order(b))
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
export function usedRoles(out: Emission): string[] {
  return [...new Set(out.plays.map((p) => p.role))].sort();
}
