#!/usr/bin/python3
"""Renders every refusal message of every role under ROLES with Ansible's own
templar: the `msg` of each `fail` task and the `fail_msg`/`msg` of each
`assert`, in tasks/ and handlers/ (blocks included).

  render_refusals.py ROLES

The variables are what the role would have when it refuses: its defaults and
vars (Debian's family file, then vars/main.yml), a Debian host's facts, and for
each variable the role registers a failed command's result (rc 1, stderr
"the reason", an absent stat, HTTP 500). A variable none of these defines is
an error, as it would be in a run. Prints one JSON line per message
({"role", "file", "task", "key", "text"} or with "error"); exit 1 when any
message fails to render.
"""
import glob
import json
import os
import sys

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

FAIL = {"fail", "ansible.builtin.fail", "ansible.legacy.fail"}
ASSERT = {"assert", "ansible.builtin.assert", "ansible.legacy.assert"}

FACTS = {
    "ansible_os_family": "Debian",
    "ansible_distribution": "Debian",
    "ansible_distribution_major_version": "12",
    "ansible_distribution_release": "bookworm",
    "ansible_architecture": "x86_64",
    "ansible_service_mgr": "systemd",
    "ansible_python": {"executable": "/usr/bin/python3", "version": {"major": 3, "minor": 11}},
    "ansible_playbook_python": "/usr/bin/python3",
    "ansible_default_ipv4": {"address": "10.0.0.10", "interface": "eth0"},
    "ansible_hostname": "host1",
    "ansible_fqdn": "host1.example.internal",
    "inventory_hostname": "host1",
    "inventory_hostname_short": "host1",
    "groups": {"all": ["host1"]},
    "hostvars": {},
    "play_hosts": ["host1"],
    "ansible_check_mode": False,
}
FACTS["ansible_facts"] = {k[len("ansible_"):]: v for k, v in FACTS.items() if k.startswith("ansible_")}

FAILED_RESULT = {
    "rc": 1, "changed": False, "failed": True, "msg": "the reason", "stdout": "{}", "stdout_lines": ["{}"],
    "stderr": "the reason", "stderr_lines": ["the reason"], "stat": {"exists": False}, "status": 500,
    "results": [], "skipped": False, "content": "", "json": {},
}


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f) or {}


def tasks_in(items):
    for t in items or []:
        if not isinstance(t, dict):
            continue
        yield t
        for key in ("block", "rescue", "always"):
            yield from tasks_in(t.get(key))


def role_vars(role):
    v = dict(FACTS)
    v["role_path"] = role
    v["role_name"] = os.path.basename(role)
    for f in ("defaults/main.yml", "vars/Debian.yml", "vars/main.yml"):
        p = os.path.join(role, f)
        if os.path.isfile(p):
            v.update(load_yaml(p))
    for f in glob.glob(os.path.join(role, "tasks", "*.yml")) + glob.glob(os.path.join(role, "handlers", "*.yml")):
        for t in tasks_in(load_yaml(f)):
            if isinstance(t.get("register"), str):
                v[t["register"]] = dict(FAILED_RESULT)
            if "loop" in t or "with_items" in t:
                v.setdefault("item", {"name": "item", "path": "pypi/item/item-1.0-py3-none-any.whl", "sha256": "0" * 64})
    return v


def main(roles_dir):
    failed = 0
    loader = DataLoader()
    for role in sorted(glob.glob(os.path.join(roles_dir, "*"))):
        if not os.path.isdir(os.path.join(role, "tasks")):
            continue
        variables = role_vars(role)
        for f in sorted(glob.glob(os.path.join(role, "tasks", "*.yml")) + glob.glob(os.path.join(role, "handlers", "*.yml"))):
            for t in tasks_in(load_yaml(f)):
                keys = []
                for module in FAIL & set(t):
                    keys.append((module, "msg"))
                for module in ASSERT & set(t):
                    keys += [(module, k) for k in ("fail_msg", "msg") if k in (t[module] or {})]
                for module, key in keys:
                    args = t[module] or {}
                    if key not in args:
                        continue
                    out = {"role": os.path.basename(role), "file": os.path.relpath(f, role), "task": t.get("name", ""), "key": key}
                    try:
                        templar = Templar(loader=loader, variables=variables)
                        text = templar.template(args[key], fail_on_undefined=True)
                        if not isinstance(text, str) or "{{" in text or "{%" in text or not text.strip():
                            raise ValueError("rendered to %r" % (text,))
                        out["text"] = text
                    except Exception as e:  # noqa: BLE001 - every failure is reported
                        out["error"] = "%s: %s" % (type(e).__name__, e)
                        failed += 1
                    print(json.dumps(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
