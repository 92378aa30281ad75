/**
 * The Kubespray release's source, as the bundle carries it: a deterministic
 * `git archive` of the release's commit (the catalogue's `commit`), made on
 * the bastion from a Kubespray checkout (bundle/kubespray-source.ts), placed
 * under the served root beside Kubespray's files and fetched by the
 * controller inside from files_repo (the runbook's steps).
 */
import type { Catalogue } from "./catalogue.js";

/** A full git commit id: 40 lower-case hex digits. */
const COMMIT = /^[0-9a-f]{40}$/;

/** The archive's top folder: `kubespray-<release>` (every entry is under it). */
export function sourcePrefix(release: string): string {
  return `kubespray-${release}`;
}

/**
 * Where the bundle puts the release's source archive, relative to the served
 * root: `files/kubespray/kubespray-<release>.tar.gz`, i.e.
 * `<files_repo>/kubespray/kubespray-<release>.tar.gz` (`kubespray` has no dot,
 * so it is never an upstream host of files_repo's `<host>/<path>` layout).
 */
export function sourcePath(release: string): string {
  return `files/kubespray/${sourcePrefix(release)}.tar.gz`;
}

/**
 * The commit whose tree the bundle carries, when the catalogue pins one (a
 * full 40-digit id, as `npm run kubespray:catalogue` records it from the
 * checkout); undefined for a catalogue that names none or a stand-in's label
 * (the lab's `"lab stand-in"`).
 */
export function sourceCommit(c: Pick<Catalogue, "commit">): string | undefined {
  return c.commit && COMMIT.test(c.commit) ? c.commit : undefined;
}
