/** etcd for the tests (test/roles/etcd-backup.test.ts, test/e2e/backups.test.ts). */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { must } from "./registry-harness.js";

/**
 * The etcd version the tests build: Kubespray 2.31.0's pin for Kubernetes
 * 1.35 (etcd_supported_versions). Kubespray 2.30.0 pins 3.5.26, which the Go
 * module proxy does not serve (403), so 3.6.10 it is; 3.6's etcdctl has no
 * `snapshot status`/`restore`, which is why the tool uses etcdutl.
 */
export const ETCD_VERSION = "3.6.10";

/**
 * etcd, etcdctl and etcdutl at ETCD_VERSION: $AIRGAP_TEST_ETCD_DIR, else
 * built once per machine from the Go module proxy into
 * $TMPDIR/airgap-test-etcd-<version> (a throwaway module requiring the three
 * modules, CGO off; etcd's own go.mod files carry replace directives, so
 * `go install pkg@version` refuses them).
 */
export function testEtcd(): string {
  if (process.env.AIRGAP_TEST_ETCD_DIR) return process.env.AIRGAP_TEST_ETCD_DIR;
  const dir = path.join(os.tmpdir(), `airgap-test-etcd-${ETCD_VERSION}`);
  if (["etcd", "etcdctl", "etcdutl"].every((b) => existsSync(path.join(dir, b)))) return dir;
  const src = `${dir}-build`;
  mkdirSync(path.join(src, "etcd"), { recursive: true });
  writeFileSync(path.join(src, "go.mod"), "module airgap.test/etcd\n\ngo 1.24\n");
  writeFileSync(path.join(src, "etcd/main.go"), 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n');
  const env = { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-buildvcs=false -mod=mod", CGO_ENABLED: "0" };
  const mods = ["server", "etcdctl", "etcdutl"].map((m) => `go.etcd.io/etcd/${m}/v3@v${ETCD_VERSION}`);
  must("go", ["get", ...mods], { env, cwd: src });
  mkdirSync(dir, { recursive: true });
  must("go", ["build", "-o", `${dir}/`, "./etcd", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdutl/v3"], { env, cwd: src });
  return dir;
}

