/**
 * Signing the bundle: an ed25519 key pair made by `airgap keygen` (Node's
 * crypto, no extra dependency). The signature is detached: raw 64 bytes over
 * the exact bytes of the file it signs, so `openssl pkeyutl -verify -pubin
 * -rawin -sigfile` checks it on a Debian 12 host without airgap.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { KeyError, keyFingerprint, parsePublicKey } from "../compile/model/keys.js";

export { KeyError, keyFingerprint, parsePublicKey };

export const PRIVATE_KEY_FILE = "airgap-bundle.key";
export const PUBLIC_KEY_FILE = "airgap-bundle.pub";

/**
 * Writes a new key pair into `dir`: the private key (PKCS#8 PEM, mode 0600,
 * never printed) and the public key (SPKI PEM). Refuses to overwrite either.
 */
export async function keygen(dir: string): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const privateKey = path.join(dir, PRIVATE_KEY_FILE);
  const publicKey = path.join(dir, PUBLIC_KEY_FILE);
  for (const f of [privateKey, publicKey]) if (existsSync(f)) throw new KeyError(`${f} already exists; nothing was written`);
  await mkdir(dir, { recursive: true });
  const pair = generateKeyPairSync("ed25519");
  // "wx": never replaces a file created in between; the mode applies at creation.
  await writeFile(privateKey, pair.privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
  await writeFile(publicKey, pair.publicKey.export({ format: "pem", type: "spki" }), { mode: 0o644, flag: "wx" });
  return { privateKey, publicKey, fingerprint: keyFingerprint(pair.publicKey) };
}

/**
 * Reads a PEM private key made by `airgap keygen`. Refuses (KeyError) a key
 * file that is not a regular file of ours to read alone: group- or
 * world-readable or writable (mode & 0o077), as ssh refuses such keys; a
 * symbolic link is not followed.
 */
export async function readPrivateKey(file: string): Promise<KeyObject> {
  let key: KeyObject;
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new KeyError(`cannot read the signing key ${file}: ${(err as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new KeyError(`the signing key ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new KeyError(
        `the signing key ${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}: other users may read or change it; refused (chmod 600 ${file}, and make a new key if others could read it)`,
      );
    }
    key = createPrivateKey(await fh.readFile());
  } catch (err) {
    if (err instanceof KeyError) throw err;
    throw new KeyError(`cannot read the signing key ${file}: ${(err as Error).message}`);
  } finally {
    await fh.close();
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyError(`${file} is a ${key.asymmetricKeyType} key; airgap signs with ed25519 (airgap keygen)`);
  return key;
}

export async function readPublicKey(file: string): Promise<KeyObject> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    throw new KeyError(`cannot read the public key ${file}: ${(err as Error).message}`);
  }
  return parsePublicKey(pem, file);
}

/** The detached signature of `data`: 64 raw bytes. */
export function signBytes(data: Buffer, key: KeyObject): Buffer {
  return sign(null, data, key);
}

export function verifyBytes(data: Buffer, signature: Buffer, key: KeyObject): boolean {
  return signature.length === 64 && verify(null, data, key, signature);
}

/** The public half of a private key, for checking that a signer matches the trusted key. */
export function publicOf(key: KeyObject): KeyObject {
  return createPublicKey(key);
}
