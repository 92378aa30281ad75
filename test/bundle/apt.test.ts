import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AptRoot, PackageIndex, parseSources, resolveMirrors, statusEntry, systemDebianMirrors, type DebPackage } from "../../bundle/apt.js";
import { OS_RELEASES } from "../../compile/model/site.js";
import { needDebianMirror, tempDir } from "./helpers.js";

const STANZAS = `Package: libc6
Version: 2.36-9+deb12u10
Architecture: amd64
Priority: optional
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb
Size: 2757936
SHA256: 6d1f4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4a

Package: dash
Version: 0.5.12-2
Architecture: amd64
Essential: yes
Priority: optional
Filename: pool/main/d/dash/dash_0.5.12-2_amd64.deb
Size: 92000
SHA256: aaaa4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4a

Package: tar
Version: 1.34+dfsg-1.2+deb12u1
Architecture: amd64
Priority: required
Filename: pool/main/t/tar/tar_1.34+dfsg-1.2+deb12u1_amd64.deb
Size: 836288
SHA256: bbbb4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4a

Package: usr-is-merged
Version: 37~deb12u1
Architecture: all
Priority: optional
Filename: pool/main/u/usrmerge/usr-is-merged_37~deb12u1_all.deb
Size: 6000
SHA256: cccc4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4aa5c4e1b1c8f6a4b8e6d1f4c4b4a
`;

describe("bundle apt", () => {
  it("reads the Debian mirrors from one-line and deb822 APT sources", () => {
    const etc = tempDir();
    try {
      mkdirSync(path.join(etc, "sources.list.d"));
      writeFileSync(path.join(etc, "sources.list"), "# none here\ndeb [arch=amd64] https://nodesource.example/node_20.x nodistro main\n");
      writeFileSync(
        path.join(etc, "sources.list.d", "debian.sources"),
        "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n" +
          "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n",
      );
      assert.deepEqual(systemDebianMirrors(etc), { debian: "http://mirror.example/debian", "debian-security": "http://mirror.example/debian-security" });
      assert.deepEqual(parseSources("deb [signed-by=/k.gpg] http://a/debian trixie main\ndeb-src http://a/debian trixie main\n", false)[0], {
        types: ["deb"],
        uris: ["http://a/debian"],
        suites: ["trixie"],
      });
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });

  it("takes mirrors from --mirror, then the environment, then this machine, then defaults", () => {
    const { mirrors, origin } = resolveMirrors(
      { ubuntu: "http://opt.example/ubuntu/" },
      { AIRGAP_MIRROR_DEBIAN_SECURITY: "http://env.example/sec" },
      { debian: "http://sys.example/debian" },
    );
    assert.equal(mirrors.ubuntu, "http://opt.example/ubuntu");
    assert.equal(origin.ubuntu, "option");
    assert.equal(mirrors["debian-security"], "http://env.example/sec");
    assert.equal(origin["debian-security"], "environment");
    assert.equal(mirrors.debian, "http://sys.example/debian");
    assert.equal(mirrors["ubuntu-ports"], "http://ports.ubuntu.com/ubuntu-ports");
    assert.equal(origin["ubuntu-ports"], "default");
  });

  it("starts the minimal host from required and Essential packages, apt and usr-is-merged", () => {
    const index = new PackageIndex();
    index.add(STANZAS);
    assert.deepEqual(index.minimalRoots(), ["apt", "dash", "tar", "usr-is-merged"]);
    assert.equal(index.get("tar", "1.34+dfsg-1.2+deb12u1", "amd64")?.size, 836288);
  });

  it("writes a dpkg status entry without the archive's fields", () => {
    const index = new PackageIndex();
    index.add(STANZAS);
    const entry = statusEntry(index.get("libc6", "2.36-9+deb12u10", "amd64")!.text);
    assert.equal(
      entry,
      "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\nPriority: optional\nDepends: libgcc-s1\n" +
        "Description: GNU C Library: Shared libraries\n Contains the standard libraries.",
    );
  });
});

describe("bundle apt closure for debian-12 against the real mirror @network", function () {
  this.timeout(300000);
  let cache: string;
  let apt: AptRoot;
  let index: PackageIndex;
  let minimal: DebPackage[];

  before(async function () {
    await needDebianMirror(this);
    cache = tempDir("airgap-apt-");
    apt = new AptRoot(cache, OS_RELEASES["debian-12"], "amd64", resolveMirrors({}).mirrors);
    await apt.prepare();
    await apt.update();
    index = await apt.index();
    minimal = await apt.minimalHost(index);
  });
  after(() => cache && rmSync(cache, { recursive: true, force: true }));

  it("models the minimal host as debootstrap minbase does (required, Essential, apt)", () => {
    const names = new Set(minimal.map((d) => d.name));
    for (const n of ["libc6", "dpkg", "apt", "base-files", "tzdata", "usr-is-merged", "adduser", "libgnutls30"]) assert.ok(names.has(n), n);
    // Not minimal: usrmerge (and its perl), chrony, systemd.
    for (const n of ["usrmerge", "perl", "chrony", "systemd"]) assert.ok(!names.has(n), n);
    assert.ok(minimal.length > 60 && minimal.length < 130, `${minimal.length} packages`);
    assert.match(readFileSync(path.join(apt.root, "status.minimal"), "utf8"), /^Package: .*\nStatus: install ok installed\n/m);
  });

  it("resolves chrony to what a minimal host lacks, with index sizes and digests", async () => {
    const debs = await apt.closure(["chrony"], index);
    const names = debs.map((d) => d.name);
    // chrony Depends: iproute2, ucf, libedit2 (…), which minbase does not have; iproute2 pulls libbpf1, libmnl0, libxtables12.
    for (const n of ["chrony", "ucf", "libedit2", "iproute2", "libbpf1", "libmnl0", "libxtables12"]) assert.ok(names.includes(n), `${n} in ${names.join(" ")}`);
    // On the minimal host already.
    for (const n of ["libc6", "tzdata", "adduser", "libgnutls30", "libseccomp2", "init-system-helpers"]) assert.ok(!names.includes(n), `${n} not in closure`);
    for (const d of debs) {
      assert.match(d.sha256, /^[0-9a-f]{64}$/);
      assert.ok(d.size > 0);
      assert.ok(d.url.startsWith("http"), d.url);
      assert.ok(d.file.endsWith(`_${d.arch}.deb`), d.file);
    }
  });

  it("includes a listed package even when the minimal host has it", async () => {
    const debs = await apt.closure(["tar"], index);
    assert.deepEqual(debs.map((d) => d.name), ["tar"]);
  });

  it("fails with apt's reason and a hint for a package the release does not have", async () => {
    await assert.rejects(apt.closure(["no-such-package-airgap"], index), (e: Error & { hint?: string }) => {
      assert.match(e.message, /debian-12 \(amd64\): apt cannot install no-such-package-airgap on a minimal host/);
      assert.match(e.message, /Unable to locate package no-such-package-airgap/);
      assert.match(e.hint ?? "", /check the package names/);
      return true;
    });
  });

  it("keeps its own state in the cache folder", () => {
    assert.ok(existsSync(path.join(apt.root, "etc", "sources.list")));
    assert.match(readFileSync(path.join(apt.root, "etc", "sources.list"), "utf8"), /^deb \[arch=amd64 signed-by=\/usr\/share\/keyrings\/debian-archive-keyring\.gpg\] \S+ bookworm main$/m);
  });
});
