/**
 * The site's trusted bundle key (`repos.trustedKey`): an ed25519 public key
 * in PEM (SPKI) form, as `airgap keygen` writes it. The bundler's signer
 * (bundle/sign.ts) uses the same parsing and fingerprint.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";

/** A key file that cannot be used; the message names the file and why. */
export class KeyError extends Error {}

/** Short, stable name of a public key: SHA-256 of its raw 32 bytes, first 16 hex digits. */
export function keyFingerprint(pub: KeyObject): string {
  const raw = pub.export({ format: "der", type: "spki" }).subarray(-32);
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

/** Parses a PEM public key (ed25519); throws a KeyError naming `what`. */
export function parsePublicKey(pem: string | Buffer, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new KeyError(`${what} is not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyError(`${what} is a ${key.asymmetricKeyType} key; airgap verifies ed25519 (airgap keygen)`);
  return key;
}
