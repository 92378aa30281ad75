"""airgap_store: the code every role tool that reads a bundle shares.

A bundle (made by `airgap bundle`, or a store filled by `airgap import`) is
a folder holding manifest.json (format 1: the site, and one entry per
artifact with its kind, path, sha256 and size) and a content-addressed
store of the artifacts, blobs/sha256/<hex>. A host keeps such a store too,
filled blob by blob. The tools that read bundles import this module:
airgap_bundle.py (repo_server), airgap_registry.py (registry),
airgap_pypi.py (pypi_server). On the hosts the `store` role installs it
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


def read_manifest(path):
    """(manifest, sha256 of its bytes) of a format 1 manifest with an artifact
    list; the entries themselves are each tool's to check (artifact_problems)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        m = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as e:
        raise Refused(["manifest %s cannot be read: %s" % (path, e)])
    if not isinstance(m, dict):
        raise Refused(["manifest %s is not a JSON object" % path])
    if m.get("format") != 1:
        raise Refused(["manifest %s has format %r; this role reads format 1" % (path, m.get("format"))])
    if not isinstance(m.get("artifacts"), list):
        raise Refused(["manifest %s has no artifact list" % path])
    return m, hashlib.sha256(raw).hexdigest()


def artifact_problems(a, where):
    """What is wrong with one manifest entry's path, sha256 and size."""
    if not isinstance(a, dict):
        return ["%s is not an object" % where]
    if not safe_relative(a.get("path")):
        return ["%s: path %r is not a safe relative path" % (where, a.get("path"))]
    problems = []
    if not HEX64.match(str(a.get("sha256", ""))):
        problems.append("%s: sha256 is not 64 lower-case hex digits" % a["path"])
    if not isinstance(a.get("size"), int) or isinstance(a.get("size"), bool) or a["size"] < 0:
        problems.append("%s: size is not a byte count" % a["path"])
    return problems


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
                with open(os.path.join(incoming, d), "wb") as f:
                    while True:
                        b = src.read(CHUNK)
                        if not b:
                            break
                        h.update(b)
                        n += len(b)
                        f.write(b)
                if n != sizes[d] or h.hexdigest() != d:
                    problems.append("%s arrived with %d bytes and sha256 %s; the manifest says %d bytes, sha256 %s"
                                    % (name(d), n, h.hexdigest(), sizes[d], d))
                    continue
                done.append(d)
        if problems:
            raise Refused(problems)
        for d in done:
            os.chmod(os.path.join(incoming, d), 0o644)
            os.replace(os.path.join(incoming, d), os.path.join(blobs, d))
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return len(done)


def write_if_changed(path, data, mode=0o644):
    """Writes bytes atomically (beside, then renamed) unless the file already
    holds exactly them; True when it wrote."""
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except OSError:
        pass
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


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
