import assert from "node:assert/strict";
import {
  buildManifest,
  checkManifest,
  isSafeName,
  isSafeRelativePath,
  parseManifest,
  serializeManifest,
  type Artifact,
  type Repository,
} from "../../bundle/manifest.js";
import { createHash } from "node:crypto";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

function deb(name: string, arch = "amd64"): Artifact {
  const file = `${name}_1.0-1_${arch}.deb`;
  return {
    kind: "deb",
    name,
    version: "1.0-1",
    arch,
    release: "debian-12",
    source: `http://deb.debian.org/debian/pool/main/${name[0]}/${name}/${file}`,
    path: `debian/pool/bookworm/${file}`,
    size: 100 + name.length,
    sha256: sha256(file),
  };
}

const file: Artifact = {
  kind: "file",
  name: "kubectl",
  source: "https://dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubectl",
  path: "files/dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubectl",
  size: 5,
  sha256: sha256("kubectl"),
};

const repo: Repository = { kind: "apt", release: "debian-12", path: "debian", suite: "bookworm", pool: "pool/bookworm", architectures: ["arm64", "amd64"] };

describe("bundle manifest", () => {
  it("is the same bytes whatever the order the artifacts were found in", () => {
    const list = [deb("chrony"), file, deb("ucf", "all"), deb("bind9"), deb("nginx")];
    const texts = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const shuffled = [...list].sort(() => Math.random() - 0.5);
      // Keys given in another order must not change the output either.
      const rekeyed = shuffled.map((a) => Object.fromEntries(Object.entries(a).reverse()) as unknown as Artifact);
      texts.add(serializeManifest(buildManifest("example", [repo], rekeyed)));
    }
    assert.equal(texts.size, 1);
    const [text] = texts;
    assert.ok(text.endsWith("}\n"));
    const m = JSON.parse(text);
    assert.deepEqual(Object.keys(m), ["format", "site", "sequence", "created", "repositories", "artifacts"]);
    assert.equal(m.format, 1);
    assert.equal(m.sequence, 1);
    assert.deepEqual(
      m.artifacts.map((a: Artifact) => a.path),
      [
        "debian/pool/bookworm/bind9_1.0-1_amd64.deb",
        "debian/pool/bookworm/chrony_1.0-1_amd64.deb",
        "debian/pool/bookworm/nginx_1.0-1_amd64.deb",
        "debian/pool/bookworm/ucf_1.0-1_all.deb",
        "files/dl.k8s.io/release/v1.32.8/bin/linux/amd64/kubectl",
      ],
    );
    assert.deepEqual(Object.keys(m.artifacts[0]), ["kind", "name", "version", "arch", "release", "source", "path", "size", "sha256"]);
    assert.deepEqual(Object.keys(m.artifacts[4]), ["kind", "name", "source", "path", "size", "sha256"]);
    assert.deepEqual(m.repositories[0].architectures, ["amd64", "arm64"]);
    assert.equal((text.match(/\d{4}-\d\d-\d\dT/g) ?? []).length, 1, "one time only: created");
  });

  it("keeps one entry for the same package needed by two architectures, refuses one path with two contents", () => {
    const all = deb("ucf", "all");
    const m = buildManifest("example", [], [all, { ...all }, deb("chrony")]);
    assert.equal(m.artifacts.length, 2);
    assert.throws(() => buildManifest("example", [], [all, { ...all, sha256: sha256("other") }]), /two artifacts want the path debian\/pool\/bookworm\/ucf_1\.0-1_all\.deb/);
  });

  it("round-trips through parseManifest", () => {
    const text = serializeManifest(buildManifest("example", [repo], [deb("chrony"), file]));
    assert.equal(serializeManifest(parseManifest(text)), text);
  });

  it("keeps what a built artifact was built from, and refuses a built record without its input's digest", () => {
    const wheel: Artifact = {
      kind: "wheel", name: "pyramid-chameleon", version: "0.3", source: "https://files.pythonhosted.org/x/pyramid_chameleon-0.3.tar.gz",
      path: "pypi/pyramid-chameleon/pyramid_chameleon-0.3-py3-none-any.whl", size: 7, sha256: sha256("wheel"),
      built: { from: "https://files.pythonhosted.org/x/pyramid_chameleon-0.3.tar.gz", sha256: sha256("sdist"), by: "pip wheel --no-deps" },
    };
    const text = serializeManifest(buildManifest("example", [], [wheel]));
    assert.deepEqual(parseManifest(text).artifacts[0].built, wheel.built);
    const m = JSON.parse(text);
    for (const built of [{ ...wheel.built, sha256: "abc" }, { ...wheel.built, from: "" }, { sha256: sha256("sdist") }, "pip"]) {
      m.artifacts[0].built = built;
      assert.match(checkManifest(m).join("\n"), /built must name what it was made from/, JSON.stringify(built));
    }
  });

  it("refuses paths that leave the bundle, bad digests, unknown kinds and formats, naming each", () => {
    const bad = {
      format: 2,
      site: "example",
      sequence: 3,
      created: "2026-11-30T12:00:00Z",
      repositories: [],
      artifacts: [
        { ...file, path: "../etc/passwd" },
        { ...file, path: "/etc/passwd" },
        { ...file, path: "files/./x" },
        { ...file, path: "files/a", sha256: "ABC" },
        { ...file, path: "files/b", kind: "tarball" },
        { ...file, path: "files/c", size: -1 },
      ],
    };
    const problems = checkManifest(bad);
    assert.equal(problems.length, 7, problems.join("\n"));
    assert.match(problems.join("\n"), /format is 2/);
    assert.match(problems.join("\n"), /artifacts\[0\] \(\.\.\/etc\/passwd\): path must be relative/);
    assert.match(problems.join("\n"), /artifacts\[3\] \(files\/a\): sha256/);
    assert.match(problems.join("\n"), /unknown kind "tarball"/);
    assert.throws(() => parseManifest("{"), /not JSON/);
    assert.ok(isSafeRelativePath("files/dl.k8s.io/a b/c"));
    for (const p of ["", "a//b", "a/../b", "a\\b", "./a"]) assert.ok(!isSafeRelativePath(p), p);
  });

  it("refuses '..' and '/' in every path-like field: repositories' path, pool, suite, architectures, release; artifacts' arch and release; the site", () => {
    const evil = {
      format: 1,
      site: "../x",
      sequence: 0,
      created: "yesterday",
      repositories: [{ kind: "apt", release: "../r", path: "../debian", suite: "../../etc", pool: "pool/../../x", architectures: ["amd64", "../a", "b/c"] }],
      artifacts: [{ ...file, arch: "..", release: "debian/12" }],
    };
    const problems = checkManifest(evil).join("\n");
    for (const field of ["site", "sequence", "created", "path", "pool", "suite", "release", "architectures", "arch"]) {
      assert.match(problems, new RegExp(`\\b${field}\\b`), `${field} in:\n${problems}`);
    }
    assert.equal(checkManifest(evil).length, 10, problems);
    assert.ok(isSafeName("bookworm") && isSafeName("debian-12") && isSafeName("amd64"));
    for (const n of ["", ".", "..", "a/b", "-x", "a\\b"]) assert.ok(!isSafeName(n), n);
  });
});
