/**
 * How the bundle tools write files that others rely on (manifests,
 * signatures, chunk lists, the store's records): never through a name
 * someone else could have planted, never half-written after a crash.
 */
import { constants } from "node:fs";
import { open, rename, rm, unlink } from "node:fs/promises";
import path from "node:path";

/** Flags of a file this process creates itself: exclusive, no symbolic link followed. */
export const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** fsync of a folder: the renames into it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `file` with `data`: written to a fresh name beside it (created
 * exclusively, no link followed, with `mode` from the start), fsynced,
 * renamed over `file`, the folder fsynced. On failure the fresh name is
 * removed and `file` is as it was.
 */
export async function writeAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  const fh = await open(tmp, CREATE_EXCLUSIVE, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, file).catch(async (err) => {
    await unlink(tmp).catch(() => undefined);
    throw err;
  });
  await fsyncDir(path.dirname(file));
}
