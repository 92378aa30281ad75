#!/usr/bin/env python3
"""airgap bundle tool: verify a bundle, carry it into the admin host's store,
build the signed repository the admin serves.

A bundle is a folder with manifest.json and a content-addressed store,
blobs/sha256/<hex>. Every command that writes leaves nothing half-done: it
works in a temporary place and renames at the end. Commands print one JSON
object on stdout ({"changed": ...}); problems go to stderr, one per line,
naming the artifact; exit 1 = the bundle or the store is wrong, 2 = usage.

  check BUNDLE [--files JSON] [--packages JSON]               (controller)
  verify-signature MANIFEST SIG
  accept MANIFEST SIG CURRENT [--allow-rollback]              MANIFEST becomes CURRENT
  missing MANIFEST STORE
  pack BUNDLE OUT.tar HEX...                                   (controller)
  ingest TAR MANIFEST STORE
  bootstrap-index MANIFEST STORE DIR
  signing-key GNUPGHOME NAME KEYRING ARMORED
  build MANIFEST STORE RELEASES GNUPGHOME CACHE KEYRING ARMORED [--valid-days N --renew-days N] [--mode plan]
  prune RELEASES STORE KEEP CURRENT

Every command that reads a manifest takes --trusted-key PEM (the site's
public bundle key) and --site NAME, and checks the manifest's signature
(MANIFEST.sig beside it) on the bytes it reads, right before it uses them
(airgap_store.load); blobs are hashed where they are used.

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
import time

# The code shared by the tools that read a bundle: beside this tool on the
# host, in the store role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (BLOBS, Refused, accept, blob_name, ingest, missing, out, pack,  # noqa: E402
                          dispatch, load, read_manifest, signed_bytes, store_has, trust_arguments, verify_all,
                          write_if_changed)

# Names the admin writes into a release itself; no artifact may take them.
RESERVED = ("airgap-archive-keyring.gpg", "airgap-archive-keyring.asc", ".airgap-release.json", ".airgap-manifest.json")
# Artifact kinds the repository server places in its web tree.
WEB_KINDS = ("deb", "rpm", "file")


def load_manifest(path, a=None):
    """The manifest, its signature checked against the trusted key (`a`: the
    command's --trusted-key and --site; None: a manifest this host already
    accepted, kept inside a release), and what the repository server needs
    beyond airgap_store's checks: unique paths, none reserved or both a
    file and a folder."""
    m, mid = load(path, a.trusted_key, a.site) if a is not None else read_manifest(path)
    problems = server_problems(m)
    if problems:
        raise Refused(problems)
    return m, mid


def server_problems(m):
    """What the repository server refuses beyond airgap_store's checks."""
    problems = []
    paths = {}
    for a in m["artifacts"]:
        p = a["path"]
        if p in paths:
            problems.append("%s is listed twice" % p)
        paths[p] = a
        if p.split("/")[0] in RESERVED or p in RESERVED:
            problems.append("%s: the path is reserved for the admin's own files" % p)
    # Two paths where one is a folder of the other cannot both be placed.
    folders = set()
    for p in paths:
        parts = p.split("/")
        for k in range(1, len(parts)):
            folders.add("/".join(parts[:k]))
    for p in sorted(paths):
        if p in folders:
            problems.append("%s is both a file and a folder of other artifacts" % p)
    return problems


def by_digest(manifest):
    """sha256 -> (size, [paths])"""
    d = {}
    for a in manifest["artifacts"]:
        size, paths = d.setdefault(a["sha256"], (a["size"], []))
        paths.append(a["path"])
    return d


def describe(paths):
    return paths[0] if len(paths) == 1 else "%s (and %d more)" % (paths[0], len(paths) - 1)


def blob_jobs(root, digests):
    """(path, sha256, size, what) of each blob, for airgap_store.verify_all."""
    return [(os.path.join(root, BLOBS, d), d, size, describe(paths)) for d, (size, paths) in sorted(digests.items())]


# ------------------------------------------------------------------ commands

def cmd_verify_signature(a):
    signed_bytes(a.manifest, a.trusted_key, a.sig)
    out({"changed": False})


def cmd_accept(a):
    """The manifest received on this host becomes its current one (CURRENT,
    CURRENT.sig) once its signature, its site, every field and its order
    (no older sequence, no other manifest under the current sequence, unless
    --allow-rollback, logged) are checked on the bytes received."""
    m, mid, changed = accept(a.manifest, a.sig, a.current, a.trusted_key, a.site, a.allow_rollback, server_problems)
    out({"changed": changed, "release": mid[:16], "manifest_sha256": mid, "sequence": m["sequence"], "site": m["site"]})


def cmd_check(a):
    # The signature first: nothing of an unsigned or altered manifest is trusted, not even its size.
    manifest, mid = load_manifest(os.path.join(a.bundle, "manifest.json"), a)
    problems = []
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
    problems += verify_all(blob_jobs(a.bundle, by_digest(manifest)))
    if problems:
        raise Refused(problems)
    total = sum(x["size"] for x in arts)
    out({"changed": False, "release": mid[:16], "manifest_sha256": mid, "artifacts": len(arts), "bytes": total,
         "sequence": manifest["sequence"], "created": manifest["created"]})


def cmd_missing(a):
    manifest, mid = load_manifest(a.manifest, a)
    sizes = {d: size for d, (size, _) in by_digest(manifest).items()}
    out({"changed": False, "release": mid[:16], "missing": missing(a.store, sizes)})


def cmd_pack(a):
    out(pack(a.bundle, a.out, a.digests))


def cmd_ingest(a):
    """Unpacks blobs into the store's incoming folder, verifies each one against
    its name and the manifest, and only then moves them all into the store."""
    manifest, _ = load_manifest(a.manifest, a)
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
    with [trusted=yes] on the admin host only, then removed: each .deb is
    hashed here, right before it is indexed."""
    manifest, _ = load_manifest(a.manifest, a)
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
        problems = verify_all([(os.path.join(tmp, name), x["sha256"], x["size"], x["path"])])
        if problems:
            shutil.rmtree(tmp, ignore_errors=True)
            raise Refused(problems)
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


def valid_until(release_file):
    """The Valid-Until of a Release file as seconds since the epoch, or None."""
    import email.utils
    try:
        with open(release_file, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("Valid-Until:"):
                    t = email.utils.parsedate_to_datetime(line.split(":", 1)[1].strip())
                    return t.timestamp()
                if not line.strip():
                    break
    except (OSError, TypeError, ValueError):
        return None
    return None


def sign_suite(a, dist, manifest, rid, suite, archs, fpr):
    """Writes dists/<suite>/Release (Date, and Valid-Until = Date + --valid-days)
    with InRelease and Release.gpg signed by the site key; each file is
    written beside and renamed, so a client never reads half of one."""
    opts = []
    for k, v in (("Origin", "airgap"), ("Label", "airgap %s" % manifest["site"]), ("Suite", suite),
                 ("Codename", suite), ("Components", "main"), ("Architectures", " ".join(sorted(archs))),
                 ("Description", "airgap site %s, bundle %s" % (manifest["site"], rid)),
                 ("ValidTime", str(int(a.valid_days * 86400)))):
        opts += ["-o", "APT::FTPArchive::Release::%s=%s" % (k, v)]
    release = run(["apt-ftparchive"] + opts + ["release", "."], cwd=dist).stdout
    staged = {}
    for name in ("Release", "InRelease", "Release.gpg"):
        staged[name] = os.path.join(dist, ".%s.partial" % name)
        if os.path.lexists(staged[name]):
            os.unlink(staged[name])
    write_if_changed(staged["Release"], release)
    gpg(a.home, "--local-user", fpr, "--digest-algo", "SHA512", "--clearsign", "--output", staged["InRelease"], staged["Release"])
    gpg(a.home, "--local-user", fpr, "--digest-algo", "SHA512", "--armor", "--detach-sign",
        "--output", staged["Release.gpg"], staged["Release"])
    for name in ("Release.gpg", "Release", "InRelease"):
        os.chmod(staged[name], 0o644)
        os.replace(staged[name], os.path.join(dist, name))


def due_for_renewal(a, final, manifest):
    """The suites of a built release whose Release files have fewer than
    --renew-days of validity left (or none readable): [(repo, per_arch)]."""
    due = []
    for repo, per_arch in repositories(manifest):
        dist = os.path.join(final, repo["path"], "dists", repo["suite"])
        until = valid_until(os.path.join(dist, "Release"))
        if until is not None and until - time.time() > a.renew_days * 86400:
            continue
        due.append((repo, per_arch))
    return due


def renew(a, final, manifest, rid, fpr):
    """Signs the Release files of a built release again when fewer than
    --renew-days of their validity are left; the suites renewed."""
    renewed = []
    for repo, per_arch in due_for_renewal(a, final, manifest):
        dist = os.path.join(final, repo["path"], "dists", repo["suite"])
        sign_suite(a, dist, manifest, rid, repo["suite"], per_arch, fpr)
        renewed.append("%s/%s" % (repo["path"], repo["suite"]))
    return renewed


def cmd_build(a):
    """Builds the release of this manifest once: every artifact hard-linked from
    the store at its path and hashed there (a blob whose bytes are not the
    manifest's is removed from the store, so the next run sends it again, and
    the build is refused), an APT repository per manifest repository indexed
    by apt-ftparchive and signed with the site key (Release with Valid-Until),
    the public key beside it. Built in a hidden folder and renamed when
    complete. A release already built gets its Release files signed again
    when fewer than --renew-days of their validity are left. --mode plan
    (check mode) only says what a build would do: {changed, release, renewed}."""
    manifest, mid = load_manifest(a.manifest, a)
    rid = mid[:16]
    final = os.path.join(a.releases, rid)
    if a.mode == "plan":
        # Check mode: the verified manifest's release and whether a run would build or re-sign it; nothing written.
        built = os.path.isfile(os.path.join(final, ".airgap-release.json"))
        due = ["%s/%s" % (r["path"], r["suite"]) for r, _ in due_for_renewal(a, final, manifest)] if built else []
        out({"changed": not built or bool(due), "release": rid, "path": final, "renewed": due, "planned": True})
        return
    fpr = secret_fingerprint(a.home)
    if fpr is None:
        raise RuntimeError("no signing key in %s" % a.home)
    if os.path.isfile(os.path.join(final, ".airgap-release.json")):
        try:
            renewed = renew(a, final, manifest, rid, fpr)
        finally:
            kill_agent(a.home)
        out({"changed": bool(renewed), "release": rid, "path": final, "renewed": renewed})
        return
    os.makedirs(a.releases, exist_ok=True)
    os.makedirs(a.cache, exist_ok=True)
    tmp = os.path.join(a.releases, "." + rid + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        problems = []
        jobs = []
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
            jobs.append((dest, x["sha256"], x["size"], x["path"]))
        # The bytes served are these links' (the store's inodes): hashed here, right before they are served.
        bad = verify_all(jobs)
        if bad:
            for dest, digest, size, what in jobs:
                if any(p.startswith(what + ":") for p in bad):
                    try:
                        os.unlink(os.path.join(a.store, BLOBS, digest))
                    except OSError:
                        pass
            problems += [p + " (removed from the store; the next run with the bundle sends it again)" for p in bad]
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
            sign_suite(a, os.path.join(root, "dists", suite), manifest, rid, suite, per_arch, fpr)
            suites.append("%s/%s" % (repo["path"], suite))
        for src, name in ((a.keyring, "airgap-archive-keyring.gpg"), (a.armored, "airgap-archive-keyring.asc")):
            shutil.copyfile(src, os.path.join(tmp, name))
        for dirpath, dirnames, filenames in os.walk(tmp):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.copyfile(a.manifest, os.path.join(tmp, ".airgap-manifest.json"))
        with open(os.path.join(tmp, ".airgap-release.json"), "w") as f:
            json.dump({"release": rid, "manifest_sha256": mid, "site": manifest.get("site"), "signed_by": fpr,
                       "sequence": manifest["sequence"], "created": manifest["created"], "suites": suites}, f, sort_keys=True)
        os.chmod(tmp, 0o755)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        kill_agent(a.home)
    out({"changed": True, "release": rid, "path": final, "suites": suites})


def kill_agent(home):
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=home),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
    s = sub.add_parser("check"); s.add_argument("bundle"); s.add_argument("--files"); s.add_argument("--packages")
    trust_arguments(s)
    s = sub.add_parser("verify-signature"); s.add_argument("manifest"); s.add_argument("sig"); trust_arguments(s)
    s = sub.add_parser("accept"); s.add_argument("manifest"); s.add_argument("sig"); s.add_argument("current")
    s.add_argument("--allow-rollback", action="store_true"); trust_arguments(s)
    s = sub.add_parser("missing"); s.add_argument("manifest"); s.add_argument("store"); trust_arguments(s)
    s = sub.add_parser("pack"); s.add_argument("bundle"); s.add_argument("out"); s.add_argument("digests", nargs="*")
    s = sub.add_parser("ingest"); s.add_argument("tar"); s.add_argument("manifest"); s.add_argument("store"); trust_arguments(s)
    s = sub.add_parser("bootstrap-index"); s.add_argument("manifest"); s.add_argument("store"); s.add_argument("dir"); trust_arguments(s)
    s = sub.add_parser("signing-key"); s.add_argument("home"); s.add_argument("name"); s.add_argument("keyring"); s.add_argument("armored")
    s = sub.add_parser("build")
    for n in ("manifest", "store", "releases", "home", "cache", "keyring", "armored"):
        s.add_argument(n)
    s.add_argument("--valid-days", type=float, default=30); s.add_argument("--renew-days", type=float, default=10)
    s.add_argument("--mode", choices=("build", "plan"), default="build")
    trust_arguments(s)
    s = sub.add_parser("prune"); s.add_argument("releases"); s.add_argument("store"); s.add_argument("keep", type=int); s.add_argument("current")
    commands = {name[len("cmd_"):].replace("_", "-"): f for name, f in globals().items() if name.startswith("cmd_")}
    return dispatch(p, argv, commands)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
