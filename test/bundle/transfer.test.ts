import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { prune } from "../../bundle/prune.js";
import { keygen, readPrivateKey, readPublicKey } from "../../bundle/sign.js";
import { padding, TAR_END, tarHeader } from "../../bundle/tar.js";
import { exportBundle, importTransfer, STAGING_DIR, TransferError } from "../../bundle/transfer.js";
import { CLI } from "../helpers.js";
import { image, makeBundle, members, treeHash, type Item } from "./bundles.js";
import { listFiles, sha256, tempDir } from "./helpers.js";

function flipByte(file: string, at: number): void {
  const b = readFileSync(file);
  b[at] ^= 0x01;
  writeFileSync(file, b);
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TransferError, `expected a refusal, got ${(err as Error).stack}`);
    assert.match(err.message, pattern);
    return err.message;
  }
  assert.fail("the import was not refused");
}

describe("bundle transfer: keygen, export, import, delta, prune", function () {
  this.timeout(60000);
  let tmp: string;
  let keyFile: string;
  let pubFile: string;
  const base = [randomBytes(300_000), randomBytes(200_000)];
  const v1 = [...image("1.0", base, randomBytes(150_000)), { kind: "file" as const, path: "files/up.example/tool", content: randomBytes(100_000) }];
  const v2 = [...image("1.1", base, randomBytes(150_000)), { kind: "file" as const, path: "files/up.example/tool", content: v1[v1.length - 1].content }];

  before(async () => {
    tmp = tempDir("airgap-transfer-");
    ({ privateKey: keyFile, publicKey: pubFile } = await keygen(path.join(tmp, "keys")));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("keygen writes a 0600 private key, never prints it, and refuses to overwrite", () => {
    const dir = path.join(tmp, "keys2");
    const r = spawnSync(process.execPath, [CLI, "keygen", dir], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const priv = readFileSync(path.join(dir, "airgap-bundle.key"), "utf8");
    assert.equal(statSync(path.join(dir, "airgap-bundle.key")).mode & 0o777, 0o600);
    assert.match(priv, /BEGIN PRIVATE KEY/);
    const body = priv.split("\n")[1];
    assert.ok(!r.stdout.includes(body) && !r.stderr.includes(body), "the private key is never printed");
    const again = spawnSync(process.execPath, [CLI, "keygen", dir], { encoding: "utf8" });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exists; nothing was written/);
    assert.equal(readFileSync(path.join(dir, "airgap-bundle.key"), "utf8"), priv);
  });

  it("full round trip: manifest and signature first, the imported store equals the bundle; openssl verifies the signature", async () => {
    const b = path.join(tmp, "rt-bundle");
    await makeBundle(b, v1, keyFile);
    const file = path.join(tmp, "rt.tar");
    const ex = await exportBundle({ dir: b, file });
    const names = members(file);
    assert.deepEqual(names.slice(0, 2), ["manifest.json", "manifest.json.sig"]);
    assert.equal(names.length, 2 + ex.blobs);
    // Deterministic: the same bundle gives the same bytes, into a folder the export makes (the runbook's transfer/).
    const inNew = path.join(tmp, "rt-new-folder", "transfer", "rt.tar");
    await exportBundle({ dir: b, file: inNew, split: 64 * 1024, key: await readPrivateKey(keyFile) });
    await exportBundle({ dir: b, file: inNew });
    assert.ok(readFileSync(file).equals(readFileSync(inNew)));
    const store = path.join(tmp, "rt-store");
    const r = await importTransfer({ inputs: [file], store, trust: await readPublicKey(pubFile) });
    assert.equal(r.added, ex.blobs);
    for (const f of ["manifest.json", "manifest.json.sig", ...listFiles(path.join(b, "blobs")).map((x) => `blobs/${x}`)]) {
      assert.ok(readFileSync(path.join(store, f)).equals(readFileSync(path.join(b, f))), f);
    }
    assert.ok(!existsSync(path.join(store, STAGING_DIR)), "no staging left");
    const v = spawnSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-in", path.join(store, "manifest.json"), "-sigfile", path.join(store, "manifest.json.sig")], { encoding: "utf8" });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    // Again: the store's current bundle, nothing changes (the store as it was).
    const before = treeHash(store);
    const again = await importTransfer({ inputs: [file], store, trust: await readPublicKey(pubFile) });
    assert.equal(again.unchanged, true);
    assert.equal(again.added, 0);
    assert.equal(treeHash(store), before);
  });

  it("a delta after one image tag bump carries only the changed blobs; delta over the old store = full bundle, byte for byte", async () => {
    const b1 = path.join(tmp, "d-b1");
    const b2 = path.join(tmp, "d-b2");
    await makeBundle(b1, v1, keyFile);
    await makeBundle(b2, v2, keyFile);
    const delta = path.join(tmp, "delta.tar");
    const ex = await exportBundle({ dir: b2, file: delta, since: path.join(b1, "manifest.json") });
    // The new layer, config and manifest: the shared layers and the unchanged file stay home.
    const changed = v2.filter((i) => !v1.some((o) => o.content.equals(i.content))).map((i) => sha256(i.content));
    assert.deepEqual(members(delta).slice(2).sort(), [...new Set(changed)].map((h) => `blobs/sha256/${h}`).sort());
    assert.equal(ex.blobs, 3);
    assert.ok(ex.bytes / ex.fullBytes < 0.3, `delta ${ex.bytes} of ${ex.fullBytes}`);

    const trust = await readPublicKey(pubFile);
    const full1 = path.join(tmp, "d-full1.tar");
    const full2 = path.join(tmp, "d-full2.tar");
    await exportBundle({ dir: b1, file: full1 });
    await exportBundle({ dir: b2, file: full2 });
    const viaDelta = path.join(tmp, "d-store-delta");
    await importTransfer({ inputs: [full1], store: viaDelta, trust });
    await importTransfer({ inputs: [delta], store: viaDelta, trust });
    const viaFull = path.join(tmp, "d-store-full");
    await importTransfer({ inputs: [full2], store: viaFull, trust });
    // The old release's blobs stay until pruned with the old manifest.
    await prune({ store: viaDelta, keep: 1 });
    // The import logs differ (two imports against one); everything else is the same bytes.
    assert.equal(readFileSync(path.join(viaDelta, "import.log"), "utf8").trim().split("\n").length, 2);
    for (const st of [viaDelta, viaFull]) rmSync(path.join(st, "import.log"));
    assert.equal(treeHash(viaDelta), treeHash(viaFull));

    // A delta over a store that lacks the old bundle is refused, naming what is missing.
    const empty = path.join(tmp, "d-store-empty");
    await refused(importTransfer({ inputs: [delta], store: empty, trust }), /neither in the transfer nor in the store[\s\S]*only over the store of the bundle it was made against/);
    // The store did not exist: a refusal leaves nothing behind (no empty skeleton).
    assert.equal(existsSync(empty), false, "a refused import into a new store leaves no folder");
    // An empty folder the operator made stays, and stays empty.
    mkdirSync(empty);
    await refused(importTransfer({ inputs: [delta], store: empty, trust }), /neither in the transfer nor in the store/);
    assert.deepEqual(readdirSync(empty), []);
  });

  describe("refusals leave the store unchanged", () => {
    let bundleDir: string;
    let full: string;
    let store: string;
    let storeBefore: string;
    const trust = () => readPublicKey(pubFile);

    before(async () => {
      // The site's store holds an older release: a refusal must keep it exactly.
      store = path.join(tmp, "r-store");
      const oldDir = path.join(tmp, "r-old");
      await makeBundle(oldDir, [{ kind: "file", path: "files/up.example/old", content: randomBytes(1000) }], keyFile);
      await exportBundle({ dir: oldDir, file: path.join(tmp, "r-old.tar") });
      await importTransfer({ inputs: [path.join(tmp, "r-old.tar")], store, trust: await trust() });
      storeBefore = treeHash(store);
      bundleDir = path.join(tmp, "r-bundle");
      await makeBundle(bundleDir, v1, keyFile);
      full = path.join(tmp, "r.tar");
      await exportBundle({ dir: bundleDir, file: full });
    });
    afterEach(() => assert.equal(treeHash(store), storeBefore, "the store is unchanged"));

    const copy = (name: string) => {
      const f = path.join(tmp, name);
      writeFileSync(f, readFileSync(full));
      return f;
    };

    it("one byte flipped in a blob: refused, naming the artifact and both digests", async () => {
      const f = copy("t-blob.tar");
      const names = members(f);
      // Third member: 3 headers + manifest and signature content (padded) before its content.
      const manifestSize = statSync(path.join(bundleDir, "manifest.json")).size;
      const at = 512 + manifestSize + padding(manifestSize) + 512 + 512 + 512 + 10;
      flipByte(f, at);
      const hex = names[2].slice("blobs/sha256/".length);
      const msg = await refused(importTransfer({ inputs: [f], store, trust: await trust() }), new RegExp(`blob ${hex} in the transfer has sha256 [0-9a-f]{64} \\(altered on the way\\)`));
      assert.match(msg, /^(image-blob|file|image) \S+:/);
    });

    it("one byte flipped in the manifest: refused by its signature", async () => {
      const f = copy("t-manifest.tar");
      flipByte(f, 512 + 40);
      await refused(importTransfer({ inputs: [f], store, trust: await trust() }), /signature does not verify against the trusted key [0-9a-f]{16}/);
    });

    it("signed by another key: refused", async () => {
      const other = await keygen(path.join(tmp, "other-keys"));
      await refused(importTransfer({ inputs: [full], store, trust: await readPublicKey(other.publicKey) }), /signature does not verify against the trusted key/);
    });

    it("unsigned: refused; export refuses an unsigned bundle too", async () => {
      const manifest = readFileSync(path.join(bundleDir, "manifest.json"));
      const f = path.join(tmp, "t-unsigned.tar");
      writeFileSync(f, Buffer.concat([tarHeader("manifest.json", manifest.length), manifest, Buffer.alloc(padding(manifest.length)), TAR_END]));
      await refused(importTransfer({ inputs: [f], store, trust: await trust() }), /unsigned/);
      const unsigned = path.join(tmp, "t-unsigned-bundle");
      await makeBundle(unsigned, v1.slice(0, 1), keyFile);
      rmSync(path.join(unsigned, "manifest.json.sig"));
      await refused(exportBundle({ dir: unsigned, file: path.join(tmp, "x.tar") }), /unsigned/);
    });

    it("a truncated transfer: refused", async () => {
      const f = copy("t-short.tar");
      writeFileSync(f, readFileSync(f).subarray(0, statSync(f).size - 5000));
      await refused(importTransfer({ inputs: [f], store, trust: await trust() }), /ends .*early|truncated/);
    });

    describe("chunks", () => {
      let split: string;
      before(async () => {
        split = path.join(tmp, "s", "t.tar");
        mkdirSync(path.dirname(split));
        const r = await exportBundle({ dir: bundleDir, file: split, split: 128 * 1024, key: await readPrivateKey(keyFile) });
        assert.ok(r.files.filter((f) => /\.\d{3}$/.test(f)).length >= 4, r.files.join(", "));
      });
      const chunk = (i: number) => `${split}.${String(i).padStart(3, "0")}`;
      const keep = (i: number) => readFileSync(chunk(i));

      it("the chunks import (naming the list, or any chunk), into another store", async () => {
        const other = path.join(tmp, "s-store");
        const r = await importTransfer({ inputs: [chunk(2)], store: other, trust: await trust() });
        assert.equal(r.added, new Set(v1.map((i) => sha256(i.content))).size);
        // Their concatenation is the plain transfer file, which GNU tar reads.
        const cat = Buffer.concat(readdirSync(path.dirname(split)).filter((n) => /\.\d{3}$/.test(n)).sort().map((n) => readFileSync(path.join(path.dirname(split), n))));
        writeFileSync(path.join(tmp, "s-cat.tar"), cat);
        assert.deepEqual(members(path.join(tmp, "s-cat.tar")).slice(0, 2), ["manifest.json", "manifest.json.sig"]);
      });

      it("one byte flipped in a chunk: refused, naming the chunk", async () => {
        const saved = keep(1);
        flipByte(chunk(1), 1000);
        try {
          await refused(importTransfer({ inputs: [split + ".chunks.json"], store, trust: await trust() }), /chunk t\.tar\.001: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
        } finally {
          writeFileSync(chunk(1), saved);
        }
      });

      it("a missing chunk: refused, naming it", async () => {
        renameSync(chunk(2), chunk(2) + ".away");
        try {
          await refused(importTransfer({ inputs: [split + ".chunks.json"], store, trust: await trust() }), /chunk t\.tar\.002 \(3 of \d+\) is missing/);
        } finally {
          renameSync(chunk(2) + ".away", chunk(2));
        }
      });

      it("reordered chunks: refused, saying so", async () => {
        const [a, b] = [keep(0), keep(1)];
        writeFileSync(chunk(0), b);
        writeFileSync(chunk(1), a);
        try {
          await refused(importTransfer({ inputs: [split + ".chunks.json"], store, trust: await trust() }), /chunk t\.tar\.000 holds chunk t\.tar\.001's content: the chunks are out of order/);
        } finally {
          writeFileSync(chunk(0), a);
          writeFileSync(chunk(1), b);
        }
      });

      it("an altered chunk list: refused by its signature", async () => {
        const list = split + ".chunks.json";
        const saved = readFileSync(list);
        writeFileSync(list, saved.toString().replace(/"size": (\d+)/, (_, n) => `"size": ${Number(n) + 1}`));
        try {
          await refused(importTransfer({ inputs: [list], store, trust: await trust() }), /chunk list .* signature does not verify/);
        } finally {
          writeFileSync(list, saved);
        }
      });
    });
  });

  it("an import killed half way, run again, completes without copying again what it had verified", async function () {
    const items: Item[] = Array.from({ length: 60 }, (_, i) => ({ kind: "file", path: `files/up.example/big${i}`, content: randomBytes(2_000_000) }));
    const b = path.join(tmp, "k-bundle");
    await makeBundle(b, items, keyFile);
    const file = path.join(tmp, "k.tar");
    await exportBundle({ dir: b, file });
    const store = path.join(tmp, "k-store");
    const staged = path.join(store, STAGING_DIR, "blobs");
    const child = spawn(process.execPath, [CLI, "import", file, "--store", store, "--trust", pubFile], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 4000; i++) {
      if (existsSync(staged) && readdirSync(staged).length >= 10) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill("SIGKILL");
    await exited;
    assert.ok(!existsSync(path.join(store, "manifest.json")), "killed before the end: no manifest in the store");
    assert.deepEqual(readdirSync(path.join(store, "blobs/sha256")), [], "nothing entered the store");
    const inodes = new Map(readdirSync(staged).map((h) => [h, statSync(path.join(staged, h)).ino]));
    assert.ok(inodes.size >= 10 && inodes.size < items.length, `${inodes.size} blobs staged`);
    const r = await importTransfer({ inputs: [file], store, trust: await readPublicKey(pubFile) });
    assert.equal(r.resumed, inodes.size);
    assert.equal(r.added, items.length);
    // Moved, not copied: the staged files themselves are now in the store.
    for (const [h, ino] of inodes) assert.equal(statSync(path.join(store, "blobs/sha256", h)).ino, ino, h);
    for (const i of items) assert.ok(readFileSync(path.join(store, "blobs/sha256", sha256(i.content))).equals(i.content));
  });

  it("prune keeps the blobs of the kept manifests, --dry-run removes nothing", async () => {
    const b1 = path.join(tmp, "p-b1");
    const b2 = path.join(tmp, "p-b2");
    await makeBundle(b1, v1, keyFile);
    await makeBundle(b2, v2, keyFile);
    const store = path.join(tmp, "p-store");
    const trust = await readPublicKey(pubFile);
    for (const [d, f] of [[b1, "p1.tar"], [b2, "p2.tar"]]) {
      await exportBundle({ dir: d, file: path.join(tmp, f) });
      await importTransfer({ inputs: [path.join(tmp, f)], store, trust });
    }
    const all = readdirSync(path.join(store, "blobs/sha256")).length;
    assert.equal((await prune({ store, keep: 2 })).removedBlobs, 0, "both releases kept");
    const dry = await prune({ store, keep: 1, dryRun: true });
    assert.equal(dry.removedBlobs, 3);
    assert.equal(readdirSync(path.join(store, "blobs/sha256")).length, all);
    const r = spawnSync(process.execPath, [CLI, "prune", "--store", store, "--keep", "1", "--json"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { removedBlobs: number; removedManifests: string[] };
    assert.equal(j.removedBlobs, 3);
    assert.equal(j.removedManifests.length, 1);
    assert.equal(r.stderr, "", "no progress noise with --json");
    const left = new Set(readdirSync(path.join(store, "blobs/sha256")));
    assert.deepEqual(left, new Set(v2.map((i) => sha256(i.content))));
  });
});
