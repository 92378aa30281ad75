#!/usr/bin/python3
"""The site's Python package index, from the bundle's `wheel` artifacts.

  check BUNDLE --site NAME --packages JSON   (controller) the bundle is for this
      site and carries every listed project; prints the wheel entries as JSON
  accept MANIFEST SIG CURRENT [--allow-rollback]   MANIFEST becomes the index's
      CURRENT once its signature, site, fields and order are checked
  index MANIFEST PACKAGES SIMPLE [--verify]  builds a PEP 503 simple index:
      SIMPLE/index.html and SIMPLE/<project>/index.html, links to
      ../../packages/<project>/<file>#sha256=<hex>; only files whose bytes
      change are written, files of older bundles are removed. --verify hashes
      every package against the manifest first (refuses on any mismatch).
  devpi-seed MANIFEST PACKAGES URL INDEX   creates INDEX (no upstream) on the
      devpi-server at URL and uploads the packages it lacks; root password on stdin

Every command that reads a manifest takes --trusted-key PEM and --site NAME
and checks the manifest's signature (MANIFEST.sig) on the bytes it reads
(airgap_store.load). Prints {"changed": bool, ...} as JSON; problems on
stderr, exit 1.
Python 3.6 or later, standard library and airgap_store.py (the store role's
code shared with the other bundle tools) only.
"""
import argparse
import base64
import html
import json
import os
import re
import sys
import urllib.error
import urllib.request
import uuid

# The code shared by the tools that read a bundle: beside this tool on the
# host, in the store role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (Refused, accept, load as load_signed, safe_relative, sha256_file, store_has,  # noqa: E402
                          trust_arguments, write_if_changed)


def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


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


def load(path, a):
    """The manifest at `path`, its signature checked on the bytes read
    against --trusted-key, every field checked, made for --site."""
    try:
        return load_signed(path, a.trusted_key, a.site)[0]
    except Refused as e:
        fail("; ".join(e.problems))


def cmd_check(a):
    m = load(os.path.join(a.bundle, "manifest.json"), a)
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
    print(json.dumps({"changed": False, "wheels": [{"path": w["path"], "sha256": w["sha256"]} for w in wheels]}))


def cmd_accept(a):
    try:
        m, mid, changed = accept(a.manifest, a.sig, a.current, a.trusted_key, a.site, a.allow_rollback)
    except Refused as e:
        fail("; ".join(e.problems))
    print(json.dumps({"changed": changed, "release": mid[:16], "sequence": m["sequence"], "site": m["site"]}))


def page(title, links):
    body = "".join('    <a href="%s">%s</a><br>\n' % (html.escape(href), html.escape(text)) for href, text in links)
    return ('<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.0">\n'
            "    <title>%s</title>\n  </head>\n  <body>\n%s  </body>\n</html>\n" % (html.escape(title), body))


def cmd_index(a):
    wheels = wheel_entries(load(a.manifest, a))
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


def devpi(url, method, path, token=None, body=None, content_type="application/json"):
    req = urllib.request.Request(url + path, method=method, data=body)
    req.add_header("Accept", "application/json")
    if body is not None:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("X-Devpi-Auth", base64.b64encode(("root:%s" % token).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def cmd_devpi_seed(a):
    password = sys.stdin.read().strip()
    status, body = devpi(a.url, "POST", "/+login", body=json.dumps({"user": "root", "password": password}).encode())
    if status != 200:
        fail("devpi refused root's password (HTTP %s): set the secret the site file names for rootPassword" % status)
    token = json.loads(body)["result"]["password"]
    changed = False
    status, _ = devpi(a.url, "GET", "/" + a.index)
    if status == 404:
        spec = {"type": "stage", "bases": [], "volatile": False, "mirror_whitelist": []}
        status, body = devpi(a.url, "PUT", "/" + a.index, token, json.dumps(spec).encode())
        if status not in (200, 201):
            fail("devpi did not create %s (HTTP %s): %s" % (a.index, status, body[:300]))
        changed = True
    uploaded = []
    for w in wheel_entries(load(a.manifest, a)):
        _, project, name = w["path"].split("/")
        status, body = devpi(a.url, "GET", "/%s/%s" % (a.index, project))
        present = status == 200 and name in body.decode(errors="replace")
        if present:
            continue
        with open(os.path.join(a.packages, project, name), "rb") as f:
            content = f.read()
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in ((":action", "file_upload"), ("name", project), ("version", w.get("version", ""))):
            parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v)).encode())
        parts.append(('--%s\r\nContent-Disposition: form-data; name="content"; filename="%s"\r\n'
                      "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name)).encode() + content + b"\r\n")
        data = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
        status, body = devpi(a.url, "POST", "/%s/" % a.index, token, data, "multipart/form-data; boundary=" + boundary)
        if status != 200:
            fail("devpi refused %s (HTTP %s): %s" % (name, status, body[:300]))
        uploaded.append(name)
        changed = True
    print(json.dumps({"changed": changed, "uploaded": uploaded}))


def main(argv):
    p = argparse.ArgumentParser(prog="airgap_pypi")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("check")
    s.add_argument("bundle")
    s.add_argument("--packages", default="[]")
    trust_arguments(s)
    s = sub.add_parser("accept")
    s.add_argument("manifest")
    s.add_argument("sig")
    s.add_argument("current")
    s.add_argument("--allow-rollback", action="store_true")
    trust_arguments(s)
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
    trust_arguments(s)
    a = p.parse_args(argv)
    {"check": cmd_check, "accept": cmd_accept, "index": cmd_index, "devpi-seed": cmd_devpi_seed}[a.cmd](a)


if __name__ == "__main__":
    main(sys.argv[1:])
