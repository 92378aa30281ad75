#!/usr/bin/python3
"""The site's Go module proxy, from the bundle's goproxy/ files.

The bundle (airgap bundle, bundle/gomodules.ts) carries, as `file`
artifacts under goproxy/, the module cache download tree the go command
filled on the bastion: <escaped module>/@v/<escaped version>.mod, .info,
.zip; sumdb/sum.golang.org/lookup/<module>@<version> and
sumdb/sum.golang.org/tile/... (the checksum database's answers and the
tiles proving them); and go.sum (every go.sum line carried).

  check BUNDLE --modules JSON       (controller) the bundle is for this site
      and carries, for every module the site lists ([{path, version}]), its
      .mod, .info and .zip and the database's answer; prints the digests of
      its goproxy/ files {hex: size}
  accept MANIFEST SIG CURRENT [--allow-rollback]   MANIFEST becomes the
      proxy's CURRENT once its signature, site, fields and order are checked
  missing CURRENT ROOT              the digests of CURRENT's goproxy/ files
      that ROOT/proxy lacks at their path with their bytes (hashed)
  pack BUNDLE TAR DIGEST...         (controller) a tar of those blobs
  place TAR CURRENT ROOT            hashes every blob of TAR against CURRENT
      (nothing is placed unless all are right), then writes each goproxy/
      file of CURRENT that ROOT/proxy lacks, atomically
  index ROOT                        writes ROOT/proxy/<module>/@v/list (the
      versions whose .info, .mod and .zip are all there, pseudo-versions
      left out, as the protocol says), <module>/@latest (the .info of the
      highest of them: a release, else a pre-release, else a pseudo-version)
      and sumdb/sum.golang.org/supported; only files whose bytes change.
      Modules of earlier bundles stay: a new version is added to the list.

Every command that reads a manifest takes --trusted-key PEM and --site NAME
and checks its signature on the bytes it reads (airgap_store.load). Prints
{"changed": bool, ...} as JSON; problems on stderr, exit 1. Python 3.6 or
later, standard library and airgap_store.py only.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (Refused, accept_arguments, cmd_accept, cmd_pack, dispatch, fail, holds, ingest,  # noqa: E402
                          safe_relative, signed_manifest, transfer_arguments, trust_arguments, write_if_changed)

PREFIX = "goproxy/"
SUMDB = "sum.golang.org"
# x/mod's pseudoVersionRE, on the unescaped version.
PSEUDO = re.compile(r"^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(\+[0-9A-Za-z.-]+)?$")


def escape(s):
    """The proxy protocol's case escaping: upper-case X is written !x."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), s)


def unescape(s):
    return re.sub(r"!([a-z])", lambda m: m.group(1).upper(), s)


def entries(manifest):
    """relative path under proxy/ -> entry, for every `file` artifact under goproxy/"""
    out = {}
    for a in manifest["artifacts"]:
        if isinstance(a, dict) and a.get("kind") == "file" and a.get("path", "").startswith(PREFIX):
            rel = a["path"][len(PREFIX):]
            if not safe_relative(rel) or any(seg.startswith(".") for seg in rel.split("/")):
                fail("unsafe path in the manifest: %r" % a["path"])
            out[rel] = a
    return out


def cmd_check(a):
    m = signed_manifest(os.path.join(a.bundle, "manifest.json"), a)
    have = entries(m)
    problems = []
    for mod in json.loads(a.modules):
        base = "%s/@v/%s" % (escape(mod["path"]), escape(mod["version"]))
        wanted = [base + ".mod", base + ".info", base + ".zip",
                  "sumdb/%s/lookup/%s@%s" % (SUMDB, escape(mod["path"]), escape(mod["version"]))]
        for w in wanted:
            if w not in have:
                problems.append("module %s@%s: the bundle does not carry goproxy/%s; run airgap bundle again with this site"
                                % (mod["path"], mod["version"], w))
    if have and "go.sum" not in have:
        problems.append("the bundle carries Go modules but not goproxy/go.sum")
    if problems:
        fail("; ".join(problems))
    print(json.dumps({"changed": False, "files": len(have), "sizes": {e["sha256"]: e["size"] for e in have.values()},
                      "sequence": m["sequence"]}))


def lacking(m, root):
    proxy = os.path.join(root, "proxy")
    return {rel: e for rel, e in entries(m).items() if not holds(os.path.join(proxy, rel), e)}


def cmd_missing(a):
    m = signed_manifest(a.current, a)
    need = lacking(m, a.root)
    print(json.dumps({"changed": False, "missing": sorted({e["sha256"] for e in need.values()}), "files": len(need)}))


def cmd_place(a):
    m = signed_manifest(a.current, a)
    need = lacking(m, a.root)
    sizes = {e["sha256"]: e["size"] for e in need.values()}
    work = tempfile.mkdtemp(prefix=".incoming-", dir=a.root)
    try:
        try:
            ingest(a.tar, work, sizes, foreign="%s is not a Go proxy file the manifest lacks here")
        except Refused as e:
            fail("; ".join(e.problems))
        proxy = os.path.join(a.root, "proxy")
        placed = 0
        for rel, e in sorted(need.items()):
            blob = os.path.join(work, "blobs", "sha256", e["sha256"])
            dest = os.path.join(proxy, *rel.split("/"))
            os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
            with open(blob, "rb") as f:
                data = f.read()
            if write_if_changed(dest, data, 0o644):
                placed += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"changed": placed > 0, "placed": placed}))


def version_key(v):
    """Semantic version precedence (as golang.org/x/mod/semver.Compare) for sorting."""
    m = SEMVER.match(v)
    if not m:
        return ((-1, -1, -1), 0, ())
    pre = m.group(4)
    ids = ()
    if pre:
        ids = tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in pre.split("."))
    return ((int(m.group(1)), int(m.group(2)), int(m.group(3))), 0 if pre else 1, ids)


def cmd_index(a):
    proxy = os.path.join(a.root, "proxy")
    changed, modules = False, 0
    for dirpath, dirnames, filenames in os.walk(proxy):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if os.path.basename(dirpath) != "@v" or os.path.relpath(dirpath, proxy).startswith("sumdb"):
            continue
        complete = []
        for f in filenames:
            if f.endswith(".zip"):
                v = f[:-4]
                if v + ".info" in filenames and v + ".mod" in filenames:
                    complete.append(unescape(v))
        if not complete:
            continue
        modules += 1
        complete.sort(key=version_key)
        listed = [v for v in complete if not PSEUDO.match(v)]
        data = "".join(v + "\n" for v in listed).encode()
        changed |= write_if_changed(os.path.join(dirpath, "list"), data, 0o644)
        releases = [v for v in complete if not PSEUDO.match(v) and not SEMVER.match(v).group(4)]
        pres = [v for v in complete if not PSEUDO.match(v)]
        latest = (releases or pres or complete)[-1]
        with open(os.path.join(dirpath, escape(latest) + ".info"), "rb") as f:
            info = f.read()
        changed |= write_if_changed(os.path.join(os.path.dirname(dirpath), "@latest"), info, 0o644)
    lookups = os.path.join(proxy, "sumdb", SUMDB, "lookup")
    if os.path.isdir(lookups):
        changed |= write_if_changed(os.path.join(proxy, "sumdb", SUMDB, "supported"), b"", 0o644)
    print(json.dumps({"changed": bool(changed), "modules": modules}))


def main(argv):
    p = argparse.ArgumentParser(prog="airgap_goproxy.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    c = sub.add_parser("check")
    c.add_argument("bundle")
    c.add_argument("--modules", default="[]")
    trust_arguments(c)
    accept_arguments(sub)
    transfer_arguments(sub, "root")
    c = sub.add_parser("index")
    c.add_argument("root")
    commands = {"check": cmd_check, "accept": cmd_accept, "missing": cmd_missing, "pack": cmd_pack, "place": cmd_place, "index": cmd_index}
    return dispatch(p, argv, commands, (RuntimeError, OSError, ValueError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
