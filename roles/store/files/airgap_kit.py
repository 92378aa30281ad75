#!/usr/bin/env python3
"""airgap_kit: the controller's kit out of a transfer file, before airgap is there.

The runbook's `kit` step runs this on the Ansible controller inside the site,
from the compiled project (roles/store/files/), with nothing but Python 3 and
openssl 3:

    python3 airgap_kit.py unpack transfer/SITE.tar --trust airgap-bundle.pub --site SITE --out kit

It reads the transfer file (one tar, or its chunks SITE.tar.000, .001, ...
laid end to end, as `airgap export --split` writes them) as a stream: the
first two members are manifest.json and manifest.json.sig; the signature is
checked against the trusted public key with openssl (airgap_store.verify_
signature) before the manifest is parsed; then every blob of an artifact of
kind `kit` is hashed as it is read and must have the manifest's SHA-256 and
size. Only when every kit file is right are they placed, under their paths
without the leading `kit/` (kit/python/X.whl -> OUT/python/X.whl), in a
fresh OUT (written beside as OUT.partial, then renamed over it).

Prints one JSON object ({"changed": true, "files": N, "bytes": B,
"manifest_sha256": ...}); problems on stderr, one per line; exit 1 refused,
2 usage. Standard library only.
"""
import argparse
import hashlib
import os
import re
import shutil
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from airgap_store import (CHUNK, MANIFEST_MAX, SIGNATURE_SIZE, Refused, dispatch, out, parse,  # noqa: E402
                          read_capped, verify_signature)

KIT_PREFIX = "kit/"
BLOB = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")


class Chunks(object):
    """A read-only stream over files laid end to end (a transfer's chunks)."""

    def __init__(self, paths):
        self.paths = list(paths)
        self.current = None

    def read(self, n=-1):
        parts = []
        while n != 0:
            if self.current is None:
                if not self.paths:
                    break
                self.current = open(self.paths.pop(0), "rb")
            b = self.current.read(n if n > 0 else CHUNK)
            if not b:
                self.current.close()
                self.current = None
                continue
            parts.append(b)
            if n > 0:
                n -= len(b)
        return b"".join(parts)

    def close(self):
        if self.current is not None:
            self.current.close()


def transfer_files(path):
    """The transfer file, or its chunks (PATH.000, PATH.001, ... in order)."""
    if os.path.isfile(path):
        return [path]
    folder = os.path.dirname(path) or "."
    base = os.path.basename(path)
    chunks = sorted(f for f in (os.listdir(folder) if os.path.isdir(folder) else [])
                    if f.startswith(base + ".") and re.match(r"^\d{3,}$", f[len(base) + 1:]))
    if not chunks:
        raise Refused(["%s: no such transfer file, and no chunks %s.000, ..." % (path, path)])
    numbers = [int(f[len(base) + 1:]) for f in chunks]
    if numbers != list(range(len(chunks))):
        raise Refused(["%s: the chunks are not numbered 000 to %03d without a gap (%s)" % (path, len(chunks) - 1, ", ".join(chunks))])
    return [os.path.join(folder, f) for f in chunks]


def read_member(t, member, cap, what):
    if not member.isreg() or member.size > cap:
        raise Refused(["the transfer's %s is not a regular file of at most %d bytes" % (what, cap)])
    return t.extractfile(member).read()


def cmd_unpack(a):
    pem = read_capped(a.trust, 16 << 10, "trusted key").decode("utf-8", "replace")
    stream = Chunks(transfer_files(a.transfer))
    dest = os.path.abspath(a.out)
    tmp = dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as t:
            # A stream: each member's data is read before the next header.
            members = iter(t)
            head = []
            for name, cap in (("manifest.json", MANIFEST_MAX), ("manifest.json.sig", SIGNATURE_SIZE)):
                member = next(members, None)
                if member is None or member.name != name:
                    raise Refused(["%s is not an airgap transfer file (its first members are not manifest.json and manifest.json.sig)" % a.transfer])
                head.append(read_member(t, member, cap, name))
            data, sig = head
            verify_signature(data, sig, pem)
            m, mid = parse(data, "manifest.json in %s" % a.transfer)
            if a.site and m["site"] != a.site:
                raise Refused(["the bundle was made for site %r, this is site %r" % (m["site"], a.site)])
            wanted = {}
            for x in m["artifacts"]:
                if x["kind"] != "kit":
                    continue
                if not x["path"].startswith(KIT_PREFIX):
                    raise Refused(["%s: a kit artifact outside kit/" % x["path"]])
                wanted.setdefault(x["sha256"], (x["size"], []))[1].append(x["path"][len(KIT_PREFIX):])
            if not wanted:
                raise Refused(["the bundle carries no controller's kit (it was made with airgap bundle --no-kit)"])
            got, total = set(), 0
            for member in members:
                match = BLOB.match(member.name)
                if not match or match.group(1) not in wanted or not member.isreg():
                    continue
                digest = match.group(1)
                size, paths = wanted[digest]
                blob = os.path.join(tmp, ".blob-" + digest)
                h, n = hashlib.sha256(), 0
                src = t.extractfile(member)
                with open(blob, "wb") as f:
                    while True:
                        b = src.read(CHUNK)
                        if not b:
                            break
                        h.update(b)
                        n += len(b)
                        f.write(b)
                if n != size or h.hexdigest() != digest:
                    raise Refused(["%s: %d bytes with sha256 %s in the transfer; the signed manifest says %d bytes, sha256 %s"
                                   % (", ".join(paths), n, h.hexdigest(), size, digest)])
                for p in paths:
                    target = os.path.join(tmp, p)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copyfile(blob, target)
                os.unlink(blob)
                got.add(digest)
                total += size
                if len(got) == len(wanted):
                    break
        lacking = sorted(p for d, (_, paths) in wanted.items() if d not in got for p in paths)
        if lacking:
            raise Refused(["kit/%s is not in this transfer (a delta carries only what changed: the kit installed from an earlier transfer stays)" % p
                           for p in lacking])
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        stream.close()
    out({"changed": True, "files": sum(len(p) for _, p in wanted.values()), "bytes": total, "manifest_sha256": mid, "sequence": m["sequence"]})


def main(argv):
    parser = argparse.ArgumentParser(prog="airgap_kit.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("unpack", help="check the kit's files against the signed manifest and place them in OUT")
    p.add_argument("transfer", help="the transfer file (or the name its chunks start with)")
    p.add_argument("--trust", required=True, help="the site's trusted public key (PEM), airgap-bundle.pub")
    p.add_argument("--site", default="", help="the site's name: a bundle for another site is refused")
    p.add_argument("--out", required=True, help="folder to place the kit in (replaced)")
    return dispatch(parser, argv, {"unpack": cmd_unpack}, errors=(RuntimeError, OSError, tarfile.TarError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
