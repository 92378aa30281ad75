/** Playbooks: one for the admin services, one for every host's clients, one running both. */
import path from "node:path";
import type { Emission, Play } from "../components/component.js";
import type { KubesprayModel } from "../components/kubespray.js";
import { fromProject } from "./files.js";
import { GENERATED, toYaml } from "./yaml.js";

/**
 * The order roles run in. The repo server comes first on the admin (everything
 * installs from it); on every host, names and the CA before package sources,
 * package sources before anything that installs a package.
 */
const ROLE_ORDER = ["repo_server", "ca", "bind", "registry", "pypi_server", "resolver", "ca_trust", "repo_client", "chrony", "pip_client"];

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
  for (const playbook of ["admin", "nodes"] as const) {
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
      [
        { name: "Admin services", ansible: { import_playbook: "playbooks/admin.yml" } },
        { name: "Clients on every host", ansible: { import_playbook: "playbooks/nodes.yml" } },
      ].map((p) => ({ name: p.name, "ansible.builtin.import_playbook": p.ansible.import_playbook })),
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
