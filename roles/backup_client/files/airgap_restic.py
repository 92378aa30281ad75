"""The restic and SFTP code the host's backup tools share (roles/backup_client).

airgap_etcd_backup.py (roles/etcd_backup) and airgap_state_backup.py
(roles/state_backup) import it: on a host from beside them (their roles
install it there through this role), on the controller from this role's
files/. Each tool's class derives from `ResticTool`, which holds what both
do the same way: the restic command line (repository, password file, the
SSH command of restic's SFTP backend, cache), the retention, the time of the
last good backup (on the host and, over SFTP, on the backup host) and the
`init` and `check` commands.

The configuration (JSON, root-only, written by each role) has the keys read
here: restic, repository, password_file, ssh (argv), cache_dir (optional),
retention, state_dir, status and sftp (argv; both optional). No secret is
ever on a command line: restic reads the password from `password_file`.

Standard library only.
"""
import json
import os
import shlex
import subprocess

#: The `restic forget --keep-<key>` the retention may name.
RETENTION_KEYS = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


class Failed(Exception):
    """A step failed; the message says which and why."""


def log(msg):
    print(msg, flush=True)


def run(argv, **kw):
    """Runs argv; returns the CompletedProcess (text)."""
    return subprocess.run(argv, text=True, capture_output=True, **kw)


def must(argv, what, **kw):
    """Runs argv; Failed, with the end of its output, when it exits non-zero."""
    r = run(argv, **kw)
    if r.returncode != 0:
        raise Failed("%s failed (exit %d): %s" % (what, r.returncode, (r.stderr or r.stdout).strip()[-2000:]))
    return r


def snapshot_id(stdout):
    """The snapshot id in `restic backup --json`'s summary line (None when there is none)."""
    sid = None
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("message_type") == "summary":
            sid = msg.get("snapshot_id")
    return sid


class ResticTool:
    """One host's restic repository over SFTP, as its configuration names it."""

    #: The file in state_dir that holds the time of the last good backup (seconds since the epoch).
    LAST_SUCCESS = "last-success"

    def __init__(self, conf):
        self.c = conf
        self.state = conf["state_dir"]

    def restic(self, *args):
        """The restic command line for this repository, then `args`."""
        c = self.c
        sftp = " ".join(shlex.quote(a) for a in c["ssh"])
        return [c["restic"], "--repo", c["repository"], "--password-file", c["password_file"],
                "--option", "sftp.command=" + sftp] + (["--cache-dir", c["cache_dir"]] if c.get("cache_dir") else []) + list(args)

    def forget_args(self):
        """The retention as `restic forget` options; Failed when it keeps nothing."""
        r = self.c["retention"]
        out = []
        for k in RETENTION_KEYS:
            if r.get(k) is not None:
                out += ["--keep-" + k, str(int(r[k]))]
        if not out:
            raise Failed("the configuration keeps no snapshot (retention is empty)")
        return out

    def write_last_success(self, when):
        """Writes the time of a good backup to state_dir/LAST_SUCCESS (synced, then renamed over the old one)."""
        path = os.path.join(self.state, self.LAST_SUCCESS)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % when)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    def record_remote(self, when):
        """Writes the time of a good backup on the backup host (`status` inside the
        account's chroot, over SFTP: put, chmod 644, rename over the old one), where
        monitoring reads it (the newest, whichever host made it). Nothing when `status` is empty."""
        remote = self.c.get("status")
        if not remote:
            return
        local = os.path.join(self.state, "last-success.upload")
        with open(local, "w") as f:
            f.write("%d\n" % when)
        batch = 'put "%s" "%s.tmp"\nchmod 644 "%s.tmp"\nrename "%s.tmp" "%s"\n' % (local, remote, remote, remote, remote)
        try:
            must(self.c["sftp"], "recording the time of the backup on the backup host (%s)" % remote, input=batch)
        finally:
            os.unlink(local)

    # -- commands ----------------------------------------------------------
    def check(self):
        """`restic check` of the repository, after removing the stale locks of killed runs."""
        run(self.restic("unlock"))
        r = must(self.restic("check"), "restic check")
        log(r.stdout.strip() or "restic check: no errors")
        return 0

    def init(self):
        """Creates the repository unless it exists."""
        if run(self.restic("cat", "config")).returncode == 0:
            log("repository exists")
            return 0
        must(self.restic("init"), "restic init")
        log("repository created")
        return 0
