#!/usr/bin/python3
"""The site's Python package index, from the bundle's `wheel` artifacts.

  check BUNDLE --site NAME --packages JSON   (controller) the bundle is for this
      site and carries every listed project and each package's blob; prints
      {"changed": false, "files": N, "projects": N}
  accept MANIFEST SIG CURRENT [--allow-rollback]   MANIFEST becomes the index's
      CURRENT once its signature, site, fields and order are checked
  missing CURRENT PACKAGES   the packages of CURRENT that PACKAGES lacks at
      PACKAGES/<project>/<file> with their bytes (each file there is hashed:
      a changed one counts as missing); prints {"changed": false, "missing":
      [sha256 hex, sorted], "files": N missing}
  pack BUNDLE TAR DIGEST...  (controller) one tar of those blobs of the bundle
  place TAR CURRENT PACKAGES   hashes every blob of TAR against CURRENT
      (nothing is placed unless all are right; a blob CURRENT does not need
      here is refused), then writes each package PACKAGES lacks, atomically,
      mode 0644; prints {"changed", "placed": N}
  index MANIFEST PACKAGES SIMPLE [--verify]  builds a PEP 503 simple index:
      SIMPLE/index.html and SIMPLE/<project>/index.html, links to
      ../../packages/<project>/<file>#sha256=<hex>; only files whose bytes
      change are written, files of older bundles are removed. --verify hashes
      every package against the manifest first (refuses on any mismatch).
  devpi-seed MANIFEST PACKAGES URL INDEX [--uploader USER]   creates INDEX
      (user/name: no base, so no mirror; non-volatile; uploads by root and
      USER only) on the devpi-server at URL, the users it names, and uploads
      the packages it lacks; passwords on stdin as JSON {"root", "uploader"}

Every command that reads a manifest takes --trusted-key PEM and --site NAME
and checks the manifest's signature (MANIFEST.sig) on the bytes it reads
(airgap_store.load). Prints {"changed": bool, ...} as JSON; problems on
stderr, exit 1.
Python 3.6 or later, standard library and airgap_store.py (the store role's
code shared with the other bundle tools) only.
"""
import argparse
import base64
import errno
import html
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

# The code shared by the tools that read a bundle: beside this tool on the
# host, in the store role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (Refused, accept_arguments, cmd_accept, cmd_pack, fail, fsync_dir, holds, ingest,  # noqa: E402
                          safe_relative, sha256_file, signed_manifest, store_has, transfer_arguments, trust_arguments,
                          write_if_changed)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_entries(manifest):
    out = []
    for i, a in enumerate(manifest["artifacts"]):
        if not isinstance(a, dict) or a.get("kind") != "wheel":
            continue
        p = a.get("path", "")
        if not safe_relative(p) or not p.startswith("pypi/") or len(p.split("/")) != 3:
            fail("unsafe path in the manifest: %r" % p)
        out.append(a)
    return out


def cmd_check(a):
    m = signed_manifest(os.path.join(a.bundle, "manifest.json"), a)
    problems = []
    wheels = wheel_entries(m)
    have = {w["name"] for w in wheels}
    for req in json.loads(a.packages):
        name = normalize(re.match(r"[A-Za-z0-9._-]+", req).group(0))
        if name not in have:
            problems.append("it carries no package of %s (from the site's pypi.packages): run airgap bundle again" % req)
    for w in wheels:
        if not store_has(a.bundle, w["sha256"], w["size"]):
            problems.append("%s: its blob is missing or has the wrong size" % w["path"])
    if problems:
        fail("; ".join(problems))
    print(json.dumps({"changed": False, "files": len(wheels), "projects": len({w["path"].split("/")[1] for w in wheels})}))


def lacking(m, packages):
    """[(file under PACKAGES, entry)] of every package of manifest `m` that
    PACKAGES does not hold with the manifest's bytes."""
    out = []
    for w in wheel_entries(m):
        f = os.path.join(packages, *w["path"].split("/")[1:])
        if not holds(f, w):
            out.append((f, w))
    return out


def cmd_missing(a):
    need = lacking(signed_manifest(a.current, a), a.packages)
    print(json.dumps({"changed": False, "missing": sorted({w["sha256"] for _, w in need}), "files": len(need)}))


def move_into(src, dest):
    """Puts the file `src` at `dest`, mode 0644, atomically and durably: a
    rename (the role's incoming/ and packages/ share a file system), else a
    copy beside `dest` renamed over it. A symbolic link at `dest` is
    replaced, never followed. Never reads the file into memory (a wheel may
    have hundreds of MB)."""
    os.chmod(src, 0o644)
    try:
        os.replace(src, dest)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        tmp = os.path.join(os.path.dirname(dest), ".%s.%d.partial" % (os.path.basename(dest), os.getpid()))
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    fsync_dir(os.path.dirname(dest))


def cmd_place(a):
    need = lacking(signed_manifest(a.current, a), a.packages)
    # A private folder beside the transfer (never in PACKAGES, whose every folder is a project), removed at the end.
    work = tempfile.mkdtemp(prefix=".place-", dir=os.path.dirname(os.path.abspath(a.tar)))
    try:
        try:
            ingest(a.tar, work, {w["sha256"]: w["size"] for _, w in need}, foreign="%s is not a package this index lacks")
        except Refused as e:
            fail("; ".join(e.problems))
        placed_at = {}
        for f, w in need:
            os.makedirs(os.path.dirname(f), mode=0o755, exist_ok=True)
            src = os.path.join(work, "blobs", "sha256", w["sha256"])
            if w["sha256"] in placed_at:
                # The same bytes under a second name: the blob has moved to the first.
                src = os.path.join(work, "again")
                shutil.copyfile(placed_at[w["sha256"]], src)
            move_into(src, f)
            placed_at[w["sha256"]] = f
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"changed": bool(need), "placed": len(need)}))


def page(title, links):
    body = "".join('    <a href="%s">%s</a><br>\n' % (html.escape(href), html.escape(text)) for href, text in links)
    return ('<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.0">\n'
            "    <title>%s</title>\n  </head>\n  <body>\n%s  </body>\n</html>\n" % (html.escape(title), body))


def cmd_index(a):
    wheels = wheel_entries(signed_manifest(a.manifest, a))
    changed = False
    projects = {}
    for w in wheels:
        _, project, name = w["path"].split("/")
        f = os.path.join(a.packages, project, name)
        if not os.path.isfile(f) or os.path.getsize(f) != w["size"]:
            fail("%s is missing or has the wrong size: give the bundle again" % f)
        if a.verify and sha256_file(f)[0] != w["sha256"]:
            fail("%s does not have the manifest's sha256 %s; the index was not changed" % (f, w["sha256"]))
        projects.setdefault(project, []).append((name, w["sha256"]))
    os.makedirs(a.simple, exist_ok=True)
    for project, files in sorted(projects.items()):
        d = os.path.join(a.simple, project)
        os.makedirs(d, exist_ok=True)
        links = [("../../packages/%s/%s#sha256=%s" % (project, n, h), n) for n, h in sorted(files)]
        changed |= write_if_changed(os.path.join(d, "index.html"), page("Links for %s" % project, links).encode())
    changed |= write_if_changed(os.path.join(a.simple, "index.html"), page("Simple index", [(p + "/", p) for p in sorted(projects)]).encode())
    # Projects and files of older bundles go.
    for name in os.listdir(a.simple):
        p = os.path.join(a.simple, name)
        if os.path.isdir(p) and name not in projects:
            for f in os.listdir(p):
                os.unlink(os.path.join(p, f))
            os.rmdir(p)
            changed = True
    for project in os.listdir(a.packages):
        d = os.path.join(a.packages, project)
        keep = {n for n, _ in projects.get(project, [])}
        for f in os.listdir(d):
            if f not in keep:
                os.unlink(os.path.join(d, f))
                changed = True
        if not keep:
            os.rmdir(d)
    print(json.dumps({"changed": changed, "projects": len(projects), "files": len(wheels)}))


class Devpi:
    """devpi-server's HTTP API (JSON), as root once logged in."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.auth = None

    def call(self, method, path, body=None, content_type="application/json", auth=True):
        """(status, parsed JSON or raw bytes) of METHOD URL/PATH; body: dict (JSON) or bytes."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, method=method, data=body)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", content_type)
        if auth and self.auth:
            req.add_header("X-Devpi-Auth", self.auth)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw.decode())
        except ValueError:
            return status, raw

    def login(self, user, password):
        """The X-Devpi-Auth value for USER, or None when devpi refuses the password."""
        status, body = self.call("POST", "/+login", {"user": user, "password": password}, auth=False)
        if status != 200:
            return None
        return base64.b64encode(("%s:%s" % (user, body["result"]["password"])).encode()).decode()


def message(body):
    if isinstance(body, dict):
        return body.get("message", json.dumps(body)[:300])
    return body[:300].decode(errors="replace")


def ensure_user(d, user, password, changes):
    """Creates USER with PASSWORD (a random one when None: nobody logs in as it), or
    sets PASSWORD when devpi refuses it for an existing USER."""
    status, _ = d.call("GET", "/" + user)
    if status == 404:
        status, body = d.call("PUT", "/" + user, {"password": password or secrets.token_urlsafe(32)})
        if status != 201:
            fail("devpi did not create the user %s (HTTP %s): %s" % (user, status, message(body)))
        changes.append("user %s created" % user)
    elif status != 200:
        fail("devpi did not answer for the user %s (HTTP %s)" % (user, status))
    elif password is not None and d.login(user, password) is None:
        status, body = d.call("PATCH", "/" + user, {"password": password})
        if status != 200:
            fail("devpi did not set the password of %s (HTTP %s): %s" % (user, status, message(body)))
        changes.append("password of %s set" % user)


def present_files(d, index, project):
    """File names devpi lists for PROJECT on INDEX (every version)."""
    status, body = d.call("GET", "/%s/%s" % (index, project))
    if status != 200 or not isinstance(body, dict):
        return set()
    names = set()
    for version in (body.get("result") or {}).values():
        for link in version.get("+links", []) if isinstance(version, dict) else []:
            names.add(link.get("href", "").rsplit("/", 1)[-1].split("#")[0])
    return names


def upload(d, index, project, version, name, path):
    boundary = uuid.uuid4().hex
    parts = []
    for k, v in ((":action", "file_upload"), ("name", project), ("version", version)):
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v)).encode())
    with open(path, "rb") as f:
        content = f.read()
    parts.append(('--%s\r\nContent-Disposition: form-data; name="content"; filename="%s"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name)).encode() + content + b"\r\n")
    data = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    status, body = d.call("POST", "/%s/" % index, data, "multipart/form-data; boundary=" + boundary)
    if status != 200:
        fail("devpi refused %s (HTTP %s): %s" % (name, status, message(body)))


def cmd_devpi_seed(a):
    """Index INDEX (user/name) with no base (no mirror), uploads by root and the
    uploader only, non-volatile (a file once served stays); then every package
    of the manifest it does not list yet. Passwords on stdin, as JSON:
    {"root": "...", "uploader": "..." (with --uploader)}."""
    try:
        passwords = json.loads(sys.stdin.read())
        root_password = passwords["root"]
        uploader_password = passwords.get("uploader") if a.uploader else None
    except (ValueError, KeyError, TypeError):
        fail("devpi-seed reads {\"root\": PASSWORD, \"uploader\": PASSWORD} on stdin")
    if a.uploader and not uploader_password:
        fail("devpi-seed: no password for the uploader %s on stdin" % a.uploader)
    d = Devpi(a.url)
    d.auth = d.login("root", root_password)
    if d.auth is None:
        fail("devpi refused root's password: it was set when devpi's server folder was first initialised; "
             "give the same secret (rootPassword in the site file), or change it with devpi's own client as root")
    changes = []
    owner = a.index.split("/")[0]
    if owner != "root":
        ensure_user(d, owner, uploader_password if owner == a.uploader else None, changes)
    if a.uploader and a.uploader != owner:
        ensure_user(d, a.uploader, uploader_password, changes)
    acl = ["root"] + ([a.uploader] if a.uploader else [])
    spec = {"type": "stage", "bases": [], "volatile": False, "acl_upload": acl, "acl_toxresult_upload": acl, "mirror_whitelist": []}
    status, body = d.call("GET", "/" + a.index)
    if status == 404:
        status, body = d.call("PUT", "/" + a.index, spec)
        if status not in (200, 201):
            fail("devpi did not create %s (HTTP %s): %s" % (a.index, status, message(body)))
        changes.append("index %s created" % a.index)
    elif status == 200:
        have = body["result"]
        wrong = {k: v for k, v in spec.items() if isinstance(v, list) and sorted(have.get(k) or []) != sorted(v)}
        if have.get("volatile") is not False:
            wrong["volatile"] = False
        if wrong:
            status, body = d.call("PATCH", "/" + a.index, wrong)
            if status != 200:
                fail("devpi did not set %s on %s (HTTP %s): %s" % (", ".join(sorted(wrong)), a.index, status, message(body)))
            changes.append("index %s: %s set" % (a.index, ", ".join(sorted(wrong))))
    else:
        fail("devpi did not answer for %s (HTTP %s): %s" % (a.index, status, message(body)))
    uploaded = []
    listed = {}
    for w in wheel_entries(signed_manifest(a.manifest, a)):
        _, project, name = w["path"].split("/")
        if project not in listed:
            listed[project] = present_files(d, a.index, project)
        if name in listed[project]:
            continue
        # devpi wants the version as the file name writes it (a wheel's second field).
        version = name.split("-")[1] if name.endswith(".whl") else w.get("version", "")
        upload(d, a.index, project, version, name, os.path.join(a.packages, project, name))
        uploaded.append(name)
    print(json.dumps({"changed": bool(changes or uploaded), "changes": changes, "uploaded": uploaded}))


def main(argv):
    p = argparse.ArgumentParser(prog="airgap_pypi")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("check")
    s.add_argument("bundle")
    s.add_argument("--packages", default="[]")
    trust_arguments(s)
    accept_arguments(sub)
    transfer_arguments(sub, "packages")
    s = sub.add_parser("index")
    s.add_argument("manifest")
    s.add_argument("packages")
    s.add_argument("simple")
    s.add_argument("--verify", action="store_true")
    trust_arguments(s)
    s = sub.add_parser("devpi-seed")
    s.add_argument("manifest")
    s.add_argument("packages")
    s.add_argument("url")
    s.add_argument("index")
    s.add_argument("--uploader", default="")
    trust_arguments(s)
    a = p.parse_args(argv)
    commands = {"check": cmd_check, "accept": cmd_accept, "missing": cmd_missing, "pack": cmd_pack, "place": cmd_place,
                "index": cmd_index, "devpi-seed": cmd_devpi_seed}
    commands[a.cmd](a)


if __name__ == "__main__":
    main(sys.argv[1:])
