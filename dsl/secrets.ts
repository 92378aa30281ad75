/**
 * Secrets are never written in a site file: the site refers to them, and the
 * compiled project reads them at run time on the Ansible controller.
 */

/** A secret read from an environment variable of the `ansible-playbook` run. */
export interface EnvSecret {
  /** Name of the environment variable, for example `"AIRGAP_REGISTRY_PUSH_PASSWORD"`. */
  readonly env: string;
}

/** A secret stored in an Ansible Vault encrypted variables file. */
export interface VaultSecret {
  /** Path of the vault file, relative to the site file (keep it beside `site.ts`, not in `out/`). */
  readonly vault: string;
  /** Name of the variable inside the vault file. */
  readonly key: string;
}

/** A reference to a secret; a literal string is not accepted. */
export type Secret = EnvSecret | VaultSecret;

/** A secret taken from the environment variable `name` when the playbook runs. */
export function fromEnv(name: string): EnvSecret {
  return { env: name };
}

/** A secret stored as variable `key` in the Ansible Vault file `file` (relative to the site file). */
export function fromVault(file: string, key: string): VaultSecret {
  return { vault: file, key };
}
