/**
 * A bastion behind an HTTP proxy: every download airgap makes, and the pip it
 * runs, goes through the proxy `http_proxy`/`https_proxy` (or upper case)
 * names, except for the hosts `no_proxy` lists. A real proxy (tinyproxy, from
 * test/packages.txt) on the loopback logs each request it forwards and adds
 * its `Via` header, and a real origin server (node:http) records what reached
 * it and how.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { download, probeSize } from "../../bundle/download.js";
import { proxySettings } from "../../bundle/http.js";
import { Store } from "../../bundle/store.js";
import { planWheels } from "../../bundle/wheels.js";
import { synth } from "../../compile/synth.js";
import { ROOT } from "../helpers.js";
import { tempDir } from "./helpers.js";

const MAKE_WHEELS = path.join(ROOT, "test/bundle/make_wheels.py");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Seen {
  url: string;
  via?: string;
}

/** An origin on the loopback: /data/NAME serves fixed bytes, /simple/… a PEP 503 index over a wheelhouse. */
async function startOrigin(wheelhouse: string, data: Buffer): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    seen.push({ url, via: req.headers.via });
    if (url.startsWith("/data/")) {
      res.writeHead(200, { "content-length": data.length });
      res.end(req.method === "HEAD" ? undefined : data);
      return;
    }
    const project = /^\/simple\/([^/]+)\/$/.exec(url)?.[1];
    if (project) {
      const files = readdirSync(wheelhouse).filter((f) => f.split("-")[0].replace(/_/g, "-") === project);
      if (!files.length) {
        res.writeHead(404).end();
        return;
      }
      const links = files.map((f) => {
        const digest = createHash("sha256").update(readFileSync(path.join(wheelhouse, f))).digest("hex");
        return `<a href="/files/${f}#sha256=${digest}">${f}</a>`;
      });
      res.writeHead(200, { "content-type": "text/html" }).end(`<!DOCTYPE html><html><body>${links.join("\n")}</body></html>`);
      return;
    }
    const file = /^\/files\/([^/]+)$/.exec(url)?.[1];
    if (file && readdirSync(wheelhouse).includes(file)) {
      res.writeHead(200).end(readFileSync(path.join(wheelhouse, file)));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** tinyproxy on the loopback, in the foreground, logging each request to a file. */
async function startProxy(dir: string): Promise<{ url: string; log(): string; stop(): Promise<void> }> {
  const port = await freePort();
  const logFile = path.join(dir, "tinyproxy.log");
  const conf = path.join(dir, "tinyproxy.conf");
  writeFileSync(logFile, "");
  writeFileSync(conf, [`Port ${port}`, "Listen 127.0.0.1", "Timeout 30", "Allow 127.0.0.1", "LogLevel Connect", `LogFile "${logFile}"`, "MaxClients 50", ""].join("\n"));
  const child: ChildProcess = spawn("tinyproxy", ["-d", "-c", conf], { stdio: "ignore" });
  // Ready when it accepts a connection.
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) break;
    if (i > 100 || child.exitCode !== null) throw new Error("tinyproxy did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => readFileSync(logFile, "utf8"),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

describe("bundle: the bastion's HTTP proxy (tinyproxy on the loopback)", function () {
  this.timeout(120_000);
  let dir: string;
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  const data = Buffer.from("the content of a file the site needs\n");
  const digest = createHash("sha256").update(data).digest("hex");

  before(async function () {
    if (spawnSync("tinyproxy", ["-v"]).error) assert.fail("tinyproxy is not installed (test/packages.txt; run test/setup.sh)");
    dir = tempDir("airgap-proxy-");
    const wheelhouse = path.join(dir, "wheels");
    execFileSync("python3", [MAKE_WHEELS, wheelhouse]);
    origin = await startOrigin(wheelhouse, data);
    proxy = await startProxy(dir);
  });
  after(async () => {
    await proxy?.stop();
    await origin?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh store and a download of /data/NAME with `env`; returns what the origin and the proxy saw of it. */
  async function fetchWith(name: string, env: NodeJS.ProcessEnv): Promise<{ origin: Seen | undefined; proxied: boolean }> {
    const store = new Store(path.join(dir, `store-${name}`));
    await store.open();
    const url = `${origin.url}/data/${name}`;
    const size = await download(store, `file ${name}`, url, { sha256: digest, size: data.length }, { env, retries: 0 });
    await store.close();
    assert.equal(size, data.length);
    return { origin: origin.seen.find((s) => s.url === `/data/${name}`), proxied: proxy.log().includes(`GET ${url} `) };
  }

  it("reads the variables as curl does: lower case first, then upper case", () => {
    assert.deepEqual(proxySettings({ HTTP_PROXY: "http://a:1", http_proxy: "http://b:2", HTTPS_PROXY: "http://c:3", NO_PROXY: "x" }), {
      httpProxy: "http://b:2",
      httpsProxy: "http://c:3",
      noProxy: "x",
    });
    assert.deepEqual(proxySettings({}), { httpProxy: undefined, httpsProxy: undefined, noProxy: undefined });
  });

  it("without a proxy variable, fetches directly", async () => {
    const r = await fetchWith("direct", {});
    assert.ok(r.origin, "the origin served it");
    assert.equal(r.origin.via, undefined);
    assert.equal(r.proxied, false);
  });

  it("http_proxy: the download goes through the proxy (it logs the request, the origin sees its Via header)", async () => {
    const r = await fetchWith("lower", { http_proxy: proxy.url });
    assert.equal(r.proxied, true, proxy.log());
    assert.match(r.origin?.via ?? "", /tinyproxy/);
  });

  it("HTTP_PROXY (upper case) too, and the dry run's size probe (HEAD)", async () => {
    const r = await fetchWith("upper", { HTTP_PROXY: proxy.url });
    assert.equal(r.proxied, true);
    assert.match(r.origin?.via ?? "", /tinyproxy/);
    const url = `${origin.url}/data/probe`;
    assert.equal(await probeSize(url, 15_000, { HTTP_PROXY: proxy.url }), data.length);
    assert.ok(proxy.log().includes(`HEAD ${url} `), "the HEAD went through the proxy");
  });

  it("no_proxy (and NO_PROXY) naming the host: fetched directly even with a proxy set", async () => {
    for (const [name, env] of [
      ["noproxy", { http_proxy: proxy.url, no_proxy: "127.0.0.1" }],
      ["noproxy-upper", { HTTP_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" }],
    ] as const) {
      const r = await fetchWith(name, env);
      assert.ok(r.origin, name);
      assert.equal(r.origin.via, undefined, name);
      assert.equal(r.proxied, false, name);
    }
  });

  it("https_proxy: an https URL is tunnelled through the proxy (CONNECT)", async () => {
    // The origin speaks plain HTTP, so TLS fails after the tunnel: what counts is that the proxy was asked.
    const port = new URL(origin.url).port;
    const store = new Store(path.join(dir, "store-https"));
    await store.open();
    await assert.rejects(download(store, "file tls", `https://127.0.0.1:${port}/data/tls`, { sha256: digest, size: data.length }, { env: { https_proxy: proxy.url }, retries: 0 }));
    await store.close();
    assert.match(proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${port} `));
  });

  it("pip, run by the bundle to resolve the site's Python packages, gets the environment: its index requests go through the proxy", async () => {
    const file = path.join(dir, "site.ts");
    writeFileSync(
      file,
      `import { defineSite } from "airgap";
export default defineSite({
  name: "py", domain: "py.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [{ name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] }],
  services: { repos: { on: "admin" }, pypi: { on: "admin", packages: ["airgap-lab-top"], source: { index: "${origin.url}/simple/" } } },
});
`,
    );
    const r = await synth(file);
    assert.deepEqual(r.errors, []);
    const before = origin.seen.length;
    const planned = await planWheels(r.site!.models.pypi!, { log: { info: () => undefined }, env: { ...process.env, http_proxy: proxy.url, no_proxy: "" } });
    assert.ok(planned.some((p) => p.path.endsWith("airgap_lab_top-1.0-py3-none-any.whl")));
    const pipRequests = origin.seen.slice(before).filter((s) => s.url.startsWith("/simple/"));
    assert.ok(pipRequests.length > 0, "pip asked the index");
    for (const s of pipRequests) assert.match(s.via ?? "", /tinyproxy/, `${s.url} came through the proxy`);
    assert.ok(proxy.log().includes(`GET ${origin.url}/simple/airgap-lab-top/ `));
  });
});
