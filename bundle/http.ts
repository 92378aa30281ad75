/**
 * Every HTTP(S) request airgap makes on the bastion goes through here, so a
 * bastion behind a proxy works as its other tools do: `http_proxy`,
 * `https_proxy` and `no_proxy` (or their upper-case forms; the lower-case one
 * wins when both are set) are honoured by undici's EnvHttpProxyAgent, the
 * agent undici (Node's own HTTP client) ships for exactly this. Node 20's
 * built-in fetch ignores those variables.
 *
 * The tools airgap runs (skopeo, pip, git, go) get the same environment and
 * apply it themselves; note that Go's client (skopeo, go) never proxies
 * requests to localhost or loopback addresses.
 */
import { EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher, type RequestInit, type Response } from "undici";

/** The proxy settings a request follows, read from an environment. */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** `http_proxy`, `https_proxy`, `no_proxy` from `env`, lower case first, then upper case; empty values count as unset. */
export function proxySettings(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const pick = (name: string) => env[name] || env[name.toUpperCase()] || undefined;
  return { httpProxy: pick("http_proxy"), httpsProxy: pick("https_proxy"), noProxy: pick("no_proxy") };
}

const agents = new Map<string, Dispatcher>();

/** The dispatcher for `env`'s proxy settings (one per distinct setting, kept for the process's life). */
export function dispatcherFor(env: NodeJS.ProcessEnv = process.env): Dispatcher {
  const s = proxySettings(env);
  const key = JSON.stringify(s);
  let agent = agents.get(key);
  if (!agent) {
    // Settings given explicitly, so the agent follows `env` (a test's, or the process's), never a stale copy.
    // proxyTunnel false: an http:// URL goes to the proxy as a plain forwarded
    // request (as curl, apt and pip send it), not through CONNECT, which many
    // proxies allow only to port 443; https:// is tunnelled (CONNECT) as always.
    agent = new EnvHttpProxyAgent({ httpProxy: s.httpProxy ?? "", httpsProxy: s.httpsProxy ?? "", noProxy: s.noProxy ?? "", proxyTunnel: false });
    agents.set(key, agent);
  }
  return agent;
}

/** `fetch`, through the proxy `env` names for the URL (none when `no_proxy` matches it). */
export function httpFetch(url: string, init: RequestInit = {}, env: NodeJS.ProcessEnv = process.env): Promise<Response> {
  return undiciFetch(url, { ...init, dispatcher: dispatcherFor(env) });
}
