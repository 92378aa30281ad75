/** Shared by the bundle tests: temp folders, digests, the Debian mirror probe. */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveMirrors } from "../../bundle/apt.js";

export function tempDir(prefix = "airgap-bundle-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Every file under `dir`, relative, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (statSync(p).isFile()) out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** A stream that collects what is written, as process.stderr would show it. */
export function sink(isTTY = false): { write(s: string): boolean; isTTY: boolean; text: () => string } {
  const parts: string[] = [];
  return { write: (s: string) => (parts.push(s), true), isTTY, text: () => parts.join("") };
}

let probed: Promise<string | undefined> | undefined;

/**
 * Whether the Debian mirror the bundle would use answers (its bookworm
 * InRelease). Resolves to undefined when it does, else to the reason.
 */
export function debianMirrorUnreachable(): Promise<string | undefined> {
  probed ??= (async () => {
    const { mirrors } = resolveMirrors({});
    const url = `${mirrors.debian}/dists/bookworm/InRelease`;
    try {
      const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(8000) });
      return res.ok ? undefined : `${url} answered HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return `${url} is unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`;
    }
  })();
  return probed;
}

/** In a `before` hook: skips the suite, saying why, when the Debian mirror is unreachable. */
export async function needDebianMirror(ctx: Mocha.Context): Promise<void> {
  const reason = await debianMirrorUnreachable();
  if (reason) {
    process.stderr.write(`      skipped (@network): ${reason}\n`);
    ctx.skip();
  }
}
