#!/usr/bin/python3
"""etcd snapshots into the site's restic repository (roles/etcd_backup).

Usage: airgap_etcd_backup.py [--config FILE] COMMAND

  backup     the timer's job: the first etcd member (in the site's order) whose
             endpoint is healthy takes the backup; on that member: `etcdctl
             snapshot save` to a work file, `etcdutl snapshot status` checks it,
             `restic backup --stdin` stores it, `restic forget --prune` applies
             the retention, and only then the time of this good backup is
             written (state_dir/etcd-last-success, seconds since the epoch, and
             `status` on the backup host over SFTP, where monitoring reads it).
             On the other members: prints who backs up and exits 0.
  check      `restic check` of the repository (same choice of member).
  init       creates the repository when it does not exist yet.
  snapshots  lists the etcd snapshots (`restic snapshots`).
  fetch      --snapshot ID|latest --out FILE: writes a stored snapshot to FILE,
             checked with `etcdutl snapshot status`.
  restore    --file FILE: `etcdutl snapshot restore` into a new folder beside
             this member's data folder, with the member's name, peer URL, the
             initial cluster and token read from its etcd configuration
             (Kubespray: /etc/etcd.env, or kubeadm's static pod manifest), then
             swaps the folders (the old one kept as <data-dir>.before-restore-<time>).
             etcd must be stopped.
  health     `etcdctl endpoint health --cluster`: every member healthy, or exit 1.

The configuration (JSON, root-only, written by the role) names the tools, the
members' client URLs, the TLS files, the repository, the SSH command restic's
SFTP backend runs, the password file and the retention. No secret is ever on
a command line: restic reads the password from `password_file`.

Standard library and airgap_restic.py (the backup_client role's restic and
SFTP code, beside this tool). Exit status 0 on success; 1 with a message on stderr.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

# The restic and SFTP code the backup tools share: beside this tool on the
# host, in the backup_client role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir, "backup_client", "files"))
from airgap_restic import Failed, ResticTool, log, must, run, snapshot_id  # noqa: E402

DEFAULT_CONFIG = "/etc/airgap/backup/etcd-backup.json"
#: The snapshot's file name inside restic (`restic backup --stdin --stdin-filename`).
SNAPSHOT_NAME = "etcd-snapshot.db"
#: The tag every etcd snapshot carries in the repository.
TAG = "airgap-etcd"


class Backup(ResticTool):
    LAST_SUCCESS = "etcd-last-success"

    def __init__(self, conf):
        super().__init__(conf)
        self.work = os.path.join(self.state, "work")

    # -- etcd --------------------------------------------------------------
    def etcdctl(self, *args, endpoints=None, timeout=None):
        """etcdctl over TLS with this member's client certificate; `timeout` (seconds) bounds each request."""
        c = self.c
        eps = endpoints if endpoints is not None else [u for _, u in c["members"]]
        return [c["etcdctl"], "--endpoints=" + ",".join(eps), "--cacert=" + c["cacert"], "--cert=" + c["cert"],
                "--key=" + c["key"], "--dial-timeout=5s", "--command-timeout=%ds" % (timeout or c.get("command_timeout", 300))] + list(args)

    def healthy(self):
        """The members whose endpoint answers healthy, as (name, url), in the site's order."""
        r = run(self.etcdctl("endpoint", "health", "-w", "json", timeout=10))
        try:
            answers = json.loads(r.stdout or "[]")
        except ValueError:
            answers = []
        good = {a.get("endpoint") for a in answers if a.get("health")}
        return [(n, u) for n, u in self.c["members"] if u in good]

    def chosen(self):
        """The member that does the job now: the first healthy one (None when none is)."""
        h = self.healthy()
        return h[0] if h else None

    def status(self, path):
        """`etcdutl snapshot status` of a snapshot file (hash, revision, totalKey, totalSize); Failed when it is not a sound snapshot."""
        tool = self.c.get("etcdutl") if self.c.get("etcdutl") and os.path.exists(self.c["etcdutl"]) else None
        argv = [tool, "snapshot", "status", path, "-w", "json"] if tool else [self.c["etcdctl"], "snapshot", "status", path, "-w", "json"]
        r = must(argv, "checking the snapshot %s" % path)
        try:
            st = json.loads(r.stdout)
        except ValueError:
            raise Failed("checking the snapshot %s: not JSON: %s" % (path, r.stdout[:200]))
        if not st.get("revision") or not st.get("totalKey"):
            raise Failed("the snapshot %s holds no revision or no key: %s" % (path, r.stdout.strip()))
        return st

    # -- commands ----------------------------------------------------------
    def backup(self):
        os.makedirs(self.work, mode=0o700, exist_ok=True)
        # What a killed run left: never a good snapshot, removed before anything else.
        for name in os.listdir(self.work):
            os.unlink(os.path.join(self.work, name))
        who = self.chosen()
        if who is None:
            raise Failed("no etcd member is healthy (%s): no snapshot taken" % ", ".join(u for _, u in self.c["members"]))
        if who[0] != self.c["self"]:
            log("etcd member %s (%s) is healthy and takes the backup; nothing to do on %s" % (who[0], who[1], self.c["self"]))
            return 0
        started = int(time.time())
        snap = os.path.join(self.work, SNAPSHOT_NAME)
        must(self.etcdctl("snapshot", "save", snap, endpoints=[who[1]]), "etcdctl snapshot save from %s" % who[1])
        st = self.status(snap)
        log("snapshot of %s: revision %s, %s keys, %s bytes" % (who[1], st["revision"], st["totalKey"], st.get("totalSize")))
        # A stale lock of a killed run on this host is removed (restic unlock removes stale locks only).
        run(self.restic("unlock"))
        with open(snap, "rb") as f:
            r = must(self.restic("backup", "--stdin", "--stdin-filename", SNAPSHOT_NAME, "--host", self.c["host"],
                                 "--tag", TAG, "--tag", "revision-%s" % st["revision"], "--json"),
                     "restic backup", stdin=f)
        sid = snapshot_id(r.stdout)
        if not sid:
            raise Failed("restic backup printed no snapshot id: %s" % r.stdout[-500:])
        log("stored as restic snapshot %s" % sid[:8])
        must(self.restic("forget", "--prune", "--host", self.c["host"], "--tag", TAG, *self.forget_args()), "restic forget --prune")
        os.unlink(snap)
        self.write_last_success(started)
        self.record_remote(started)
        log("good backup at %d" % started)
        return 0

    def check(self):
        who = self.chosen()
        if who is not None and who[0] != self.c["self"]:
            log("etcd member %s checks the repository; nothing to do on %s" % (who[0], self.c["self"]))
            return 0
        return super().check()

    def snapshots(self, as_json=False):
        r = must(self.restic("snapshots", "--host", self.c["host"], "--tag", TAG) + (["--json"] if as_json else []), "restic snapshots")
        sys.stdout.write(r.stdout)
        return 0

    def fetch(self, snapshot, out):
        part = out + ".part"
        with open(part, "wb") as f:
            argv = self.restic("dump", snapshot, "/" + SNAPSHOT_NAME) if snapshot != "latest" else \
                self.restic("dump", "--host", self.c["host"], "--tag", TAG, "latest", "/" + SNAPSHOT_NAME)
            r = subprocess.run(argv, stdout=f, stderr=subprocess.PIPE, text=False)
        if r.returncode != 0:
            os.unlink(part)
            raise Failed("restic dump %s failed: %s" % (snapshot, r.stderr.decode(errors="replace").strip()[-1000:]))
        st = self.status(part)
        os.replace(part, out)
        print(json.dumps({"file": out, "revision": st["revision"], "totalKey": st["totalKey"], "hash": st.get("hash")}))
        return 0

    def member_config(self):
        """name, peer URL, initial cluster, token and data folder of this member, from its etcd configuration."""
        path = self.c["etcd_config"]
        with open(path) as f:
            text = f.read()
        if self.c.get("layout", "host") == "host":
            env = {}
            for line in text.splitlines():
                m = re.match(r"^\s*([A-Z0-9_]+)=(.*)$", line)
                if m:
                    env[m.group(1)] = m.group(2).strip().strip('"')
            get = {"name": "ETCD_NAME", "peer": "ETCD_INITIAL_ADVERTISE_PEER_URLS", "cluster": "ETCD_INITIAL_CLUSTER",
                   "token": "ETCD_INITIAL_CLUSTER_TOKEN", "data": "ETCD_DATA_DIR"}
            out = {k: env.get(v) for k, v in get.items()}
        else:
            flags = dict(re.findall(r"--(name|initial-advertise-peer-urls|initial-cluster|initial-cluster-token|data-dir)=(\S+)", text))
            out = {"name": flags.get("name"), "peer": flags.get("initial-advertise-peer-urls"), "cluster": flags.get("initial-cluster"),
                   "token": flags.get("initial-cluster-token", "etcd-cluster"), "data": flags.get("data-dir")}
        missing = [k for k in ("name", "peer", "cluster", "data") if not out.get(k)]
        if missing:
            raise Failed("%s does not say this member's %s" % (path, ", ".join(missing)))
        if self.c.get("initial_cluster"):
            # The whole cluster's members (a kubeadm manifest names only the members that existed when it joined).
            out["cluster"] = self.c["initial_cluster"]
        out["token"] = out.get("token") or "etcd-cluster"
        return out

    def restore(self, file):
        self.status(file)
        m = self.member_config()
        data = m["data"].rstrip("/")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        new = "%s.restore-%s" % (data, stamp)
        tool = self.c.get("etcdutl") if self.c.get("etcdutl") and os.path.exists(self.c["etcdutl"]) else self.c["etcdctl"]
        must([tool, "snapshot", "restore", file, "--name", m["name"], "--initial-cluster", m["cluster"],
              "--initial-cluster-token", m["token"], "--initial-advertise-peer-urls", m["peer"], "--data-dir", new],
             "etcdutl snapshot restore")
        os.chmod(new, 0o700)
        old = None
        if os.path.exists(data):
            old = "%s.before-restore-%s" % (data, stamp)
            os.rename(data, old)
        os.rename(new, data)
        print(json.dumps({"member": m["name"], "data_dir": data, "previous": old, "peer": m["peer"]}))
        return 0

    def health(self):
        r = run(self.etcdctl("endpoint", "health", "--cluster", "-w", "json", endpoints=[u for _, u in self.c["members"]], timeout=10))
        try:
            answers = json.loads(r.stdout or "[]")
        except ValueError:
            answers = []
        good = [a["endpoint"] for a in answers if a.get("health")]
        print(json.dumps({"healthy": good, "members": len(answers)}))
        if r.returncode != 0 or len(good) != len(answers) or len(good) < len(self.c["members"]):
            raise Failed("not every member is healthy: %s" % (r.stdout.strip() or r.stderr.strip()))
        return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=DEFAULT_CONFIG)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("backup", "check", "init", "health"):
        sub.add_parser(name)
    s = sub.add_parser("snapshots")
    s.add_argument("--json", action="store_true")
    f = sub.add_parser("fetch")
    f.add_argument("--snapshot", default="latest")
    f.add_argument("--out", required=True)
    r = sub.add_parser("restore")
    r.add_argument("--file", required=True)
    r.add_argument("--etcd-config", help="read the member's etcd configuration here (kubeadm's manifest moved aside)")
    a = p.parse_args(argv)
    with open(a.config) as fh:
        b = Backup(json.load(fh))
    try:
        if a.command == "snapshots":
            return b.snapshots(a.json)
        if a.command == "fetch":
            return b.fetch(a.snapshot, a.out)
        if a.command == "restore":
            if a.etcd_config:
                b.c["etcd_config"] = a.etcd_config
            return b.restore(a.file)
        return getattr(b, a.command)()
    except Failed as e:
        print("airgap-etcd-backup: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
