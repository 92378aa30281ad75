/**
 * Fetches an artifact's content from its URL into the store: http(s) through
 * undici, honouring the bastion's proxy variables (http.ts), `file://` from
 * the local file system. Used for every kind
 * (packages and plain files), so all share one verification and one progress.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { httpFetch } from "./http.js";
import type { Artifact } from "./manifest.js";
import { IntegrityError, type Expected, type Store } from "./store.js";

/** A download that failed: which artifact, from where, and why. */
export class DownloadError extends Error {
  constructor(
    readonly artifact: string,
    readonly url: string,
    readonly reason: string,
  ) {
    super(`${artifact}: ${url}: ${reason}`);
  }
}

/** How an artifact is named in messages: `deb chrony 4.3-2 amd64`, `file files/dl.k8s.io/…`. */
export function artifactLabel(a: Pick<Artifact, "kind" | "name" | "version" | "arch" | "path">): string {
  return a.kind === "file" ? `file ${a.path}` : [a.kind, a.name, a.version, a.arch].filter(Boolean).join(" ");
}

export interface DownloadOptions {
  /** Give up when no byte arrives for this long. @default 60 s */
  idleTimeoutMs?: number;
  /** Attempts after a transfer error (never after a digest mismatch from a complete transfer). @default 2 */
  retries?: number;
  onBytes?: (n: number) => void;
  /** Called before a retry, with the bytes of the failed attempt to take back from progress. */
  onRetry?: (bytesLost: number, reason: string) => void;
  /** Where the proxy variables are read (http.ts). @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Where a plain file is read from in a local mirror laid out as `<host>/<path>` (Kubespray's files_repo layout). */
export function mirrorUrl(mirrorDir: string, upstream: string): string {
  const u = new URL(upstream);
  return pathToFileURL(path.join(path.resolve(mirrorDir), u.host, decodeURIComponent(u.pathname))).href;
}

async function* withIdleTimeout(body: AsyncIterable<Uint8Array>, ms: number, abort: AbortController): AsyncIterable<Uint8Array> {
  let timer = setTimeout(() => abort.abort(new Error(`no data for ${ms / 1000} s`)), ms);
  try {
    for await (const chunk of body) {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(new Error(`no data for ${ms / 1000} s`)), ms);
      yield chunk;
    }
  } catch (err) {
    throw abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a URL's content as a stream of bytes. */
async function openUrl(url: string, idleTimeoutMs: number, env?: NodeJS.ProcessEnv): Promise<AsyncIterable<Uint8Array>> {
  const u = new URL(url);
  if (u.protocol === "file:") {
    const file = fileURLToPath(u);
    const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === "ENOENT" ? "no such file" : err.message);
    });
    if (!st.isFile()) throw new Error("not a regular file");
    return createReadStream(file);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`unsupported URL scheme ${u.protocol}`);
  const abort = new AbortController();
  const connect = setTimeout(() => abort.abort(new Error(`no answer in ${idleTimeoutMs / 1000} s`)), idleTimeoutMs);
  let res: Awaited<ReturnType<typeof httpFetch>>;
  try {
    res = await httpFetch(url, { signal: abort.signal, redirect: "follow" }, env);
  } catch (err) {
    throw new Error(describeFetchError(err, abort));
  } finally {
    clearTimeout(connect);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  }
  const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
  return withIdleTimeout(body, idleTimeoutMs, abort);
}

function describeFetchError(err: unknown, abort?: AbortController): string {
  if (abort?.signal.aborted && abort.signal.reason instanceof Error) return abort.signal.reason.message;
  const e = err as Error & { cause?: Error & { code?: string } };
  const cause = e.cause;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? ` (${cause.message})` : ` ${cause.message ?? ""}`}`.trim();
  return cause?.message ?? e.message;
}

/**
 * Downloads `url` into the store, verified against `expected`. Returns the
 * stored size. Throws a DownloadError naming the artifact, the URL and why.
 */
export async function download(store: Store, label: string, url: string, expected: Expected, options: DownloadOptions = {}): Promise<number> {
  const idle = options.idleTimeoutMs ?? 60_000;
  const retries = options.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    let got = 0;
    try {
      const content = await openUrl(url, idle, options.env);
      return await store.put(content, expected, (n) => {
        got += n;
        options.onBytes?.(n);
      });
    } catch (err) {
      const reason = err instanceof IntegrityError ? err.message : describeFetchError(err);
      // A wrong digest from a complete transfer will not change on a retry; a cut transfer may.
      const retriable = !(err instanceof IntegrityError && err.message.startsWith("sha256")) && !url.startsWith("file:");
      if (attempt < retries && retriable) {
        options.onRetry?.(got, reason);
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        continue;
      }
      throw new DownloadError(label, url, reason);
    }
  }
}

/**
 * Downloads content its upstream pins by SHA-512 only, or by nothing, into the
 * store (verifying the SHA-512 when there is one); returns its SHA-256 and size.
 */
export async function downloadPinned(store: Store, label: string, url: string, pin: { sha512?: string }, options: DownloadOptions = {}): Promise<{ sha256: string; size: number }> {
  const idle = options.idleTimeoutMs ?? 60_000;
  const retries = options.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    let got = 0;
    try {
      return await store.putPinned(await openUrl(url, idle, options.env), pin, (n) => {
        got += n;
        options.onBytes?.(n);
      });
    } catch (err) {
      const reason = err instanceof IntegrityError ? err.message : describeFetchError(err);
      const retriable = !(err instanceof IntegrityError) && !url.startsWith("file:");
      if (attempt < retries && retriable) {
        options.onRetry?.(got, reason);
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        continue;
      }
      throw new DownloadError(label, url, reason);
    }
  }
}

/** The size of a URL's content without fetching it (HEAD through the proxy `env` names, or stat for file://); undefined when unknown. */
export async function probeSize(url: string, timeoutMs = 15_000, env?: NodeJS.ProcessEnv): Promise<number | undefined> {
  try {
    const u = new URL(url);
    if (u.protocol === "file:") return (await stat(fileURLToPath(u))).size;
    const res = await httpFetch(url, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(timeoutMs) }, env);
    const len = res.ok ? res.headers.get("content-length") : null;
    return len !== null && /^\d+$/.test(len) ? Number(len) : undefined;
  } catch {
    return undefined;
  }
}
