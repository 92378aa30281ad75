/**
 * A throwaway Helm upstream on this machine's loopback, for the chart tests
 * (test/bundle/charts.test.ts) and the lab's (test/e2e/helm.test.ts): the
 * helm client, charts made with `helm create`/`helm package` (one depending
 * on another, signed with a throwaway RSA key), and a classic chart
 * repository served over HTTP by a small static server (the OCI side is
 * distribution, from test/roles/registry-harness.ts).
 */
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { freePort, must } from "../roles/registry-harness.js";

/** The helm version the tests build: the one Kubespray 2.30.0 pins. */
export const HELM_VERSION = "3.18.4";

/**
 * The helm client for the tests: $AIRGAP_TEST_HELM, else built once per
 * machine from the Go module proxy (`go install`, CGO off: a static binary
 * that also runs on the lab's hosts) into $TMPDIR/airgap-test-helm-<version>.
 */
export function testHelm(): string {
  if (process.env.AIRGAP_TEST_HELM) return process.env.AIRGAP_TEST_HELM;
  const dir = path.join(os.tmpdir(), `airgap-test-helm-${HELM_VERSION}`);
  const bin = path.join(dir, "helm");
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    must("go", ["install", `helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}`], {
      env: { ...process.env, GOBIN: dir, GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false", CGO_ENABLED: "0" },
    });
  }
  return bin;
}

/** A static file server on 127.0.0.1 (an upstream classic chart repository); `serve` maps a file name to other bytes. */
export async function fileServer(dir: string, serve: Map<string, string> = new Map(), port?: number): Promise<{ url: string; close(): Promise<void> }> {
  const p = port ?? (await freePort());
  const srv = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "/").split("?")[0]).replace(/^\/+/, "");
    const file = serve.get(name) ?? path.join(dir, name);
    if (name.includes("/") || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200);
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => srv.listen(p, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${p}`, close: () => new Promise((r) => srv.close(() => r())) };
}

/** `helm create NAME` in `dir` with its image set to `repository`:`tag` and its chart version. */
export function makeChart(helm: string, env: NodeJS.ProcessEnv, dir: string, name: string, version: string, repository: string, tag: string): string {
  const chart = path.join(dir, name);
  rmSync(chart, { recursive: true, force: true });
  must(helm, ["create", chart], { env });
  const values = readFileSync(path.join(chart, "values.yaml"), "utf8")
    .replace(/repository: nginx/, `repository: ${repository}`)
    .replace(/tag: ""/, `tag: "${tag}"`);
  writeFileSync(path.join(chart, "values.yaml"), values);
  const meta = readFileSync(path.join(chart, "Chart.yaml"), "utf8").replace(/^version: .*$/m, `version: ${version}`);
  writeFileSync(path.join(chart, "Chart.yaml"), meta);
  return chart;
}

/** Adds `dependency` (a packaged chart from `repository`) to `chart`, its archive in charts/ as `helm dependency update` leaves it. */
export function addDependency(chart: string, dependency: { name: string; version: string; repository: string; tgz: string }): void {
  const chartYaml = path.join(chart, "Chart.yaml");
  writeFileSync(chartYaml, readFileSync(chartYaml, "utf8") + `dependencies:\n  - name: ${dependency.name}\n    version: ${dependency.version}\n    repository: ${dependency.repository}\n`);
  mkdirSync(path.join(chart, "charts"), { recursive: true });
  writeFileSync(path.join(chart, "charts", path.basename(dependency.tgz)), readFileSync(dependency.tgz));
}

/** A throwaway RSA signing key in `gnupgHome` (helm's OpenPGP has no Ed25519): its secret and public keyrings. */
export function signingKey(gnupgHome: string, dir: string, uid = "airgap chart test <charts@test>"): { secring: string; pubring: string; name: string } {
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  mkdirSync(gnupgHome, { recursive: true, mode: 0o700 });
  must("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", uid, "rsa2048", "sign", "never"], { env });
  const name = uid.replace(/ <.*$/, "");
  const secring = path.join(dir, `${name.replace(/\W+/g, "-")}.sec.gpg`);
  const pubring = path.join(dir, `${name.replace(/\W+/g, "-")}.pub.gpg`);
  writeFileSync(secring, spawnSync("gpg", ["--export-secret-keys", name], { env }).stdout);
  writeFileSync(pubring, spawnSync("gpg", ["--export", name], { env }).stdout);
  return { secring, pubring, name };
}
