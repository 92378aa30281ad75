#!/usr/bin/python3
"""The site's Helm charts, from the bundle's chart files.

The bundle (airgap bundle, bundle/charts.ts) carries each chart as `file`
artifacts: `charts/<name>-<version>.tgz` (the archive as `helm pull` wrote
it), `charts/<name>-<version>.tgz.json` (its Chart.yaml as JSON, read by
the helm client on the bastion) and, when the chart's repository publishes
one, `charts/<name>-<version>.tgz.prov` (its provenance file).

  check BUNDLE --site NAME --charts JSON      (controller) the bundle is for
      this site and carries every listed chart ([{name, version, path}]);
      prints its chart files' entries as JSON
  accept MANIFEST SIG CURRENT [--allow-rollback]   MANIFEST becomes the
      repository's CURRENT once its signature, site, fields and order are checked
  index CHARTS URL     writes CHARTS/index.yaml (a classic chart repository's
      index, as JSON, which is YAML) from every <chart>.tgz.json in CHARTS,
      each chart's URL under URL and its digest the archive's SHA-256; only
      when the bytes change. Charts of older bundles stay (a release that
      installed them can still be rolled back)
  push CHARTS REGISTRY CA --namespace NS   pushes every chart of CHARTS into
      the registry at https://REGISTRY as an OCI artifact NS/<name>:<version>
      (Helm's media types; `+` in a version becomes `_` in the tag, as helm
      push does), skipping those the registry already holds with the same
      manifest digest; the push account on stdin as JSON {"user", "password"}

Every command that reads a manifest takes --trusted-key PEM and --site NAME
and checks the manifest's signature (MANIFEST.sig) on the bytes it reads
(airgap_store.load). Prints {"changed": bool, ...} as JSON; problems on
stderr, exit 1. Python 3.6 or later, standard library and airgap_store.py
only.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (accept_arguments, cmd_accept, fail, safe_relative, sha256_file, signed_manifest,  # noqa: E402
                          trust_arguments, write_if_changed)

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_PROV = "application/vnd.cncf.helm.chart.provenance.v1.prov"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHART_FILE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*-v?[0-9][0-9A-Za-z.+-]*\.tgz$")


def chart_entries(manifest):
    """path -> entry, for every `file` artifact under charts/"""
    out = {}
    for a in manifest["artifacts"]:
        if isinstance(a, dict) and a.get("kind") == "file" and a.get("path", "").startswith("charts/"):
            p = a["path"]
            if not safe_relative(p) or len(p.split("/")) != 2:
                fail("unsafe path in the manifest: %r" % p)
            out[p] = a
    return out


def cmd_check(a):
    m = signed_manifest(os.path.join(a.bundle, "manifest.json"), a)
    entries = chart_entries(m)
    problems, files = [], []
    for c in json.loads(a.charts):
        for suffix, required in (("", True), (".json", True), (".prov", False)):
            e = entries.get(c["path"] + suffix)
            if e is None:
                if required:
                    problems.append("chart %s %s: the bundle does not carry %s; run airgap bundle again with this site"
                                    % (c["name"], c["version"], c["path"] + suffix))
                continue
            files.append({"path": e["path"], "sha256": e["sha256"], "size": e["size"]})
    if problems:
        fail("; ".join(problems))
    print(json.dumps({"changed": False, "files": files, "sequence": m["sequence"]}))


def charts_in(folder):
    """[(archive file name, metadata)] for every chart whose archive and
    metadata are both in the folder, sorted by name then file."""
    out = []
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".tgz") or not CHART_FILE.match(f):
            continue
        meta = os.path.join(folder, f + ".json")
        if not os.path.isfile(meta):
            continue
        with open(meta, "rb") as fh:
            md = json.load(fh)
        if not isinstance(md, dict) or not isinstance(md.get("name"), str) or not isinstance(md.get("version"), str):
            fail("%s: no chart name and version" % meta)
        if f != "%s-%s.tgz" % (md["name"], md["version"]):
            fail("%s: names chart %s %s, not the archive %s" % (meta, md["name"], md["version"], f))
        out.append((f, md))
    return out


def version_key(v):
    """SemVer precedence, enough to list the newest first (as helm repo index does)."""
    core, _, pre = v.lstrip("v").split("+")[0].partition("-")
    nums = [int(x) if x.isdigit() else 0 for x in core.split(".")]
    return (nums, 1 if not pre else 0, pre)


def cmd_index(a):
    entries = {}
    for f, md in charts_in(a.charts):
        e = dict(md)
        e["urls"] = [a.url.rstrip("/") + "/" + urllib.parse.quote(f)]
        e["digest"] = sha256_file(os.path.join(a.charts, f))[0]
        entries.setdefault(md["name"], []).append(e)
    for name in entries:
        entries[name].sort(key=lambda e: version_key(e["version"]), reverse=True)
    index = {"apiVersion": "v1", "entries": dict(sorted(entries.items()))}
    data = (json.dumps(index, indent=2, sort_keys=False) + "\n").encode()
    changed = write_if_changed(os.path.join(a.charts, "index.yaml"), data)
    print(json.dumps({"changed": bool(changed), "charts": sum(len(v) for v in entries.values())}))


class Registry:
    """The site registry's HTTP API over TLS (verified against CA), with basic auth."""

    def __init__(self, host, ca, user, password):
        self.base = "https://%s" % host
        self.ctx = ssl.create_default_context(cafile=ca)
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

    def call(self, method, url, body=None, headers=None):
        if not url.startswith("http"):
            url = self.base + url
        h = {"Authorization": self.auth}
        h.update(headers or {})
        req = urllib.request.Request(url, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=120) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def has_blob(self, repo, digest):
        return self.call("HEAD", "/v2/%s/blobs/%s" % (repo, digest))[0] == 200

    def put_blob(self, repo, digest, data):
        if self.has_blob(repo, digest):
            return
        st, h, body = self.call("POST", "/v2/%s/blobs/uploads/" % repo)
        if st != 202:
            raise RuntimeError("POST blob upload to %s: HTTP %d %s" % (repo, st, body[:200]))
        loc = h["Location"]
        if loc.startswith("/"):
            loc = self.base + loc
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(digest)
        st, _, body = self.call("PUT", loc, data, {"Content-Type": "application/octet-stream"})
        if st != 201:
            raise RuntimeError("PUT blob %s to %s: HTTP %d %s" % (digest, repo, st, body[:200]))

    def manifest_digest(self, repo, tag):
        st, h, _ = self.call("HEAD", "/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": OCI_MANIFEST})
        return h.get("Docker-Content-Digest") if st == 200 else None


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chart_artifact(folder, f, md):
    """The chart as helm push lays it out: (config, layers, manifest bytes)."""
    config = json.dumps(md, separators=(",", ":"), sort_keys=True).encode()
    with open(os.path.join(folder, f), "rb") as fh:
        chart = fh.read()
    layers = [(HELM_CHART, chart)]
    prov = os.path.join(folder, f + ".prov")
    if os.path.isfile(prov):
        with open(prov, "rb") as fh:
            layers.append((HELM_PROV, fh.read()))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": HELM_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": t, "digest": digest_of(d), "size": len(d)} for t, d in layers],
        "annotations": {"org.opencontainers.image.title": md["name"], "org.opencontainers.image.version": md["version"]},
    }
    return config, layers, json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()


def cmd_push(a):
    account = json.load(sys.stdin)
    reg = Registry(a.registry, a.ca, account["user"], account["password"])
    pushed, present = [], 0
    for f, md in charts_in(a.charts):
        repo = "%s/%s" % (a.namespace, md["name"])
        tag = md["version"].replace("+", "_")
        config, layers, manifest = chart_artifact(a.charts, f, md)
        if reg.manifest_digest(repo, tag) == digest_of(manifest):
            present += 1
            continue
        reg.put_blob(repo, digest_of(config), config)
        for _, d in layers:
            reg.put_blob(repo, digest_of(d), d)
        st, _, body = reg.call("PUT", "/v2/%s/manifests/%s" % (repo, tag), manifest, {"Content-Type": OCI_MANIFEST})
        if st != 201:
            fail("PUT manifest %s:%s: HTTP %d %s" % (repo, tag, st, body[:300].decode(errors="replace")))
        pushed.append("%s:%s" % (repo, tag))
    print(json.dumps({"changed": bool(pushed), "pushed": pushed, "present": present}))


def main(argv):
    p = argparse.ArgumentParser(prog="airgap_charts")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("check")
    s.add_argument("bundle")
    s.add_argument("--charts", default="[]")
    trust_arguments(s)
    accept_arguments(sub)
    s = sub.add_parser("index")
    s.add_argument("charts")
    s.add_argument("url")
    s = sub.add_parser("push")
    s.add_argument("charts")
    s.add_argument("registry")
    s.add_argument("ca")
    s.add_argument("--namespace", default="charts")
    a = p.parse_args(argv)
    try:
        {"check": cmd_check, "accept": cmd_accept, "index": cmd_index, "push": cmd_push}[a.cmd](a)
    except (RuntimeError, OSError, ValueError) as e:
        fail(str(e))


if __name__ == "__main__":
    main(sys.argv[1:])
