#!/usr/bin/python3
"""Service state into the site's restic repository (roles/state_backup).

Usage: airgap_state_backup.py [--config FILE] COMMAND

  backup     the timer's job, for each kind of state the host holds (`items`):
             when the service has a dump tool, it is run as the service's user
             into a new empty folder (a consistent copy: devpi-export), which
             is stored instead of the live paths; `restic backup` stores each
             kind as a snapshot of its own (tags `airgap-state` and its name);
             a kind that fails does not stop the others. When every kind is
             stored: `restic forget --prune --group-by host,tags` applies the
             retention to each kind, and only then the time the run started is
             written to state_dir/last-success and, over SFTP, to `status` on
             the backup host, where monitoring reads it. Exit 1 when any failed.
  check      `restic check` of the repository.
  init       creates the repository when it does not exist yet.
  snapshots  [NAME] [--json]: the snapshots (of one kind).
  restore    NAME --target DIR [--snapshot ID|latest]: `restic restore` of that
             kind into DIR, at its original paths under DIR (DIR/etc/airgap/ca,
             …); prints JSON {name, snapshot, target, folder, paths}: `folder`
             is the dump's folder (what the service's import tool reads) or DIR.

The configuration (JSON, root-only, written by the role) names the repository,
the SSH command restic's SFTP backend runs, the sftp command that records the
time, the password file, the retention and the items:
  {"name": "devpi", "paths": ["/var/lib/airgap/devpi"],
   "dump": {"argv": ["/opt/airgap/devpi/bin/devpi-export", "--serverdir", "/var/lib/airgap/devpi"], "user": "airgap-devpi"}}
No secret is ever on a command line: restic reads the password from `password_file`.

Standard library and airgap_restic.py (the backup_client role's restic and
SFTP code, beside this tool). Exit status 0 on success; 1 with a message on stderr.
"""
import argparse
import json
import os
import pwd
import shutil
import sys
import time

# The restic and SFTP code the backup tools share: beside this tool on the
# host, in the backup_client role's files/ (beside this role) on the controller.
sys.dont_write_bytecode = True
sys.path.append(os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir, "backup_client", "files"))
from airgap_restic import Failed, ResticTool, log, must, run, snapshot_id  # noqa: E402

DEFAULT_CONFIG = "/etc/airgap/backup/state/state-backup.json"
#: The tag every service-state snapshot carries (besides its kind's name).
TAG = "airgap-state"


class StateBackup(ResticTool):
    def __init__(self, conf):
        super().__init__(conf)
        self.dumps = os.path.join(self.state, "dump")
        self.items = {i["name"]: i for i in conf["items"]}

    def dump_dir(self, name):
        return os.path.join(self.dumps, name)

    def dump(self, item):
        """Runs the item's dump tool as its user into a new empty folder; returns the folder."""
        d = item["dump"]
        try:
            who = pwd.getpwnam(d["user"])
        except KeyError:
            raise Failed("%s: its dump user %s does not exist on this host" % (item["name"], d["user"]))
        # The user must reach its folder: the parents are root's, traversable only (0711).
        for p in (self.state, self.dumps):
            os.makedirs(p, exist_ok=True)
            os.chmod(p, 0o711)
        folder = self.dump_dir(item["name"])
        shutil.rmtree(folder, ignore_errors=True)  # what a killed run left: never stored
        os.mkdir(folder, 0o700)
        os.chown(folder, who.pw_uid, who.pw_gid)
        argv = list(d["argv"]) + [folder]
        r = run(argv, user=who.pw_uid, group=who.pw_gid, extra_groups=[], cwd=folder,
                env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": folder, "LANG": "C.UTF-8"})
        if r.returncode != 0:
            raise Failed("%s: %s failed (exit %d): %s" % (item["name"], " ".join(argv), r.returncode, (r.stderr or r.stdout).strip()[-2000:]))
        return folder

    def store(self, item):
        """One kind of state into restic; returns the snapshot id."""
        name = item["name"]
        missing = [p for p in item["paths"] if not os.path.lexists(p)]
        if missing:
            raise Failed("%s: %s does not exist on this host" % (name, ", ".join(missing)))
        paths = [self.dump(item)] if item.get("dump") else list(item["paths"])
        try:
            r = run(self.restic("backup", "--host", self.c["host"], "--tag", TAG, "--tag", name, "--json", *paths))
        finally:
            if item.get("dump"):
                shutil.rmtree(paths[0], ignore_errors=True)
        sid = snapshot_id(r.stdout)
        if r.returncode != 0:
            # restic 0.14 exits 3 when it stored a snapshot without some files it could not read: not good.
            raise Failed("%s: restic backup failed (exit %d%s): %s" % (
                name, r.returncode, ", incomplete snapshot %s" % sid[:8] if sid else "", (r.stderr or r.stdout).strip()[-2000:]))
        if not sid:
            raise Failed("%s: restic backup printed no snapshot id: %s" % (name, r.stdout[-500:]))
        return sid

    # -- commands ----------------------------------------------------------
    def backup(self):
        os.makedirs(self.state, mode=0o711, exist_ok=True)
        started = int(time.time())
        # A stale lock of a killed run on this host is removed (restic unlock removes stale locks only).
        run(self.restic("unlock"))
        failed = []
        for item in self.c["items"]:
            try:
                sid = self.store(item)
                log("%s: stored as restic snapshot %s" % (item["name"], sid[:8]))
            except Failed as e:
                print("airgap-state-backup: %s" % e, file=sys.stderr, flush=True)
                failed.append(item["name"])
        if failed:
            raise Failed("not stored: %s (the others were; the time of the last good backup is unchanged)" % ", ".join(failed))
        must(self.restic("forget", "--prune", "--host", self.c["host"], "--tag", TAG, "--group-by", "host,tags", *self.forget_args()),
             "restic forget --prune")
        self.write_last_success(started)
        self.record_remote(started)
        log("good backup at %d" % started)
        return 0

    def snapshots(self, name=None, as_json=False):
        tag = TAG + ("," + name if name else "")
        r = must(self.restic("snapshots", "--host", self.c["host"], "--tag", tag) + (["--json"] if as_json else []), "restic snapshots")
        sys.stdout.write(r.stdout)
        return 0

    def restore(self, name, target, snapshot="latest"):
        item = self.items.get(name)
        if item is None:
            raise Failed("this host keeps no state named %s (it keeps: %s)" % (name, ", ".join(self.items) or "none"))
        sel = ["--host", self.c["host"], "--tag", "%s,%s" % (TAG, name)]
        must(self.restic("restore", snapshot, "--target", target, *sel), "restic restore %s of %s" % (snapshot, name))
        folder = os.path.join(target, self.dump_dir(name).lstrip("/")) if item.get("dump") else target
        print(json.dumps({"name": name, "snapshot": snapshot, "target": target, "folder": folder, "paths": item["paths"]}))
        return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=DEFAULT_CONFIG)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("backup", "check", "init"):
        sub.add_parser(name)
    s = sub.add_parser("snapshots")
    s.add_argument("name", nargs="?")
    s.add_argument("--json", action="store_true")
    r = sub.add_parser("restore")
    r.add_argument("name")
    r.add_argument("--target", required=True)
    r.add_argument("--snapshot", default="latest")
    a = p.parse_args(argv)
    with open(a.config) as fh:
        b = StateBackup(json.load(fh))
    try:
        if a.command == "snapshots":
            return b.snapshots(a.name, a.json)
        if a.command == "restore":
            return b.restore(a.name, a.target, a.snapshot)
        return getattr(b, a.command)()
    except Failed as e:
        print("airgap-state-backup: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
