/**
 * `airgap init [DIR]`: a starter site of its own, named after the folder, with
 * the key pair that signs its bundles and that key already trusted by the
 * site, so the first `airgap bundle --key` is accepted inside. Not a copy of
 * examples/site.ts: the name, domain and key are the new site's.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { keygen, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from "../bundle/sign.js";
import { dslTypes, siteCompilerOptions } from "../compile/load/typecheck.js";

/** What `init` wrote (paths as given, relative to the caller's folder). */
export interface InitResult {
  site: string;
  name: string;
  files: string[];
  /** The private key: keep it on the bastion, never carry it in. */
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

/** `init` would overwrite these: nothing was written. */
export class InitRefused extends Error {
  constructor(readonly existing: string[]) {
    super(`${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""}; nothing was written`);
  }
}

/**
 * The site name for a folder: its base name in lower case, runs of anything
 * but letters and digits turned into one `-`, trimmed to a DNS label (at most
 * 63 characters, starting with a letter). "My Plant 2" → "my-plant-2";
 * a name with no letter or digit → "site".
 */
export function siteNameFor(dir: string): string {
  const base = path.basename(path.resolve(dir)).toLowerCase();
  let name = base.replace(/[^a-z0-9]+/g, "-").replace(/^[^a-z]+/, "").slice(0, 63).replace(/-+$/, "");
  if (!name) name = "site";
  return name;
}

/** The starter site's text for `name` (a DNS label), trusting `keys/airgap-bundle.pub`. */
export function starterSite(name: string): string {
  return `// The site "${name}", written by airgap init. Hover any field in an editor
// for its documentation; \`airgap validate site.ts\` checks the file,
// \`airgap compile site.ts\` writes its Ansible project to out/${name}/.
//
// Change the addresses and host names to your site's, then bundle on the
// bastion (the key pair in keys/ was made for this site):
//   airgap bundle site.ts -o bundle --key keys/${PRIVATE_KEY_FILE} --export ${name}.tar
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "${name}",
  domain: "${name}.internal",
  networks: [{ name: "site", cidr: "192.168.50.0/24" }],
  hosts: [
    // The admin host serves the site's time, names, packages and images.
    { name: "admin", address: "192.168.50.10", os: "debian-12", roles: ["admin"] },
    { name: "cp1", address: "192.168.50.11", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "node1", address: "192.168.50.21", os: "debian-12", roles: ["worker"] },
  ],
  services: {
    ntp: { on: "admin" },
    dns: { on: "admin" },
    // Bundles are accepted inside only when signed by this key's private half.
    repos: { on: "admin", trustedKey: "keys/${PUBLIC_KEY_FILE}" },
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("AIRGAP_REGISTRY_PUSH_PASSWORD"), access: "push" },
        { name: "pull", password: fromEnv("AIRGAP_REGISTRY_PULL_PASSWORD"), access: "pull" },
      ],
    },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
`;
}

/**
 * Writes the starter into `dir` (made when missing): site.ts, tsconfig.json
 * (the editor resolves `airgap` to this installation's DSL, with the
 * compiler's own options), .gitignore (the private key), keys/ (airgap keygen).
 * Throws InitRefused, writing nothing, when any of them exists.
 */
export async function writeStarter(dir: string): Promise<InitResult> {
  const name = siteNameFor(dir);
  const site = path.join(dir, "site.ts");
  const tsconfig = path.join(dir, "tsconfig.json");
  const ignore = path.join(dir, ".gitignore");
  const keys = path.join(dir, "keys");
  const existing = [site, tsconfig, ignore, path.join(keys, PRIVATE_KEY_FILE), path.join(keys, PUBLIC_KEY_FILE)].filter((f) => existsSync(f));
  if (existing.length > 0) throw new InitRefused(existing);
  mkdirSync(keys, { recursive: true });
  const k = await keygen(keys);
  writeFileSync(site, starterSite(name));
  const config = { compilerOptions: siteCompilerOptions(path.relative(path.resolve(dir), dslTypes)), files: ["site.ts"] };
  writeFileSync(tsconfig, JSON.stringify(config, null, 2) + "\n");
  writeFileSync(ignore, `# The private key signs bundles on the bastion: never commit it, never carry it in.\nkeys/${PRIVATE_KEY_FILE}\nout/\n`);
  return { site, name, files: [site, tsconfig, ignore, k.privateKey, k.publicKey], privateKey: k.privateKey, publicKey: k.publicKey, fingerprint: k.fingerprint };
}
