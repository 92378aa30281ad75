#!/usr/bin/env python3
"""airgap bundle tool: verify a bundle, carry it into the admin host's store,
build the signed repository the admin serves.

A bundle is a folder with manifest.json and a content-addressed store,
blobs/sha256/<hex>. Every command that writes leaves nothing half-done: it
works in a temporary place and renames at the end. Commands print one JSON
object on stdout ({"changed": ...}); problems go to stderr, one per line,
naming the artifact; exit 1 = the bundle or the store is wrong, 2 = usage.

  check BUNDLE --trusted-key PEM [--site NAME] [--files JSON] [--packages JSON]   (controller)
  verify-signature MANIFEST SIG --trusted-key PEM
  missing MANIFEST STORE
  pack BUNDLE OUT.tar HEX...                                   (controller)
  ingest TAR MANIFEST STORE
  bootstrap-index MANIFEST STORE DIR
  signing-key GNUPGHOME NAME KEYRING ARMORED
  build MANIFEST STORE RELEASES GNUPGHOME CACHE
  prune RELEASES STORE KEEP CURRENT

Python 3.6 or later, standard library and airgap_store.py (the store role's
code shared with the other bundle tools) only; build needs apt-ftparchive and
gpg, the signature check openssl 3 (ed25519 with pkeyutl -rawin).
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

# The code shared by the tools that read a bundle: beside this tool on the
# host, in the store role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (BLOBS, Refused, artifact_problems, blob_name, ingest, missing, out, pack,  # noqa: E402
                          dispatch, read_manifest, safe_relative, sha256_file, store_has, write_if_changed)

# Names the admin writes into a release itself; no artifact may take them.
RESERVED = ("airgap-archive-keyring.gpg", "airgap-archive-keyring.asc", ".airgap-release.json", ".airgap-manifest.json")
# Artifact kinds the repository server places in its web tree.
WEB_KINDS = ("deb", "rpm", "file")


def load_manifest(path):
    """The manifest, every entry checked: the repository server places them all."""
    m, mid = read_manifest(path)
    problems = []
    paths = {}
    for i, a in enumerate(m["artifacts"]):
        problems += artifact_problems(a, "artifacts[%d]" % i)
        if not isinstance(a, dict) or not safe_relative(a.get("path")):
            continue
        p = a["path"]
        if p in paths:
            problems.append("%s is listed twice" % p)
        paths[p] = a
        if p.split("/")[0] in RESERVED or p in RESERVED:
            problems.append("%s: the path is reserved for the admin's own files" % p)
    for r in m.get("repositories") or []:
        if not isinstance(r, dict) or not safe_relative(r.get("path")) or not safe_relative(r.get("pool")):
            problems.append("repository %r: path and pool must be safe relative paths" % (r,))
    # Two paths where one is a folder of the other cannot both be placed.
    folders = set()
    for p in paths:
        parts = p.split("/")
        for k in range(1, len(parts)):
            folders.add("/".join(parts[:k]))
    for p in sorted(paths):
        if p in folders:
            problems.append("%s is both a file and a folder of other artifacts" % p)
    if problems:
        raise Refused(problems)
    return m, mid


def by_digest(manifest):
    """sha256 -> (size, [paths])"""
    d = {}
    for a in manifest["artifacts"]:
        size, paths = d.setdefault(a["sha256"], (a["size"], []))
        paths.append(a["path"])
    return d


def describe(paths):
    return paths[0] if len(paths) == 1 else "%s (and %d more)" % (paths[0], len(paths) - 1)


def verify_blob(path, digest, size, paths):
    """None when the file holds exactly the expected content, else the problem."""
    try:
        st = os.stat(path)
    except OSError:
        return "%s: its blob %s is missing" % (describe(paths), blob_name(digest))
    if st.st_size != size:
        return "%s: its blob %s has %d bytes, the manifest says %d" % (describe(paths), blob_name(digest), st.st_size, size)
    got, _ = sha256_file(path)
    if got != digest:
        return "%s: its blob %s has sha256 %s, the manifest says %s" % (describe(paths), blob_name(digest), got, digest)
    return None


def verify_all(root, digests):
    """Hashes every blob (in parallel: hashlib releases the GIL); returns the problems."""
    jobs = sorted(digests.items())
    workers = min(8, (os.cpu_count() or 1) + 1)
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda kv: verify_blob(os.path.join(root, BLOBS, kv[0]), kv[0], kv[1][0], kv[1][1]), jobs)
        for r in results:
            if r:
                problems.append(r)
    return problems


# ------------------------------------------------------------------ commands

def verify_signature(manifest, sig, pem):
    """The manifest's detached ed25519 signature (64 raw bytes over its exact
    bytes, made by airgap bundle --key) against the site's trusted key."""
    if not (pem or "").strip():
        raise Refused(["the site names no trusted bundle key (services.repos.trustedKey in site.ts): every bundle is refused"])
    if not os.path.isfile(sig):
        raise Refused(["the bundle is unsigned: %s is missing (sign with airgap bundle --key)" % sig])
    fd, key = tempfile.mkstemp(suffix=".pub")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key, "-rawin", "-in", manifest, "-sigfile", sig],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    except OSError as e:
        raise Refused(["cannot run openssl to verify the manifest's signature: %s" % e])
    finally:
        os.unlink(key)
    if r.returncode != 0:
        why = " ".join((r.stdout + r.stderr).split())[:200]
        raise Refused(["the manifest's signature does not verify against the site's trusted key "
                       "(the manifest was altered, or signed by another key): openssl: %s" % why])


def cmd_verify_signature(a):
    verify_signature(a.manifest, a.sig, a.trusted_key)
    out({"changed": False})


def cmd_check(a):
    # The signature first: nothing of an unsigned or altered manifest is trusted, not even its size.
    verify_signature(os.path.join(a.bundle, "manifest.json"), os.path.join(a.bundle, "manifest.json.sig"), a.trusted_key)
    manifest, mid = load_manifest(os.path.join(a.bundle, "manifest.json"))
    problems = []
    if a.site and manifest.get("site") != a.site:
        problems.append("the bundle was made for site %r, this is site %r" % (manifest.get("site"), a.site))
    arts = manifest["artifacts"]
    by_path = {x["path"]: x for x in arts}
    for f in json.loads(a.files or "[]"):
        want = "files/" + f["path"]
        got = by_path.get(want)
        if got is None:
            problems.append("%s: the site lists this file (%s) but the bundle does not carry it" % (want, f.get("url", "")))
        elif got["sha256"] != f["sha256"]:
            problems.append("%s: the bundle carries sha256 %s, the site says %s" % (want, got["sha256"], f["sha256"]))
    debs = {x.get("name") for x in arts if x.get("kind") in ("deb", "rpm")}
    for p in json.loads(a.packages or "[]"):
        if p not in debs:
            problems.append("package %s is needed on the site but the bundle does not carry it" % p)
    problems += verify_all(a.bundle, by_digest(manifest))
    if problems:
        raise Refused(problems)
    total = sum(x["size"] for x in arts)
    out({"changed": False, "release": mid[:16], "manifest_sha256": mid, "artifacts": len(arts), "bytes": total})


def cmd_missing(a):
    manifest, mid = load_manifest(a.manifest)
    sizes = {d: size for d, (size, _) in by_digest(manifest).items()}
    out({"changed": False, "release": mid[:16], "missing": missing(a.store, sizes)})


def cmd_pack(a):
    out(pack(a.bundle, a.out, a.digests))


def cmd_ingest(a):
    """Unpacks blobs into the store's incoming folder, verifies each one against
    its name and the manifest, and only then moves them all into the store."""
    manifest, _ = load_manifest(a.manifest)
    digests = by_digest(manifest)
    n = ingest(a.tar, a.store, {d: size for d, (size, _) in digests.items()},
               name=lambda d: "%s: its blob %s" % (describe(digests[d][1]), blob_name(d)))
    out({"changed": bool(n), "ingested": n})


def repositories(manifest):
    """(repository, {arch: [artifact]}) for each APT repository of the manifest."""
    result = []
    for r in manifest.get("repositories") or []:
        if r.get("kind") != "apt":
            continue
        prefix = "%s/%s/" % (r["path"], r["pool"].strip("/"))
        debs = [x for x in manifest["artifacts"]
                if x.get("kind") == "deb" and x.get("release") == r.get("release") and x["path"].startswith(prefix)]
        per_arch = {arch: [x for x in debs if x.get("arch") in (arch, "all")] for arch in r.get("architectures") or []}
        result.append((r, per_arch))
    return result


def control_fields(deb):
    p = subprocess.run(["dpkg-deb", "--field", deb], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise Refused(["%s: dpkg-deb cannot read it: %s" % (deb, p.stderr.decode(errors="replace").strip())])
    return p.stdout.decode("utf-8", errors="replace").rstrip("\n")


def cmd_bootstrap_index(a):
    """A flat repository of every .deb of the bundle, for the admin host's very
    first installs (apt-utils and gnupg are not there yet to build the signed
    one). Its integrity comes from the sha256 check of every blob; it is used
    with [trusted=yes] on the admin host only, then removed."""
    manifest, _ = load_manifest(a.manifest)
    tmp = a.dir + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    entries = []
    seen = set()
    for x in sorted(manifest["artifacts"], key=lambda x: x["path"]):
        if x.get("kind") != "deb":
            continue
        name = x["path"].rsplit("/", 1)[-1]
        if name in seen:
            continue
        seen.add(name)
        blob = os.path.join(a.store, BLOBS, x["sha256"])
        os.link(blob, os.path.join(tmp, name))
        entries.append("%s\nFilename: ./%s\nSize: %d\nSHA256: %s\n" % (control_fields(blob), name, x["size"], x["sha256"]))
    with open(os.path.join(tmp, "Packages"), "w") as f:
        f.write("\n".join(entries))
    shutil.rmtree(a.dir, ignore_errors=True)
    os.replace(tmp, a.dir)
    out({"changed": True, "packages": len(entries)})


def gpg(home, *args, **kw):
    env = dict(os.environ, GNUPGHOME=home, LC_ALL="C")
    return subprocess.run(["gpg", "--batch", "--no-tty", "--quiet"] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=kw.get("check", True))


def secret_fingerprint(home):
    p = gpg(home, "--with-colons", "--list-secret-keys", check=False)
    for line in p.stdout.decode().splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    return None


def cmd_signing_key(a):
    """Creates the site's archive signing key on first run (no passphrase: the
    admin signs unattended; the key never leaves GNUPGHOME, 0700), and exports
    its public half."""
    os.makedirs(a.home, mode=0o700, exist_ok=True)
    os.chmod(a.home, 0o700)
    changed = False
    fpr = secret_fingerprint(a.home)
    if fpr is None:
        gpg(a.home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-generate-key", a.name, "rsa4096", "sign", "never")
        fpr = secret_fingerprint(a.home)
        changed = True
    binary = gpg(a.home, "--export", fpr).stdout
    armored = gpg(a.home, "--armor", "--export", fpr).stdout
    changed |= write_if_changed(a.keyring, binary)
    changed |= write_if_changed(a.armored, armored)
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=a.home),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out({"changed": changed, "fingerprint": fpr})


def run(cmd, cwd=None, stdout=None):
    p = subprocess.run(cmd, cwd=cwd, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr.decode(errors="replace").strip()))
    return p


def cmd_build(a):
    """Builds the release of this manifest once: every artifact hard-linked from
    the store at its path, an APT repository per manifest repository indexed
    by apt-ftparchive and signed with the site key, the public key beside it.
    Built in a hidden folder and renamed when complete."""
    manifest, mid = load_manifest(a.manifest)
    rid = mid[:16]
    final = os.path.join(a.releases, rid)
    if os.path.isfile(os.path.join(final, ".airgap-release.json")):
        out({"changed": False, "release": rid, "path": final})
        return
    os.makedirs(a.releases, exist_ok=True)
    os.makedirs(a.cache, exist_ok=True)
    tmp = os.path.join(a.releases, "." + rid + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    fpr = secret_fingerprint(a.home)
    if fpr is None:
        raise RuntimeError("no signing key in %s" % a.home)
    try:
        problems = []
        for x in manifest["artifacts"]:
            # Only what this web server serves: images belong to the registry,
            # behind its accounts, and must not be readable here.
            if x.get("kind") not in WEB_KINDS:
                continue
            blob = os.path.join(a.store, BLOBS, x["sha256"])
            if not store_has(a.store, x["sha256"], x["size"]):
                problems.append("%s: its blob %s is not in the store" % (x["path"], blob_name(x["sha256"])))
                continue
            dest = os.path.join(tmp, x["path"])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.link(blob, dest)
        if problems:
            raise Refused(problems)
        suites = []
        for repo, per_arch in repositories(manifest):
            root = os.path.join(tmp, repo["path"])
            suite = repo["suite"]
            lists = tempfile.mkdtemp(prefix=".lists-", dir=tmp)
            conf = ['Dir { ArchiveDir "%s"; CacheDir "%s"; };' % (root, a.cache),
                    'Default { Packages::Compress ". gzip xz"; Contents::Compress ""; };']
            for arch, debs in sorted(per_arch.items()):
                rel = "dists/%s/main/binary-%s" % (suite, arch)
                os.makedirs(os.path.join(root, rel), exist_ok=True)
                listfile = os.path.join(lists, arch)
                with open(listfile, "w") as f:
                    for x in sorted(debs, key=lambda x: x["path"]):
                        f.write(x["path"][len(repo["path"]) + 1:] + "\n")
                conf.append('BinDirectory "%s" { Packages "%s/Packages"; FileList "%s"; Contents ""; };' % (rel, rel, listfile))
            conffile = os.path.join(lists, "generate.conf")
            with open(conffile, "w") as f:
                f.write("\n".join(conf) + "\n")
            run(["apt-ftparchive", "-q=2", "generate", conffile])
            shutil.rmtree(lists)
            dist = os.path.join(root, "dists", suite)
            opts = []
            for k, v in (("Origin", "airgap"), ("Label", "airgap %s" % manifest.get("site", "")), ("Suite", suite),
                         ("Codename", suite), ("Components", "main"),
                         ("Architectures", " ".join(sorted(per_arch))),
                         ("Description", "airgap site %s, bundle %s" % (manifest.get("site", ""), rid))):
                opts += ["-o", "APT::FTPArchive::Release::%s=%s" % (k, v)]
            release = run(["apt-ftparchive"] + opts + ["release", "."], cwd=dist).stdout
            with open(os.path.join(dist, "Release"), "wb") as f:
                f.write(release)
            gpg(a.home, "--local-user", fpr, "--digest-algo", "SHA512", "--clearsign",
                "--output", os.path.join(dist, "InRelease"), os.path.join(dist, "Release"))
            gpg(a.home, "--local-user", fpr, "--digest-algo", "SHA512", "--armor", "--detach-sign",
                "--output", os.path.join(dist, "Release.gpg"), os.path.join(dist, "Release"))
            suites.append("%s/%s" % (repo["path"], suite))
        for src, name in ((a.keyring, "airgap-archive-keyring.gpg"), (a.armored, "airgap-archive-keyring.asc")):
            shutil.copyfile(src, os.path.join(tmp, name))
        for dirpath, dirnames, filenames in os.walk(tmp):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.copyfile(a.manifest, os.path.join(tmp, ".airgap-manifest.json"))
        with open(os.path.join(tmp, ".airgap-release.json"), "w") as f:
            json.dump({"release": rid, "manifest_sha256": mid, "site": manifest.get("site"), "signed_by": fpr,
                       "suites": suites}, f, sort_keys=True)
        os.chmod(tmp, 0o755)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=a.home),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out({"changed": True, "release": rid, "path": final, "suites": suites})


def cmd_prune(a):
    """Keeps the current release and the KEEP-1 newest others; removes blobs no
    kept release's manifest refers to."""
    keep = max(1, a.keep)
    releases = []
    for name in os.listdir(a.releases):
        meta = os.path.join(a.releases, name, ".airgap-release.json")
        if os.path.isfile(meta):
            releases.append((os.path.getmtime(meta), name))
        elif name.startswith(".") and name.endswith(".partial"):
            shutil.rmtree(os.path.join(a.releases, name), ignore_errors=True)
    releases.sort(reverse=True)
    kept = [a.current] + [n for _, n in releases if n != a.current][:keep - 1]
    removed = [n for _, n in releases if n not in kept]
    # Blobs stay while a kept release's manifest (kept inside the release) lists them.
    wanted = set()
    for n in kept:
        mpath = os.path.join(a.releases, n, ".airgap-manifest.json")
        if not os.path.isfile(mpath):
            raise Refused(["release %s has no manifest; nothing was pruned" % n])
        m, _ = load_manifest(mpath)
        wanted.update(x["sha256"] for x in m["artifacts"])
    for n in removed:
        shutil.rmtree(os.path.join(a.releases, n))
    manifests = os.path.join(a.store, "manifests")
    for name in os.listdir(manifests):
        if name.endswith(".json") and name[:16] not in kept:
            os.unlink(os.path.join(manifests, name))
    blobs = os.path.join(a.store, BLOBS)
    gone = [d for d in os.listdir(blobs) if d not in wanted]
    for d in gone:
        os.unlink(os.path.join(blobs, d))
    out({"changed": bool(removed or gone), "removed_releases": removed, "removed_blobs": len(gone)})


def main(argv):
    p = argparse.ArgumentParser(prog="airgap_bundle.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("check"); s.add_argument("bundle"); s.add_argument("--site"); s.add_argument("--files"); s.add_argument("--packages")
    s.add_argument("--trusted-key", default="")
    s = sub.add_parser("verify-signature"); s.add_argument("manifest"); s.add_argument("sig"); s.add_argument("--trusted-key", default="")
    s = sub.add_parser("missing"); s.add_argument("manifest"); s.add_argument("store")
    s = sub.add_parser("pack"); s.add_argument("bundle"); s.add_argument("out"); s.add_argument("digests", nargs="*")
    s = sub.add_parser("ingest"); s.add_argument("tar"); s.add_argument("manifest"); s.add_argument("store")
    s = sub.add_parser("bootstrap-index"); s.add_argument("manifest"); s.add_argument("store"); s.add_argument("dir")
    s = sub.add_parser("signing-key"); s.add_argument("home"); s.add_argument("name"); s.add_argument("keyring"); s.add_argument("armored")
    s = sub.add_parser("build")
    for n in ("manifest", "store", "releases", "home", "cache", "keyring", "armored"):
        s.add_argument(n)
    s = sub.add_parser("prune"); s.add_argument("releases"); s.add_argument("store"); s.add_argument("keep", type=int); s.add_argument("current")
    commands = {name[len("cmd_"):].replace("_", "-"): f for name, f in globals().items() if name.startswith("cmd_")}
    return dispatch(p, argv, commands)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
