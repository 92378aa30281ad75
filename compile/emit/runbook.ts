/**
 * The operator's road, as data: every step of the runbook is a `RunbookStep`
 * with the shell lines to copy, rendered to markdown by `renderSteps` and
 * read back from the markdown by `parseRunbook` (the lab walks the compiled
 * runbook that way: a runbook that lies fails the tests).
 *
 * The road: keygen (once) → compile → bundle, signed, exported → check
 * (Kubespray) → carry → on the controller inside: unload → import (verify,
 * then store) → secrets → ping → site.yml → Kubespray (its Python packages
 * from the site's own index into a venv; cluster.yml with the site's
 * secrets) → health checks.
 *
 * Shell conventions: the blocks of one place (`bastion`, `controller`) are
 * pasted into one shell, in order: a `cd` or an `export` in one block holds
 * for the next. The bastion's shell starts in the site file's folder; the
 * controller's in any folder (its first step goes to `~/airgap-<site>`).
 */
import path from "node:path";
import type { Linked, Play } from "../components/component.js";
import type { KubesprayModel } from "../components/kubespray.js";
import type { ReposModel } from "../components/repos.js";
import { sourceCommit, sourcePath, sourcePrefix } from "../kubespray/source.js";
import { KIT_HOME, kitAnsible } from "../kit.js";

/** Where a step runs: the bastion (online), or the Ansible controller inside the site. */
export type StepPlace = "bastion" | "controller";

/** One step of the road. */
export interface RunbookStep {
  /** Stable identifier (`bundle`, `import`, `site`, …); tests find steps by it. */
  id: string;
  title: string;
  on: StepPlace;
  /** Markdown paragraphs before the commands. */
  text: string[];
  /** Shell lines (bash), run in order; empty for a step that is prose only. */
  commands: string[];
  /**
   * Environment variables the operator provides before this step (`MEDIA`,
   * `KUBESPRAY_DIR`); the lab skips a step whose needs it cannot meet, and
   * says so.
   */
  needs?: string[];
  /** Lines the step's commands read on standard input, one per name (secrets typed by the operator, never in argv). */
  input?: string[];
}

/** What the runbook is made from. */
export interface RunbookInput {
  site: Linked;
  kubespray?: KubesprayModel;
  repos?: ReposModel;
  /** Absolute folder the project is written to. */
  outDir: string;
}

const posix = (p: string) => p.split(path.sep).join("/");
/** A shell word: bare when it is safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** Inventory tags of a play: its service (component key), then its role. */
export function playTags(p: Play): string[] {
  return [...new Set([p.service, p.role])];
}

/** The steps of the road for a site, in order. */
export function runbookSteps(i: RunbookInput): RunbookStep[] {
  const { site, kubespray, repos } = i;
  const core = site.core;
  const siteDir = path.dirname(core.siteFile);
  const fromSite = (p: string) => posix(path.relative(siteDir, p)) || ".";
  const siteFile = shellWord(path.basename(core.siteFile));
  const project = path.basename(i.outDir);
  const home = `~/airgap-${core.name}`;
  const bundle = site.plays.some((p) => p.role === "repo_server");
  const vaults = [...new Set(site.secrets.flatMap((s) => (s.kind === "vault" ? [s.file] : [])))].sort();
  const envs = [...new Set(site.secrets.flatMap((s) => (s.kind === "env" ? [s.name] : [])))].sort();
  const vaultFlag = vaults.length ? " --ask-vault-pass" : "";
  const keyDir = repos?.trustedKeyFile ? fromSite(path.dirname(repos.trustedKeyFile)) : "keys";
  const privateKey = `${keyDir}/airgap-bundle.key`;
  const publicKey = repos?.trustedKeyFile ? fromSite(repos.trustedKeyFile) : `${keyDir}/airgap-bundle.pub`;
  const transfer = `transfer/${core.name}.tar`;
  const store = `"$HOME/airgap-${core.name}/store"`;
  const steps: RunbookStep[] = [];
  // The release's source travels in the bundle when its catalogue pins a commit
  // and the site names no checkout of its own (bundle/kubespray-source.ts).
  const filesRepo = site.kubespray.files_repo;
  const source = bundle && kubespray && !kubespray.checkoutDir && sourceCommit(kubespray.catalogue) && typeof filesRepo === "string"
    ? { path: sourcePath(kubespray.version), dir: sourcePrefix(kubespray.version), commit: sourceCommit(kubespray.catalogue)! }
    : undefined;

  if (bundle) {
    steps.push({
      id: "keygen",
      title: "Once: the key that signs bundles",
      on: "bastion",
      text: repos?.trustedKeyFile
        ? [`The site trusts \`${publicKey}\` (\`services.repos.trustedKey\`). Make its pair once, where it is named, and keep the private key on the bastion:`]
        : [
            "Make the key pair that signs bundles once, and keep the private key on the bastion. " +
              `Then name \`${publicKey}\` in the site file (\`services.repos: { trustedKey: "${publicKey}" }\`) and compile again: ` +
              "until the site names a trusted key, its admin refuses every bundle.",
          ],
      commands: [`test -e ${shellWord(privateKey)} || airgap keygen ${shellWord(keyDir)}`],
    });
  }
  steps.push({
    id: "compile",
    title: "Compile the site",
    on: "bastion",
    text: ["After every change of the site file (this runbook is part of the output):"],
    commands: [`airgap compile ${siteFile} -o ${shellWord(fromSite(i.outDir))}`],
  });
  if (bundle) {
    steps.push({
      id: "bundle",
      title: "Collect, sign and export the bundle",
      on: "bastion",
      text: [
        "Fetch and verify everything the site needs into `bundle/` (a second run fetches only what is new), sign its manifest, " +
          `and write the transfer file \`${transfer}\`. ` +
          "For media smaller than the file add `--split 4G` (the chunks and their signed list `" + path.basename(transfer) + ".chunks.json` travel together); " +
          "for a delta against what the site already holds add `--since OLD/manifest.json`.",
      ],
      commands: [`airgap bundle ${siteFile} -o bundle --key ${shellWord(privateKey)}${source ? ' --kubespray "$KUBESPRAY_DIR"' : ""} --export ${transfer}`],
      ...(source ? { needs: ["KUBESPRAY_DIR"] } : {}),
    });
    if (source) {
      steps[steps.length - 1].text.push(
        `\`KUBESPRAY_DIR\` is a Kubespray clone on the bastion that holds ${kubespray!.version}'s commit ${source.commit} (\`git fetch --tags\`): ` +
          `the bundle carries that commit's tree, \`git archive\`d, as \`${source.path}\`.`,
      );
    }
  }
  if (bundle && kubespray) {
    steps.push({
      id: "check",
      title: "Prove Kubespray will find everything inside",
      on: "bastion",
      text: ["Every download and image Kubespray will ask for is in the bundle, and nothing points outside the site:"],
      commands: [`airgap check ${siteFile} --manifest bundle/manifest.json`],
    });
  }
  const carried = [bundle ? "the transfer file" : "", `the compiled project (\`${project}/\`)`, bundle ? "the trusted public key" : "", vaults.length ? "the vault files" : ""].filter(Boolean);
  steps.push({
    id: "carry",
    title: "Carry it across the gap",
    on: "bastion",
    text: [
      `Copy ${carried.length > 1 ? `${carried.slice(0, -1).join(", ")} and ${carried[carried.length - 1]}` : carried[0]} onto the removable media mounted at \`$MEDIA\`. ` +
        (bundle ? "The transfer file is signed and verified inside; check the public key's fingerprint against the one `airgap keygen` printed." : ""),
    ],
    commands: [
      `mkdir -p "$MEDIA/${core.name}"`,
      ...(bundle ? [`cp -r transfer "$MEDIA/${core.name}/"`, `cp ${shellWord(publicKey)} "$MEDIA/${core.name}/airgap-bundle.pub"`] : []),
      `mkdir -p "$MEDIA/${core.name}/${project}"`,
      `cp -r ${shellWord(fromSite(i.outDir))}/. "$MEDIA/${core.name}/${project}/"`,
      // Vault files keep their place relative to the project (the inventory reads them from there).
      ...vaults.flatMap((v) => {
        const rel = posix(path.relative(path.dirname(i.outDir), v));
        return [`mkdir -p "$MEDIA/${core.name}/${posix(path.dirname(rel))}"`, `cp ${shellWord(fromSite(v))} "$MEDIA/${core.name}/${rel}"`];
      }),
    ],
    needs: ["MEDIA"],
  });
  steps.push({
    id: "unload",
    title: "Unload",
    on: "controller",
    text: [
      "On the Ansible controller inside the site (a minimal install with Python 3 and openssl is enough when the bundle carries the controller's kit; " +
        "otherwise it needs `ansible-core`, the collections of the project's `requirements.yml` and `airgap`; a host of the site is best: " +
        "it trusts the site CA and uses the site's names once `site.yml` has run), copy what you carried to its disk:",
    ],
    commands: [`mkdir -p ${home}`, `cp -r "$MEDIA/${core.name}/." ${home}/`, `cd ${home}`],
    needs: ["MEDIA"],
  });
  if (bundle) {
    const kit = KIT_HOME;
    steps.push({
      id: "kit",
      title: "The controller's kit, from the transfer file",
      on: "controller",
      text: [
        "The bundle carries what this controller needs (docs/controller-kit.md): Ansible " + kitAnsible(kubespray) + " (ansible-core and its collections) and pip as wheels, " +
          "Node.js and airgap. Before airgap is here, `airgap_kit.py` (in the project, Python 3 only) checks the manifest's signature against the trusted key with openssl, " +
          "then each kit file against the signed manifest's SHA-256, and only then places them in `kit/`. " +
          "They are installed under `" + kit + "/` (a venv, Node.js, airgap), nothing from any network; the `PATH` line holds for the steps below " +
          "(add it to your shell's profile). A delta transfer may carry no kit: skip this step when the controller has it.",
      ],
      commands: [
        `python3 ${shellWord(project)}/roles/store/files/airgap_kit.py unpack ${transfer} --trust airgap-bundle.pub --site ${core.name} --out kit`,
        `python3 -m venv --without-pip ${kit}/venv`,
        `${kit}/venv/bin/python3 "$(echo kit/python/pip-*.whl)/pip" install --quiet --no-index --find-links kit/python pip ansible==${kitAnsible(kubespray)}`,
        `rm -rf ${kit}/node ${kit}/airgap && mkdir -p ${kit}/node ${kit}/airgap ${kit}/bin`,
        `tar -xzf kit/node/node-linux-*.tgz -C ${kit}/node --strip-components=1`,
        `tar -xzf kit/airgap/airgap-*.tgz -C ${kit}/airgap --strip-components=1`,
        `ln -sfn ${kit}/airgap/bin/airgap.js ${kit}/bin/airgap`,
        `export PATH="${kit.replace(/^~/, "$HOME")}/bin:${kit.replace(/^~/, "$HOME")}/node/bin:${kit.replace(/^~/, "$HOME")}/venv/bin:$PATH"`,
        "airgap --version && node --version && ansible --version",
        `(cd ${shellWord(project)} && ansible-playbook --syntax-check site.yml)`,
      ],
    });
  }
  if (bundle) {
    steps.push({
      id: "import",
      title: "Verify and import the bundle",
      on: "controller",
      text: [
        "The signature, every chunk and every blob are checked before anything enters the store, and a bundle made for another site is refused; " +
          "a refused transfer leaves the store as it was. " +
          `A split transfer is imported the same way (its chunk list \`${path.basename(transfer)}.chunks.json\` is found beside it).`,
      ],
      commands: [`airgap import ${transfer} --store store --trust airgap-bundle.pub --site ${core.name}`],
    });
  }
  if (envs.length) {
    steps.push({
      id: "secrets",
      title: "The site's secrets",
      on: "controller",
      text: [
        "Type each secret the site refers to (never written to a file, never on a command line); " +
          "every playbook below reads them from the environment, Kubespray's included:",
      ],
      commands: envs.map((n) => `read -rsp '${n}: ' ${n} && export ${n} && echo`),
      input: envs,
    });
  }
  steps.push({
    id: "ping",
    title: "Every host answers",
    on: "controller",
    text: [
      "Ansible checks host keys: the first time, add each host's key to `~/.ssh/known_hosts` from a source you trust (its console, the installer's log). " +
        (vaults.length ? "The playbooks read the vault files when a play needs a secret: have the vault password at hand. " : "") +
        "Then:",
    ],
    commands: [`cd ${project}`, "ansible all -m ansible.builtin.ping"],
  });
  const tags = [...new Set(site.plays.flatMap(playTags))].sort();
  steps.push({
    id: "site",
    title: "Build the site's services, then point every host at them",
    on: "controller",
    text: [
      `\`site.yml\` runs ${site.plays.some((p) => p.playbook === "network") ? "`playbooks/admin.yml`, `playbooks/network.yml` and `playbooks/nodes.yml`" : "`playbooks/admin.yml` and `playbooks/nodes.yml`"}, in that order. ` +
        (bundle ? "Give it the store on the first run and after each import; without it the admin keeps serving what it has. " : "") +
        "A second run reports `changed=0` on every host. " +
        `One service alone: \`--tags TAG\` (${tags.map((t) => `\`${t}\``).join(", ")}; see "Tags" below).`,
    ],
    commands: [`ansible-playbook site.yml${bundle ? ` -e airgap_repo_server_bundle=${store}` : ""}${vaultFlag}`],
  });
  if (kubespray) {
    const requirements = kubespray.catalogue.controller?.requirements ?? [];
    const index = site.endpoints["pip-index"];
    if (source) {
      const file = path.posix.basename(source.path);
      steps.push({
        id: "kubespray-source",
        title: `Kubespray ${kubespray.version}, from the bundle`,
        on: "controller",
        text: [
          `The release's source, from files_repo, checked against the imported store's manifest, unpacked into \`${source.dir}/\` ` +
            "(on a host of the site, curl trusts the site CA):",
        ],
        commands: [
          `curl -fsSO ${filesRepo}/${source.path.slice("files/".length)}`,
          `python3 -c 'import json, sys; print([a["sha256"] for a in json.load(open(sys.argv[1]))["artifacts"] if a["path"] == sys.argv[2]][0], sys.argv[3])' ${store}/manifest.json ${source.path} ${file} | sha256sum -c`,
          `tar -xzf ${file}`,
        ],
      });
    }
    if (requirements.length && index) {
      steps.push({
        id: "kubespray-venv",
        title: "Kubespray's Python packages, from the site's index",
        on: "controller",
        text: [
          `Kubespray ${kubespray.version} runs with its own Ansible: its \`requirements.txt\`, carried in the bundle, installed from the site's index alone into a venv ` +
            "(on a host of the site, pip trusts the site CA):",
        ],
        commands: [
          "python3 -m venv ~/kubespray-venv",
          source
            ? `~/kubespray-venv/bin/pip install --index-url ${index} -r ${source.dir}/requirements.txt`
            : `~/kubespray-venv/bin/pip install --index-url ${index} ${requirements.map(shellWord).join(" ")}`,
        ],
      });
    }
    const ansible = requirements.length && index ? "~/kubespray-venv/bin/ansible-playbook" : "ansible-playbook";
    steps.push({
      id: "kubespray",
      title: `Kubernetes ${kubespray.kubernetes}, by Kubespray ${kubespray.version}`,
      on: "controller",
      text: [
        "Kubespray's own `cluster.yml` against the same inventory: its offline settings are in `inventory/group_vars/all/kubespray-offline.yml`, " +
          "and the site's secrets reach it as they reach `site.yml` (" +
          (envs.length ? "the environment" : "") +
          (envs.length && vaults.length ? "; " : "") +
          (vaults.length ? "the vault files through `inventory/group_vars/all/airgap-secrets.yml`" : "") +
          (envs.length || vaults.length ? ")" : "none here)") +
          (source
            ? `. It runs from \`${source.dir}/\` (its \`ansible.cfg\` names its roles and modules).`
            : ". `KUBESPRAY_DIR` is the Kubespray " + kubespray.version + " source on the controller."),
      ],
      commands: kubespray.checkoutDir
        ? [`${ansible} -b deploy.yml${bundle ? ` -e airgap_repo_server_bundle=${store}` : ""}${vaultFlag}`]
        : source
          ? [`(cd ${source.dir} && ${ansible} -i ../inventory/hosts.yml -b cluster.yml${vaultFlag})`]
          : [`${ansible} -i inventory/hosts.yml -b "$KUBESPRAY_DIR/cluster.yml"${vaultFlag}`],
      needs: kubespray.checkoutDir || source ? undefined : ["KUBESPRAY_DIR"],
    });
  }
  const health: string[] = [`ansible-playbook site.yml --check${vaultFlag}`];
  if (site.plays.some((p) => p.role === "chrony")) health.push("ansible 'all:!airgap_ntp_servers' -m ansible.builtin.command -a 'chronyc -n sources'");
  const firstName = [...site.names.keys()].sort()[0];
  if (site.plays.some((p) => p.role === "resolver") && firstName) {
    health.push(`ansible all -m ansible.builtin.command -a 'getent ahostsv4 ${firstName}.${core.domain}'`);
  }
  steps.push({
    id: "health",
    title: "Is the site healthy?",
    on: "controller",
    text: [
      "A check-mode run changes nothing and must report `changed=0` and `failed=0` on every host: the hosts are as compiled. " +
        "Then each host asks the site's services itself (time sources, names):",
    ],
    commands: health,
  });
  if (kubespray) {
    steps.push({
      id: "kubernetes-health",
      title: "Is Kubernetes up?",
      on: "controller",
      text: ["After Kubespray's run, every node is `Ready`:"],
      commands: ["ansible 'kube_control_plane[0]' -b -m ansible.builtin.command -a 'kubectl get nodes -o wide'"],
      needs: kubespray.checkoutDir || source ? undefined : ["KUBESPRAY_DIR"],
    });
  }
  return steps;
}

const PLACE = { bastion: "on the bastion", controller: "on the controller" } as const;

/** The steps as markdown: a numbered heading, the prose, a marker the tests read, the `sh` block. */
export function renderSteps(steps: RunbookStep[]): string {
  return steps
    .map((s, n) => {
      const marker = `<!-- airgap-step ${s.id} on=${s.on}${s.needs?.length ? ` needs=${s.needs.join(",")}` : ""}${s.input?.length ? ` input=${s.input.join(",")}` : ""} -->`;
      const block = s.commands.length ? `\n\n${marker}\n\`\`\`sh\n${s.commands.join("\n")}\n\`\`\`` : "";
      return `### ${n + 1}. ${s.title}, ${PLACE[s.on]}\n\n${s.text.join("\n\n")}${block}\n`;
    })
    .join("\n");
}

/** A step as read back from a rendered runbook. */
export interface ParsedStep {
  id: string;
  on: StepPlace;
  needs: string[];
  input: string[];
  commands: string[];
}

/** Reads the steps back from a rendered runbook (README.md), in order. */
export function parseRunbook(markdown: string): ParsedStep[] {
  const steps: ParsedStep[] = [];
  const re = /^<!-- airgap-step (\S+) on=(bastion|controller)((?: \w+=\S+)*) -->\n```sh\n([\s\S]*?)\n```$/gm;
  for (const m of markdown.matchAll(re)) {
    const attrs = Object.fromEntries([...m[3].matchAll(/ (\w+)=(\S+)/g)].map((a) => [a[1], a[2].split(",")]));
    steps.push({ id: m[1], on: m[2] as StepPlace, needs: attrs.needs ?? [], input: attrs.input ?? [], commands: m[4].split("\n") });
  }
  return steps;
}
