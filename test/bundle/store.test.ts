import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { fetchAll, fileArtifacts, type Planned } from "../../bundle/bundle.js";
import { download, DownloadError, mirrorUrl } from "../../bundle/download.js";
import { Store } from "../../bundle/store.js";
import { listFiles, sha256, sink, tempDir } from "./helpers.js";

function fileArtifact(url: string, content: string, fetchUrl = url): Planned {
  const u = new URL(url);
  return { kind: "file", name: path.basename(u.pathname), source: url, path: `files/${u.host}${u.pathname}`, sha256: sha256(content), fetchUrl };
}

describe("bundle store and downloads", function () {
  this.timeout(30000);
  let tmp: string;
  let src: string;
  let store: Store;
  beforeEach(async () => {
    tmp = tempDir();
    src = path.join(tmp, "src");
    mkdirSync(src);
    store = new Store(path.join(tmp, "bundle"));
    await store.open();
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("downloads a file:// URL into blobs/sha256/<digest>", async () => {
    writeFileSync(path.join(src, "a.txt"), "hello");
    const size = await download(store, "file a.txt", pathToFileURL(path.join(src, "a.txt")).href, { sha256: sha256("hello") });
    assert.equal(size, 5);
    assert.equal(readFileSync(store.blobPath(sha256("hello")), "utf8"), "hello");
    await store.close();
    assert.deepEqual(listFiles(store.dir), [`blobs/sha256/${sha256("hello")}`]);
  });

  it("skips on a second run what the store holds with the right checksum", async () => {
    writeFileSync(path.join(src, "a"), "alpha");
    writeFileSync(path.join(src, "b"), "beta");
    const planned = ["a", "b"].map((n) => fileArtifact(`https://example.org/x/${n}`, readFileSync(path.join(src, n), "utf8"), pathToFileURL(path.join(src, n)).href));
    const err = sink();
    const first = await fetchAll(store, planned, { stderr: err });
    assert.equal(first.fetched, 2);
    assert.equal(first.present, 0);
    assert.match(err.text(), /\[1\/2\] fetched file files\/example\.org\/x\/[ab] \(\d B\)/);
    // The sources are gone: a second run must not need them.
    rmSync(src, { recursive: true });
    const second = await fetchAll(store, planned, { stderr: sink() });
    assert.deepEqual([second.fetched, second.present, second.failures.length], [0, 2, 0]);
    assert.equal(second.sizes.get("files/example.org/x/b"), 4);
  });

  it("shows progress in place on a terminal: count, bytes, rate", async () => {
    writeFileSync(path.join(src, "a"), "alpha");
    const tty = sink(true);
    const r = await fetchAll(store, [{ ...fileArtifact("https://example.org/a", "alpha", pathToFileURL(path.join(src, "a")).href), size: 5 }], { stderr: tty });
    assert.equal(r.fetched, 1);
    assert.match(tty.text(), /\r\x1b\[K\[1\/1\] 5 B \/ 5 B {2}\S+ [kM]?B\/s/);
    assert.doesNotMatch(tty.text(), /\n/, "no line per artifact on a terminal");
  });

  it("fetches again a blob that was damaged in the store", async () => {
    writeFileSync(path.join(src, "a"), "alpha");
    const planned = [fileArtifact("https://example.org/a", "alpha", pathToFileURL(path.join(src, "a")).href)];
    await fetchAll(store, planned, { stderr: sink() });
    writeFileSync(store.blobPath(sha256("alpha")), "alphA");
    const err = sink();
    const again = await fetchAll(store, planned, { stderr: err });
    assert.equal(again.fetched, 1);
    assert.match(err.text(), /store's copy of file files\/example\.org\/a is damaged/);
    assert.equal(readFileSync(store.blobPath(sha256("alpha")), "utf8"), "alpha");
  });

  it("refuses content whose checksum does not match, naming artifact, URL and why, and leaves no file", async () => {
    writeFileSync(path.join(src, "a"), "tampered");
    const url = pathToFileURL(path.join(src, "a")).href;
    const want = sha256("original");
    await assert.rejects(download(store, "file files/example.org/a", url, { sha256: want }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.artifact, "file files/example.org/a");
      assert.equal(e.url, url);
      assert.match(e.reason, new RegExp(`sha256 mismatch: expected ${want}, got ${sha256("tampered")}`));
      return true;
    });
    assert.deepEqual(listFiles(store.dir), []);
    // Through fetchAll, the failure is reported and nothing is stored either.
    const r = await fetchAll(store, [fileArtifact("https://example.org/a", "original", url)], { stderr: sink() });
    assert.equal(r.failures.length, 1);
    assert.deepEqual(listFiles(store.dir), []);
  });

  it("refuses a missing file:// source clearly", async () => {
    const url = pathToFileURL(path.join(src, "nope")).href;
    await assert.rejects(download(store, "file x", url, { sha256: sha256("") }), /file x: file:\/\/.*nope: no such file/);
  });

  it("reads plain files from a --files-from mirror laid out as <host>/<path>", async () => {
    const upstream = "https://github.com/containerd/nerdctl/releases/download/v2.0.5/nerdctl-2.0.5-linux-amd64.tar.gz";
    mkdirSync(path.join(src, "github.com/containerd/nerdctl/releases/download/v2.0.5"), { recursive: true });
    writeFileSync(path.join(src, "github.com/containerd/nerdctl/releases/download/v2.0.5/nerdctl-2.0.5-linux-amd64.tar.gz"), "nerdctl");
    assert.equal(mirrorUrl(src, upstream), pathToFileURL(path.join(src, "github.com/containerd/nerdctl/releases/download/v2.0.5/nerdctl-2.0.5-linux-amd64.tar.gz")).href);
    const [planned] = fileArtifacts({ repos: { files: [{ url: upstream, sha256: sha256("nerdctl"), path: `github.com${new URL(upstream).pathname}` }] } as never }, src);
    assert.equal(planned.path, "files/github.com/containerd/nerdctl/releases/download/v2.0.5/nerdctl-2.0.5-linux-amd64.tar.gz");
    assert.equal(planned.source, upstream);
    const r = await fetchAll(store, [planned], { stderr: sink() });
    assert.deepEqual([r.fetched, r.failures.length], [1, 0]);
  });

  describe("over HTTP (a server on the loopback address)", () => {
    let server: http.Server;
    let base: string;
    const body = Buffer.alloc(256 * 1024, 7);
    before(async () => {
      server = http.createServer((req, res) => {
        if (req.url === "/ok") res.end(body);
        else if (req.url === "/cut") {
          // Announces the whole body, sends half, then drops the connection.
          res.writeHead(200, { "content-length": String(body.length) });
          res.write(body.subarray(0, body.length / 2), () => res.destroy());
        } else {
          res.statusCode = 404;
          res.end("not here");
        }
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    it("downloads and verifies", async () => {
      let seen = 0;
      const size = await download(store, "file ok", `${base}/ok`, { sha256: sha256(body), size: body.length }, { onBytes: (n) => (seen += n) });
      assert.equal(size, body.length);
      assert.equal(seen, body.length);
    });

    it("reports an HTTP error with its status", async () => {
      await assert.rejects(download(store, "file missing", `${base}/missing`, { sha256: sha256(body) }, { retries: 0 }), /file missing: http:\/\/127\.0\.0\.1:\d+\/missing: HTTP 404 Not Found/);
      assert.deepEqual(listFiles(store.dir), []);
    });

    it("leaves no partial file when the transfer is cut, after retrying", async () => {
      const retries: string[] = [];
      await assert.rejects(
        download(store, "file cut", `${base}/cut`, { sha256: sha256(body), size: body.length }, { retries: 1, onRetry: (_n, why) => retries.push(why) }),
        /file cut: http:\/\/127\.0\.0\.1:\d+\/cut: /,
      );
      assert.equal(retries.length, 1);
      assert.deepEqual(listFiles(store.dir), []);
    });
  });
});
