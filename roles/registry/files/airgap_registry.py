#!/usr/bin/env python3
"""airgap registry tool: accounts, configuration check, and seeding the site
registry from the bundle's images.

The bundle (made by `airgap bundle`) lists its images as `image` entries
(name, tag, sha256 = the manifest's digest) and every blob they use as
`image-blob` entries; blobs live in a content-addressed store,
blobs/sha256/<hex>, which is also the blobs folder of an OCI image layout.
Commands print one JSON object on stdout ({"changed": ...}); problems go to
stderr, one per line; exit 1 = refused or failed, 2 = usage. Secrets come on
stdin, never on the command line. Every command that reads a manifest takes
--trusted-key PEM and --site NAME and checks the manifest's signature
(MANIFEST.sig) on the bytes it reads (airgap_store.load); the blobs of the
images it pushes are hashed right before the push.

  check BUNDLE --images JSON                     (controller) the bundle holds every image
  accept MANIFEST SIG CURRENT [--allow-rollback] MANIFEST becomes this host's CURRENT
  missing MANIFEST STORE                         image blobs the store lacks
  pack BUNDLE OUT.tar HEX...                     (controller)
  ingest TAR MANIFEST STORE                      verify each blob, then move it into the store
  layout MANIFEST STORE LAYOUT --images JSON     OCI layout over the store, one ref per image
  push MANIFEST LAYOUT REGISTRY CA_DIR --images JSON [--jobs N]   stdin {"user","password"}
  push also pushes again an image whose tag is there but one of whose
  manifests (a multi-arch index's children) is not: "repaired" in its output
  prune MANIFEST STORE                           remove blobs the manifest does not list
  indexes ROOT                                   tags of distribution's storage that are multi-arch indexes
  htpasswd FILE COST GROUP                       stdin [{"name","password"}]; bcrypt via htpasswd -B
  check-config FILE                              the registry's config.yml, before it goes live

Python 3.6 or later; standard library and airgap_store.py (the store role's
code shared with the other bundle tools) only, except check-config (PyYAML);
htpasswd needs apache2-utils (or httpd-tools), push needs skopeo.
"""
import argparse
import base64
import concurrent.futures
import glob
import grp
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading

# The code shared by the tools that read a bundle: beside this tool on the
# host, in the store role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "store", "files"))
from airgap_store import (BLOBS, HEX64, Refused, accept, ingest, load, missing, out, pack,  # noqa: E402
                          dispatch, store_has, trust_arguments, verify_all, write_if_changed)

IMAGE_KINDS = ("image", "image-blob")
REF_NAME = "org.opencontainers.image.ref.name"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join([
    OCI_MANIFEST, OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


def image_problems(m):
    """What the registry refuses beyond airgap_store's checks: an image without its tag."""
    return ["%s: an image needs its name and tag" % a["path"] for a in m["artifacts"]
            if a["kind"] == "image" and not isinstance(a.get("tag"), str)]


def load_manifest(path, a):
    """The manifest, its signature checked against the trusted key on the
    bytes read (a: the command's --trusted-key and --site), every field
    checked (airgap_store) and its images."""
    m, mid = load(path, a.trusted_key, a.site)
    problems = image_problems(m)
    if problems:
        raise Refused(problems)
    return m, mid


def image_entries(manifest):
    """source (without docker://) -> image entry"""
    d = {}
    for a in manifest["artifacts"]:
        if a.get("kind") == "image":
            src = a.get("source", "")
            d[src[len("docker://"):] if src.startswith("docker://") else src] = a
    return d


def image_digests(manifest):
    """sha256 -> size, for every image and image-blob entry"""
    return {a["sha256"]: a["size"] for a in manifest["artifacts"] if a.get("kind") in IMAGE_KINDS}


def ref_name(entry):
    return "%s:%s" % (entry["name"], entry["tag"])


def wanted(manifest, images):
    """The manifest's entries of the listed images, or the problems."""
    entries = image_entries(manifest)
    problems, found, seen = [], [], {}
    for i in images:
        # Two services may list one image (a chart's image the registry also
        # lists): it is pushed once. One name from two sources is refused.
        if i["target"] in seen:
            if seen[i["target"]] != i["source"]:
                problems.append("%s is listed from two sources, %s and %s: name one" % (i["target"], seen[i["target"]], i["source"]))
            continue
        seen[i["target"]] = i["source"]
        e = entries.get(i["source"])
        if e is None:
            problems.append("image %s: the site lists it (pushed as %s) but the bundle does not carry it; run airgap bundle again"
                            % (i["source"], i["target"]))
        else:
            found.append((i, e))
    return found, problems


# ------------------------------------------------------------------ bundle side

def cmd_check(a):
    manifest, mid = load_manifest(os.path.join(a.bundle, "manifest.json"), a)
    problems = []
    found, missing = wanted(manifest, json.loads(a.images))
    problems += missing
    for d, size in sorted(image_digests(manifest).items()):
        if not store_has(a.bundle, d, size):
            problems.append("blob %s (%d bytes) of the bundle's images is missing or has another size" % (d, size))
    if problems:
        raise Refused(problems)
    out({"changed": False, "release": mid[:16], "images": len(found), "sequence": manifest["sequence"]})


def cmd_accept(a):
    """The manifest received on this host becomes the registry's current one
    once its signature, site, fields and order are checked (airgap_store.accept)."""
    m, mid, changed = accept(a.manifest, a.sig, a.current, a.trusted_key, a.site, a.allow_rollback, image_problems)
    out({"changed": changed, "release": mid[:16], "sequence": m["sequence"], "site": m["site"]})


def cmd_missing(a):
    manifest, _ = load_manifest(a.manifest, a)
    out({"changed": False, "missing": missing(a.store, image_digests(manifest))})


def cmd_pack(a):
    out(pack(a.bundle, a.out, a.digests))


def cmd_ingest(a):
    """Each blob is hashed on arrival and must be one of the manifest's image
    blobs; only when all are right do they move into the store."""
    manifest, _ = load_manifest(a.manifest, a)
    n = ingest(a.tar, a.store, image_digests(manifest), name=lambda d: "blob %s" % d,
               foreign="%s is not an image blob of the manifest")
    out({"changed": bool(n), "ingested": n})


def read_json_blob(store, digest):
    with open(os.path.join(store, BLOBS, digest.split(":", 1)[1]), "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def walk(store, digest, seen):
    """Every blob a manifest or index uses (itself included) is in the store."""
    hexd = digest.split(":", 1)[1]
    if hexd in seen:
        return []
    seen.add(hexd)
    missing = [] if os.path.isfile(os.path.join(store, BLOBS, hexd)) else [hexd]
    if missing:
        return missing
    doc = read_json_blob(store, digest)
    for m in doc.get("manifests") or []:
        missing += walk(store, m["digest"], seen)
    for b in ([doc["config"]] if doc.get("config") else []) + (doc.get("layers") or []):
        h = b["digest"].split(":", 1)[1]
        if h not in seen:
            seen.add(h)
            if not os.path.isfile(os.path.join(store, BLOBS, h)):
                missing.append(h)
    return missing


def media_type(store, entry):
    doc = read_json_blob(store, "sha256:" + entry["sha256"])
    if doc.get("mediaType"):
        return doc["mediaType"]
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def cmd_layout(a):
    """An OCI image layout whose blobs are the store: oci-layout, index.json
    naming each listed image by its upstream name and tag, blobs -> STORE/blobs."""
    manifest, _ = load_manifest(a.manifest, a)
    found, problems = wanted(manifest, json.loads(a.images))
    descriptors = []
    for i, e in found:
        missing = walk(a.store, "sha256:" + e["sha256"], set())
        if missing:
            problems.append("image %s: %d of its blobs are not in the store (%s)" % (i["source"], len(missing), ", ".join(missing[:3])))
            continue
        descriptors.append({"mediaType": media_type(a.store, e), "digest": "sha256:" + e["sha256"], "size": e["size"],
                            "annotations": {REF_NAME: ref_name(e)}})
    if problems:
        raise Refused(problems)
    os.makedirs(a.layout, exist_ok=True)
    changed = False
    link = os.path.join(a.layout, "blobs")
    target = os.path.join(os.path.abspath(a.store), "blobs")
    if not (os.path.islink(link) and os.readlink(link) == target):
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
        changed = True
    changed |= write_if_changed(os.path.join(a.layout, "oci-layout"), b'{"imageLayoutVersion":"1.0.0"}')
    descriptors.sort(key=lambda d: d["annotations"][REF_NAME])
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    changed |= write_if_changed(os.path.join(a.layout, "index.json"), (json.dumps(index, sort_keys=True) + "\n").encode())
    out({"changed": changed, "images": len(descriptors)})


def cmd_prune(a):
    """For a store that holds the registry's images only (no repository server
    on this host): removes blobs the current manifest does not list."""
    manifest, _ = load_manifest(a.manifest, a)
    keep = {x["sha256"] for x in manifest["artifacts"]}
    blobs = os.path.join(a.store, BLOBS)
    gone = [d for d in os.listdir(blobs) if HEX64.match(d) and d not in keep]
    for d in gone:
        os.unlink(os.path.join(blobs, d))
    out({"changed": bool(gone), "removed_blobs": len(gone)})


# ------------------------------------------------------------------ registry side

_local = threading.local()


def registry_digest(registry, ctx, auth, repo, tag):
    """The digest the registry holds for repo:tag, or None (one kept-alive
    connection per thread)."""
    for attempt in (0, 1):
        conn = getattr(_local, "conn", None)
        if conn is None:
            host, _, port = registry.rpartition(":")
            conn = _local.conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)
        try:
            conn.request("HEAD", "/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": ACCEPT, "Authorization": auth})
            r = conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            _local.conn = None
            if attempt == 1:
                raise RuntimeError("%s cannot be reached: %s" % (registry, e))
            continue
        if r.status == 404:
            return None
        if r.status != 200:
            raise RuntimeError("HEAD %s:%s on %s: HTTP %d %s" % (repo, tag, registry, r.status, r.reason))
        return r.getheader("Docker-Content-Digest")
    return None


def blob_sizes(layout, digest, acc):
    """digest -> size of every blob an image uses (itself included), from the layout."""
    hexd = digest.split(":", 1)[1]
    path = os.path.join(layout, BLOBS, hexd)
    if hexd in acc:
        return acc
    acc[hexd] = os.path.getsize(path)
    with open(path, "rb") as f:
        doc = json.loads(f.read().decode("utf-8"))
    for m in doc.get("manifests") or []:
        blob_sizes(layout, m["digest"], acc)
    for b in ([doc["config"]] if doc.get("config") else []) + (doc.get("layers") or []):
        acc[b["digest"].split(":", 1)[1]] = b.get("size", 0)
    return acc


def after(layout, images):
    """For each image (by target), the images it waits for: a layer several
    images share is uploaded by one of them (the images bringing the most
    shared bytes go first), and every other image using it starts only when
    that upload is done, then finds the layer in the registry and mounts it
    (cross-repository) instead of uploading it again. Images with nothing to
    wait for start at once, JOBS at a time; the rest start as soon as their
    own uploaders are done, not when a whole group of pushes is (the old
    waves waited for the largest base of the first wave)."""
    blobs = {i["target"]: blob_sizes(layout, i["digest"], {}) for i in images}
    count = {}
    for b in blobs.values():
        for h in b:
            count[h] = count.get(h, 0) + 1
    shared = {t: {h for h in b if count[h] > 1} for t, b in blobs.items()}
    order = sorted(images, key=lambda i: (-sum(blobs[i["target"]][h] for h in shared[i["target"]]), i["target"]))
    uploader, deps = {}, {}
    for i in order:
        t = i["target"]
        deps[t] = {uploader[h] for h in shared[t] if h in uploader} - {t}
        for h in shared[t]:
            uploader.setdefault(h, t)
    return order, deps


def run_after(order, deps, jobs, push):
    """Runs push(image) for every image of `order`, at most `jobs` at once,
    each only after the images deps[target] names have finished (failed or
    not: an image whose uploader failed uploads the layer itself). Returns
    [(image, push's result)] in the order they finished."""
    done, running, results = set(), {}, []
    waiting = list(order)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while waiting or running:
            for i in [i for i in waiting if deps[i["target"]] <= done][:max(0, max(1, jobs) - len(running))]:
                waiting.remove(i)
                running[pool.submit(push, i)] = i
            if not running:
                # Nothing can start and nothing runs: a wait that can never
                # end (it once spun here forever on a duplicated image).
                raise Refused(["internal: the pushes of %s wait for images never pushed" % ", ".join(i["target"] for i in waiting)])
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for f in finished:
                i = running.pop(f)
                done.add(i["target"])
                results.append((i, f.result()))
    return results


def cmd_push(a):
    """Pushes each listed image the registry does not already hold with the
    same digest, JOBS at a time, over TLS verified with the site CA; the
    account comes from stdin into a private auth file, never onto a command
    line. Each push keeps the bundle's digests (--preserve-digests) and is
    checked afterwards. An image sharing a layer with one pushed before it
    waits for that push only (see after())."""
    account = json.loads(sys.stdin.read())
    user, password = account["user"], account["password"]
    manifest, _ = load_manifest(a.manifest, a)
    found, problems = wanted(manifest, json.loads(a.images))
    if problems:
        raise Refused(problems)
    images = [{"ref": ref_name(e), "target": i["target"], "digest": "sha256:" + e["sha256"]} for i, e in found]
    cas = sorted(glob.glob(os.path.join(a.ca_dir, "*.crt")))
    if not cas:
        raise Refused(["no CA certificate (*.crt) in %s" % a.ca_dir])
    ctx = ssl.create_default_context(cafile=cas[0])
    for extra in cas[1:]:
        ctx.load_verify_locations(cafile=extra)
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    auth = "Basic " + token
    def held(i):
        """'missing' (tag absent or another digest), 'lost' (an index whose
        listed manifests are not all there) or 'present'."""
        repo, tag = i["target"].rsplit(":", 1)
        if registry_digest(a.registry, ctx, auth, repo, tag) != i["digest"]:
            return "missing"
        # The tag is there; a multi-arch index is whole only with every
        # manifest it lists (garbage collection with --delete-untagged
        # removes them and leaves the index).
        lost = [d for d in child_manifests(a.layout, i["digest"]) if registry_digest(a.registry, ctx, auth, repo, d) != d]
        return "lost" if lost else "present"

    # The checks, JOBS at a time (a re-run with everything present is only these).
    todo, present, repaired = [], [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        states = list(pool.map(held, images))
    for i, state in zip(images, states):
        if state == "present":
            present.append(i["target"])
        else:
            todo.append(i)
            if state == "lost":
                repaired.append(i["target"])
    pushed, problems = [], []
    if todo:
        # The bytes skopeo will read: every blob of the images to push, hashed
        # now against the manifest's digests and sizes (the layout's blobs are
        # the store's).
        sizes = image_digests(manifest)
        used = {}
        for i in todo:
            for hexd in blob_sizes(a.layout, i["digest"], {}):
                used[hexd] = sizes.get(hexd)
        unlisted = sorted(h for h, size in used.items() if size is None)
        if unlisted:
            raise Refused(["blob %s is used by an image to push but the manifest does not list it" % h for h in unlisted])
        bad = verify_all([(os.path.join(a.layout, BLOBS, h), h, size, "image blob %s" % h) for h, size in sorted(used.items())])
        if bad:
            raise Refused(bad + ["nothing was pushed"])
        private = tempfile.mkdtemp(prefix="airgap-registry-push-")
        try:
            authfile = os.path.join(private, "auth.json")
            fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"auths": {a.registry: {"auth": token}}}, f)

            def push(i):
                repo, tag = i["target"].rsplit(":", 1)
                cmd = [a.skopeo, "copy", "--quiet", "--retry-times", "2", "--preserve-digests",
                       "--multi-arch", "all", "--dest-cert-dir", a.ca_dir, "--dest-authfile", authfile,
                       "oci:%s:%s" % (a.layout, i["ref"]), "docker://%s/%s" % (a.registry, i["target"])]
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                if p.returncode != 0:
                    lines = [x for x in p.stderr.decode(errors="replace").strip().splitlines() if x]
                    return "push of %s as %s failed: %s" % (i["ref"], i["target"], lines[-1] if lines else "exit %d" % p.returncode)
                got = registry_digest(a.registry, ctx, auth, repo, tag)
                if got != i["digest"]:
                    return "%s: after the push the registry holds %s, the bundle says %s" % (i["target"], got, i["digest"])
                return None

            order, deps = after(a.layout, todo)
            for i, problem in run_after(order, deps, a.jobs, push):
                if problem:
                    problems.append(problem)
                else:
                    pushed.append(i["target"])
        finally:
            shutil.rmtree(private, ignore_errors=True)
    if problems:
        raise Refused(problems)
    out({"changed": bool(pushed), "pushed": sorted(pushed), "present": len(present), "repaired": sorted(repaired)})


def child_manifests(layout, digest):
    """The digests of every manifest an index lists, nested indexes included
    (none for an image manifest), read from the layout's blobs."""
    with open(os.path.join(layout, BLOBS, digest.split(":", 1)[1]), "rb") as f:
        doc = json.loads(f.read().decode("utf-8"))
    found = []
    for m in doc.get("manifests") or []:
        found.append(m["digest"])
        found += child_manifests(layout, m["digest"])
    return found


INDEX_TYPES = (OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json")


def cmd_indexes(a):
    """Lists the repo:tag of every tag in distribution's filesystem storage
    (ROOT, the `rootdirectory`) that points at a multi-arch index: garbage
    collection with --delete-untagged would delete the manifests it lists."""
    v2 = os.path.join(a.root, "docker", "registry", "v2")
    repos = os.path.join(v2, "repositories")
    found = []
    for top, dirs, _ in os.walk(repos):
        if os.path.basename(top) != "_manifests":
            continue
        dirs[:] = []
        repo = os.path.relpath(os.path.dirname(top), repos)
        tags = os.path.join(top, "tags")
        for tag in sorted(os.listdir(tags)) if os.path.isdir(tags) else []:
            try:
                with open(os.path.join(tags, tag, "current", "link")) as f:
                    digest = f.read().strip()
                algo, hexd = digest.split(":", 1)
                with open(os.path.join(v2, "blobs", algo, hexd[:2], hexd, "data"), "rb") as f:
                    doc = json.loads(f.read().decode("utf-8"))
            except (OSError, ValueError):
                continue
            if doc.get("mediaType") in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
                found.append("%s:%s" % (repo, tag))
    out({"changed": False, "indexes": sorted(found)})


# ------------------------------------------------------------------ accounts and configuration

def htpasswd_verify(tool, path, name, password):
    p = subprocess.run([tool, "-v", "-i", path, name], input=password.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode == 0


def cmd_htpasswd(a):
    """Writes FILE with exactly the given accounts (bcrypt, cost COST). An
    account whose current hash still matches its password keeps it, so a
    re-run changes nothing; the file is replaced atomically, mode 0640, group
    GROUP (the web server's, which reads it)."""
    users = json.loads(sys.stdin.read())
    tool = a.tool
    current = {}
    if os.path.isfile(a.file):
        with open(a.file) as f:
            for line in f:
                line = line.rstrip("\n")
                if ":" in line:
                    current[line.split(":", 1)[0]] = line
    lines, problems = [], []
    for u in users:
        name, password = u["name"], u["password"]
        if not re.match(r"^[a-z][a-z0-9_.-]{0,63}$", name):
            problems.append("%r is not a valid account name" % name)
            continue
        if not password:
            problems.append("account %s has an empty password (is its secret set where the site refers to it?)" % name)
            continue
        if name in current and current[name].split(":", 1)[1].startswith("$2") and htpasswd_verify(tool, a.file, name, password):
            lines.append(current[name])
            continue
        p = subprocess.run([tool, "-n", "-i", "-B", "-C", str(a.cost), name], input=password.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            problems.append("htpasswd failed for %s: %s" % (name, p.stderr.decode(errors="replace").strip()))
            continue
        lines.append(p.stdout.decode().strip().splitlines()[0])
    if problems:
        raise Refused(problems)
    data = ("\n".join(lines) + "\n").encode()
    # Created with its final mode and group (0640, the web server's group),
    # exclusively and without following a link, then renamed into place.
    gid = grp.getgrnam(a.group).gr_gid
    changed = write_if_changed(a.file, data, 0o640, gid)
    st = os.stat(a.file)
    if st.st_uid != os.geteuid():
        os.chown(a.file, os.geteuid(), gid)
        changed = True
    out({"changed": changed, "users": [u["name"] for u in users]})


# Top-level keys distribution 2.8 reads.
CONFIG_KEYS = {"version", "log", "loglevel", "storage", "auth", "middleware", "reporting", "http", "notifications",
               "redis", "health", "proxy", "compatibility", "validation", "policy"}


def config_problems(c):
    problems = []
    if not isinstance(c, dict):
        return ["the configuration is not a mapping"]
    unknown = sorted(set(c) - CONFIG_KEYS)
    if unknown:
        problems.append("unknown top-level keys: %s" % ", ".join(unknown))
    if str(c.get("version")) != "0.1":
        problems.append("version must be 0.1")
    storage = c.get("storage")
    fs = storage.get("filesystem") if isinstance(storage, dict) else None
    if not isinstance(fs, dict) or not str(fs.get("rootdirectory", "")).startswith("/"):
        problems.append("storage.filesystem.rootdirectory must be an absolute path")
    drivers = [k for k in (storage or {}) if k not in ("cache", "delete", "maintenance", "redirect", "tag")]
    if drivers != ["filesystem"]:
        problems.append("exactly one storage driver, filesystem (found: %s)" % ", ".join(drivers))
    http = c.get("http")
    addr = http.get("addr") if isinstance(http, dict) else None
    net = http.get("net") if isinstance(http, dict) else None
    # A unix socket only: a TCP port, even on the loopback, takes pushes and
    # deletes from any local process without an account.
    if net != "unix" or not str(addr or "").startswith("/"):
        problems.append("http.net must be unix and http.addr the absolute path of its socket (nginx in front does TLS "
                        "and accounts; a TCP port would let any local process push and delete): net=%r, addr=%r" % (net, addr))
    if isinstance(http, dict) and http.get("tls"):
        problems.append("http.tls: TLS is nginx's, the registry behind it speaks plain HTTP on the loopback")
    if c.get("auth") is not None:
        problems.append("auth: accounts are checked by nginx in front (pull-only accounts are enforced there)")
    if c.get("proxy") is not None:
        problems.append("proxy: a pull-through cache would reach outside the site")
    return problems


def cmd_check_config(a):
    try:
        import yaml
    except ImportError:
        raise Refused(["PyYAML is needed to check the configuration (python3-yaml)"])
    try:
        with open(a.file) as f:
            c = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise Refused(["%s is not readable YAML: %s" % (a.file, e)])
    problems = config_problems(c)
    if problems:
        raise Refused(["%s: %s" % (a.file, p) for p in problems])
    out({"changed": False})


def main(argv):
    p = argparse.ArgumentParser(prog="airgap_registry.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("check"); s.add_argument("bundle"); s.add_argument("--images", default="[]"); trust_arguments(s)
    s = sub.add_parser("accept"); s.add_argument("manifest"); s.add_argument("sig"); s.add_argument("current")
    s.add_argument("--allow-rollback", action="store_true"); trust_arguments(s)
    s = sub.add_parser("missing"); s.add_argument("manifest"); s.add_argument("store"); trust_arguments(s)
    s = sub.add_parser("pack"); s.add_argument("bundle"); s.add_argument("out"); s.add_argument("digests", nargs="*")
    s = sub.add_parser("ingest"); s.add_argument("tar"); s.add_argument("manifest"); s.add_argument("store"); trust_arguments(s)
    s = sub.add_parser("layout"); s.add_argument("manifest"); s.add_argument("store"); s.add_argument("layout"); s.add_argument("--images", default="[]")
    trust_arguments(s)
    s = sub.add_parser("push"); s.add_argument("manifest"); s.add_argument("layout"); s.add_argument("registry"); s.add_argument("ca_dir")
    s.add_argument("--images", default="[]"); s.add_argument("--jobs", type=int, default=4); s.add_argument("--skopeo", default="skopeo")
    trust_arguments(s)
    s = sub.add_parser("prune"); s.add_argument("manifest"); s.add_argument("store"); trust_arguments(s)
    s = sub.add_parser("indexes"); s.add_argument("root")
    s = sub.add_parser("htpasswd"); s.add_argument("file"); s.add_argument("cost", type=int); s.add_argument("group")
    s.add_argument("--tool", default="htpasswd")
    s = sub.add_parser("check-config"); s.add_argument("file")
    commands = {name[len("cmd_"):].replace("_", "-"): f for name, f in globals().items() if name.startswith("cmd_")}
    return dispatch(p, argv, commands, (RuntimeError, OSError, ValueError, KeyError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
