"""airgap_store: the code every role tool that reads a bundle shares.

A bundle (made by `airgap bundle`, or a store filled by `airgap import`) is
a folder holding manifest.json (format 1: the site, and one entry per
artifact with its kind, path, sha256 and size) and a content-addressed
store of the artifacts, blobs/sha256/<hex>. A host keeps such a store too,
filled blob by blob. The tools that read bundles import this module:
airgap_bundle.py (repo_server), airgap_registry.py (registry),
airgap_pypi.py (pypi_server), airgap_charts.py (helm_repo),
airgap_goproxy.py (goproxy). On the hosts the `store` role installs it
beside them (/usr/local/lib/airgap); on the controller they find it in the
`store` role's files/ folder, beside their own role.

Conventions of the tools: each command prints one JSON object on stdout
({"changed": ...}); problems go to stderr, one per line (Refused); exit 1 =
refused or failed, 2 = usage. Python 3.6 or later, standard library only.
"""
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

HEX64 = re.compile(r"^[0-9a-f]{64}$")
BLOBS = os.path.join("blobs", "sha256")
CHUNK = 1 << 20


class Refused(Exception):
    """The bundle, the store or the request does not match; one problem per item."""

    def __init__(self, problems):
        Exception.__init__(self, "\n".join(problems))
        self.problems = problems


def out(obj):
    """The command's one JSON answer on stdout."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")


def sha256_file(path):
    """(hex digest, size in bytes) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            h.update(b)
            size += len(b)
    return h.hexdigest(), size


def safe_relative(p):
    """A relative path of plain segments: no leading /, no . or .., no backslash or NUL."""
    if not isinstance(p, str) or not p or p.startswith("/") or "\\" in p or "\0" in p:
        return False
    return all(seg not in ("", ".", "..") for seg in p.split("/"))


def safe_name(s):
    """One path component the admin may use as a folder or file name (an APT
    suite, an architecture, a release, the site): a letter or digit, then
    letters, digits and . _ + ~ -, at most 128 characters; never . or .."""
    return isinstance(s, str) and SAFE_NAME.match(s) is not None


# ------------------------------------------------------------------ the signed manifest
#
# Every tool reads a manifest through load() (or accept(), which also records
# it as the consumer's current one): the signature is checked on the bytes
# read, once, and only those bytes are parsed; every field a tool may turn
# into a path is checked here, in one place.

MANIFEST_MAX = 32 << 20
"""Bytes a manifest may have (32 MiB, ~90,000 artifacts); a bigger one is
refused before it is read. bundle/manifest.ts MANIFEST_MAX_BYTES is the same."""
SIGNATURE_SIZE = 64
KINDS = ("deb", "rpm", "file", "image", "image-blob", "wheel", "kit")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$")
CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def read_capped(path, cap, what):
    """The bytes of a regular file of at most `cap` bytes (symbolic links
    refused), read once; Refused naming `what` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        raise Refused(["%s %s cannot be read: %s" % (what, path, e.strerror or e)])
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Refused(["%s %s is not a regular file" % (what, path)])
        if st.st_size > cap:
            raise Refused(["%s %s has %d bytes, more than the %d a %s may have; refused unread" % (what, path, st.st_size, cap, what)])
        data = f.read(cap + 1)
    if len(data) > cap:
        raise Refused(["%s %s grew past %d bytes while read; refused" % (what, path, cap)])
    return data


def verify_signature(data, sig, pem):
    """The detached ed25519 signature `sig` (64 raw bytes, made by airgap
    bundle --key) of exactly the bytes `data`, against the site's trusted key
    `pem` (SPKI PEM). openssl 3 checks it (pkeyutl -rawin) on a private copy
    of those bytes; Refused when it does not verify or nothing is trusted."""
    if not (pem or "").strip():
        raise Refused(["the site names no trusted bundle key (services.repos.trustedKey in site.ts): every bundle is refused"])
    if sig is None:
        raise Refused(["the bundle is unsigned: its manifest.json.sig is missing (sign with airgap bundle --key)"])
    if len(sig) != SIGNATURE_SIZE:
        raise Refused(["the manifest's signature has %d bytes, an ed25519 signature has 64" % len(sig)])
    private = tempfile.mkdtemp(prefix="airgap-verify-")
    try:
        files = {}
        for name, content in (("key.pub", pem.encode()), ("manifest", data), ("sig", sig)):
            files[name] = os.path.join(private, name)
            create(files[name], content, 0o600)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", files["key.pub"], "-rawin",
                            "-in", files["manifest"], "-sigfile", files["sig"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    except OSError as e:
        raise Refused(["cannot run openssl to verify the manifest's signature: %s" % e])
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if r.returncode != 0:
        why = " ".join((r.stdout + r.stderr).split())[:200]
        raise Refused(["the manifest's signature does not verify against the site's trusted key "
                       "(the manifest was altered, or signed by another key): openssl: %s" % why])


def signed_bytes(path, pem, sig_path=None):
    """(bytes, signature) of the manifest at `path` (at most MANIFEST_MAX),
    verified against its signature (`sig_path`, default path + ".sig") and
    the trusted key before anything of it is parsed."""
    sig_path = sig_path or path + ".sig"
    sig = None
    if os.path.lexists(sig_path):
        sig = read_capped(sig_path, SIGNATURE_SIZE, "signature")
    data = read_capped(path, MANIFEST_MAX, "manifest")
    verify_signature(data, sig, pem)
    return data, sig


def manifest_problems(m):
    """Every problem of a parsed manifest: format, site, sequence, created, and
    each field of repositories[] and artifacts[] a tool may use as a path
    (path, pool: safe relative paths; suite, architectures, release, arch,
    site: safe names)."""
    if not isinstance(m, dict):
        return ["the manifest is not a JSON object"]
    problems = []
    if m.get("format") != 1:
        problems.append("format is %r; this tool reads format 1" % (m.get("format"),))
    if not safe_name(m.get("site")):
        problems.append("site %r is not a plain name" % (m.get("site"),))
    seq = m.get("sequence")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        problems.append("sequence %r is not a positive integer (a bundle made before airgap numbered them: run airgap bundle again)" % (seq,))
    if not isinstance(m.get("created"), str) or not CREATED.match(m["created"]):
        problems.append("created %r is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)" % (m.get("created"),))
    repos = m.get("repositories", [])
    if not isinstance(repos, list):
        problems.append("repositories is not a list")
        repos = []
    for i, r in enumerate(repos):
        where = "repositories[%d]" % i
        if not isinstance(r, dict):
            problems.append("%s is not an object" % where)
            continue
        for k in ("path", "pool"):
            if not safe_relative(r.get(k)):
                problems.append("%s: %s %r is not a safe relative path" % (where, k, r.get(k)))
        for k in ("release", "kind") + (("suite",) if "suite" in r or r.get("kind") == "apt" else ()):
            if not safe_name(r.get(k)):
                problems.append("%s: %s %r is not a plain name" % (where, k, r.get(k)))
        archs = r.get("architectures")
        if not isinstance(archs, list) or not all(safe_name(x) for x in archs):
            problems.append("%s: architectures %r must be a list of plain names" % (where, archs))
    arts = m.get("artifacts")
    if not isinstance(arts, list):
        problems.append("the manifest has no artifact list")
        return problems
    for i, a in enumerate(arts):
        problems += artifact_problems(a, "artifacts[%d]" % i)
    return problems


def artifact_problems(a, where):
    """What is wrong with one manifest entry: kind, path, sha256, size, and the
    names a tool may use (arch, release)."""
    if not isinstance(a, dict):
        return ["%s is not an object" % where]
    if not safe_relative(a.get("path")):
        return ["%s: path %r is not a safe relative path" % (where, a.get("path"))]
    problems = []
    if a.get("kind") not in KINDS:
        problems.append("%s: unknown kind %r" % (a["path"], a.get("kind")))
    if not isinstance(a.get("name"), str) or not a["name"] or "\0" in a["name"]:
        problems.append("%s: name is missing" % a["path"])
    for k in ("arch", "release"):
        if k in a and not safe_name(a[k]):
            problems.append("%s: %s %r is not a plain name" % (a["path"], k, a[k]))
    if not HEX64.match(str(a.get("sha256", ""))):
        problems.append("%s: sha256 is not 64 lower-case hex digits" % a["path"])
    if not isinstance(a.get("size"), int) or isinstance(a.get("size"), bool) or a["size"] < 0:
        problems.append("%s: size is not a byte count" % a["path"])
    return problems


def parse(data, where):
    """(manifest, sha256 of `data`) after manifest_problems() found nothing."""
    try:
        m = json.loads(data.decode("utf-8"))
    except ValueError as e:
        raise Refused(["manifest %s cannot be read: %s" % (where, e)])
    problems = manifest_problems(m)
    if problems:
        raise Refused(["manifest %s: %s" % (where, p) for p in problems])
    return m, hashlib.sha256(data).hexdigest()


def load(path, pem, site=None, sig_path=None):
    """(manifest, its sha256): the manifest at `path`, its signature checked
    against the trusted key on the bytes read, every field checked, and made
    for `site` when given. What every tool calls before it uses a manifest."""
    m, mid = parse(signed_bytes(path, pem, sig_path)[0], path)
    if site and m["site"] != site:
        raise Refused(["the bundle was made for site %r, this is site %r" % (m["site"], site)])
    return m, mid


def read_manifest(path):
    """(manifest, sha256) of a manifest this host already accepted (its own
    copy, written by accept()); checked, its signature not checked again."""
    return parse(read_capped(path, MANIFEST_MAX, "manifest"), path)


def log(message):
    """A line in the system log (journal), tagged airgap-bundle, and on stderr."""
    sys.stderr.write(message + "\n")
    try:
        import syslog
        syslog.openlog("airgap-bundle")
        syslog.syslog(syslog.LOG_WARNING, message)
    except (ImportError, OSError):
        pass


def order_problems(m, mid, current, allow_rollback=False):
    """Whether the verified manifest `m` (sha256 `mid`) may follow the
    consumer's current one (path `current`, absent on a first run): same
    site always; a higher sequence, or the very same manifest again (a re-run
    changes nothing). An older sequence, or another manifest under the same
    sequence (a replay), is refused unless `allow_rollback`, which is logged."""
    if not current or not os.path.exists(current):
        return []
    data = read_capped(current, MANIFEST_MAX, "manifest")
    cid = hashlib.sha256(data).hexdigest()
    try:
        cur = json.loads(data.decode("utf-8"))
    except ValueError:
        cur = None
    if not isinstance(cur, dict) or not safe_name(cur.get("site")):
        raise Refused(["this host's current manifest %s cannot be read: remove it and give the bundle again" % current])
    # A manifest accepted before airgap numbered bundles counts as sequence 0.
    seq = cur.get("sequence")
    cur = dict(cur, sequence=seq if isinstance(seq, int) and not isinstance(seq, bool) else 0, created=cur.get("created", "(unknown)"))
    if cur["site"] != m["site"]:
        return ["the bundle was made for site %r; this host serves site %r" % (m["site"], cur["site"])]
    if cid == mid or m["sequence"] > cur["sequence"]:
        return []
    what = ("sequence %d (created %s, manifest %s) is older than the current %d (created %s, manifest %s)"
            if m["sequence"] < cur["sequence"] else
            "sequence %d (created %s, manifest %s) is the current one's, %d (created %s, manifest %s), with other content: a replay")
    what = what % (m["sequence"], m["created"], mid[:16], cur["sequence"], cur["created"], cid[:16])
    if allow_rollback:
        log("airgap: rollback accepted on purpose (airgap_allow_rollback): site %s, %s" % (m["site"], what))
        return []
    return ["the bundle is refused: %s. To go back on purpose: -e airgap_allow_rollback=true "
            "(ansible-playbook) or --allow-rollback (airgap import)" % what]


def accept(incoming, sig, current, pem, site, allow_rollback=False, check=None):
    """Verifies the manifest at `incoming` (signature `sig`, site, every field,
    the consumer's own `check(m)` -> problems, order against `current`) and
    only then makes it the consumer's current manifest: `current` + ".sig"
    and `current`, each written beside and renamed (the manifest last).
    Returns (manifest, sha256, changed)."""
    data, signature = signed_bytes(incoming, pem, sig)
    m, mid = parse(data, incoming)
    if site and m["site"] != site:
        raise Refused(["the bundle was made for site %r, this is site %r" % (m["site"], site)])
    problems = (check(m) if check else []) or order_problems(m, mid, current, allow_rollback)
    if problems:
        raise Refused(problems)
    changed = write_if_changed(current + ".sig", signature)
    changed |= write_if_changed(current, data)
    return m, mid, changed


def trust_arguments(parser):
    """The options of every command that reads a manifest: the site's trusted
    key (PEM text; a public key, not a secret) and the site's name."""
    parser.add_argument("--trusted-key", default="")
    parser.add_argument("--site", default="")


# ------------------------------------------------------------------ commands the tools share


def fail(msg):
    """Refuses: `msg` on stderr, exit 1 (never returns)."""
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def signed_manifest(path, a):
    """The manifest at `path` (a dict) through load(): its signature checked
    on the bytes read against a.trusted_key (PEM), every field checked, made
    for a.site (when not empty); exit 1 with the problems on stderr, joined
    by "; ", otherwise (trust_arguments() gives a command those options)."""
    try:
        return load(path, a.trusted_key, a.site)[0]
    except Refused as e:
        fail("; ".join(e.problems))


def accept_arguments(sub):
    """Adds the `accept MANIFEST SIG CURRENT [--allow-rollback]` command
    (with trust_arguments) to the subparsers `sub`; cmd_accept runs it."""
    s = sub.add_parser("accept")
    for name in ("manifest", "sig", "current"):
        s.add_argument(name)
    s.add_argument("--allow-rollback", action="store_true")
    trust_arguments(s)
    return s


def cmd_accept(a):
    """accept(): MANIFEST (signature SIG) becomes the consumer's CURRENT;
    prints {"changed", "release" (the manifest's sha256, first 16 hex
    digits), "sequence", "site"}; exit 1 with the problems otherwise."""
    try:
        m, mid, changed = accept(a.manifest, a.sig, a.current, a.trusted_key, a.site, a.allow_rollback)
    except Refused as e:
        fail("; ".join(e.problems))
    print(json.dumps({"changed": changed, "release": mid[:16], "sequence": m["sequence"], "site": m["site"]}))


def transfer_arguments(sub, dest):
    """Adds the commands that bring a host only the blobs it lacks to the
    subparsers `sub`: `missing CURRENT DEST` and `place TAR CURRENT DEST`
    (with trust_arguments; DEST, the folder the tool serves from, lands in
    the attribute named `dest`), and `pack BUNDLE TAR DIGEST...` (cmd_pack).
    The tool writes cmd_missing and cmd_place itself."""
    for name, args in (("missing", ("current", dest)), ("place", ("tar", "current", dest))):
        s = sub.add_parser(name)
        for arg in args:
            s.add_argument(arg)
        trust_arguments(s)
    s = sub.add_parser("pack")
    s.add_argument("bundle")
    s.add_argument("tar")
    s.add_argument("digests", nargs="*")


def cmd_pack(a):
    """(controller) pack(): one tar of the blobs DIGEST... of BUNDLE at TAR;
    prints {"changed", "blobs", "bytes"}; exit 1 on a name that is no digest."""
    try:
        print(json.dumps(pack(a.bundle, a.tar, a.digests)))
    except Refused as e:
        fail("; ".join(e.problems))


def holds(path, entry):
    """The file at `path` is a regular file, not a symbolic link, holding
    exactly the manifest entry's bytes (entry["size"] first, then its
    sha256 hashed): what a consumer serves is never trusted by name or size."""
    try:
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) != entry["size"]:
            return False
        return sha256_file(path)[0] == entry["sha256"]
    except OSError:
        return False


def blob_name(hexdigest):
    return "blobs/sha256/" + hexdigest


def store_has(store, digest, size):
    """The store holds a blob of that digest with that size (not hashed again)."""
    try:
        return os.stat(os.path.join(store, BLOBS, digest)).st_size == size
    except OSError:
        return False


def missing(store, sizes):
    """The digests of `sizes` ({hex: size}) the store lacks, sorted."""
    return sorted(d for d, size in sizes.items() if not store_has(store, d, size))


def pack(bundle, tar, digests):
    """(controller) A tar of the named blobs of the bundle, for one transfer;
    written beside and renamed when complete."""
    tmp = tar + ".partial"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        for d in digests:
            if not HEX64.match(d):
                raise Refused(["%r is not a sha256 digest" % d])
            t.add(os.path.join(bundle, BLOBS, d), arcname=blob_name(d), recursive=False)
    os.replace(tmp, tar)
    return {"changed": True, "blobs": len(digests), "bytes": os.path.getsize(tar)}


def ingest(tar, store, sizes, name=blob_name, foreign="%s is not in the manifest"):
    """Unpacks a transfer made by pack() into a temporary folder of the store,
    hashes each blob against its name and `sizes` ({hex: size}, what the
    manifest allows), and only when every one is right moves them all into
    the store. `name(hex)` names a blob in problems; `foreign` says that a
    blob is not one the manifest allows. Returns the number of blobs stored."""
    blobs = os.path.join(store, BLOBS)
    os.makedirs(blobs, exist_ok=True)
    incoming = tempfile.mkdtemp(prefix=".incoming-", dir=store)
    problems, done = [], []
    try:
        with tarfile.open(tar, "r:") as t:
            for member in t:
                m = re.match(r"^blobs/sha256/([0-9a-f]{64})$", member.name)
                if not m or not member.isreg():
                    problems.append("%s: unexpected entry in the transfer" % member.name)
                    continue
                d = m.group(1)
                if d not in sizes:
                    problems.append(foreign % blob_name(d))
                    continue
                h, n = hashlib.sha256(), 0
                src = t.extractfile(member)
                with os.fdopen(os.open(os.path.join(incoming, d), CREATE_FLAGS, 0o644), "wb") as f:
                    while True:
                        b = src.read(CHUNK)
                        if not b:
                            break
                        h.update(b)
                        n += len(b)
                        f.write(b)
                    f.flush()
                    os.fsync(f.fileno())
                if n != sizes[d] or h.hexdigest() != d:
                    problems.append("%s arrived with %d bytes and sha256 %s; the manifest says %d bytes, sha256 %s"
                                    % (name(d), n, h.hexdigest(), sizes[d], d))
                    continue
                done.append(d)
        if problems:
            raise Refused(problems)
        for d in done:
            os.replace(os.path.join(incoming, d), os.path.join(blobs, d))
        fsync_dir(blobs)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return len(done)


CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def create(path, data, mode, gid=-1):
    """Creates `path` holding `data`: O_CREAT|O_EXCL|O_NOFOLLOW (never an
    existing file or a symbolic link planted there), with its final mode and
    group (`gid`, -1 = the process's) from the start, written and fsynced."""
    fd = os.open(path, CREATE_FLAGS, mode)
    try:
        os.fchmod(fd, mode)
        if gid != -1:
            os.fchown(fd, -1, gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def fsync_dir(path):
    """Makes the renames in a folder durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_if_changed(path, data, mode=0o644, gid=-1):
    """Writes bytes atomically unless the file already holds exactly them with
    that mode (and group, `gid` != -1); True when it wrote. The new content
    goes to a fresh name beside (create(): exclusive, no symbolic link
    followed, final mode and group from the start, fsynced), then renamed
    over `path`."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o7777 == mode and gid in (-1, st.st_gid):
            with open(path, "rb") as f:
                if f.read(len(data) + 1) == data:
                    return False
    except OSError:
        pass
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, ".%s.%d.%s.partial" % (os.path.basename(path), os.getpid(), os.urandom(4).hex()))
    create(tmp, data, mode, gid)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(folder)
    return True


def verify_blob(path, digest, size, what):
    """None when the file at `path` holds exactly `size` bytes with that
    sha256 (hashed now, never trusted by name or size), else the problem
    naming `what`."""
    try:
        st = os.stat(path)
    except OSError:
        return "%s: its blob %s is missing" % (what, blob_name(digest))
    if st.st_size != size:
        return "%s: its blob %s has %d bytes, the manifest says %d" % (what, blob_name(digest), st.st_size, size)
    got, _ = sha256_file(path)
    if got != digest:
        return "%s: its blob %s has sha256 %s, the manifest says %s" % (what, blob_name(digest), got, digest)
    return None


def verify_all(jobs):
    """Hashes every (path, sha256, size, what) of `jobs` in parallel (hashlib
    releases the GIL); returns the problems, in the jobs' order."""
    import concurrent.futures
    workers = min(8, (os.cpu_count() or 1) + 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return [r for r in pool.map(lambda j: verify_blob(*j), jobs) if r]


def dispatch(parser, argv, commands, errors=(RuntimeError, OSError)):
    """Parses argv (the parser's subcommand in `cmd`), runs
    commands[cmd](args), prints Refused problems one per line (50 at most)
    and the given errors on one; returns the exit code."""
    a = parser.parse_args(argv)
    if not a.cmd:
        parser.print_usage(sys.stderr)
        return 2
    os.umask(0o022)
    try:
        commands[a.cmd](a)
    except Refused as e:
        for line in e.problems[:50]:
            sys.stderr.write(line + "\n")
        if len(e.problems) > 50:
            sys.stderr.write("... and %d more\n" % (len(e.problems) - 50))
        return 1
    except errors as e:
        sys.stderr.write("%s\n" % e)
        return 1
    return 0
