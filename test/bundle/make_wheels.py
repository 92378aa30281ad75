#!/usr/bin/env python3
"""Writes the lab's test wheels into DIR: tiny pure-Python projects, written
by hand as wheels (PEP 427: a zip with the package, METADATA, WHEEL and
RECORD), byte for byte the same on every run (fixed timestamps and order).

  airgap-lab-base 1.0
  airgap-lab-top 1.0     requires airgap-lab-base>=1.0
  airgap-lab-other 1.0   in the wheelhouse but not listed by the site: never bundled
  airgap-lab-controller 1.0  the lab's stand-in for Kubespray's controller
                             requirements (test/e2e/kubespray/standin.ts)
"""
import base64
import hashlib
import os
import sys
import zipfile

WHEELS = [
    ("airgap_lab_base", "1.0", [], 'def greet():\n    return "hello from airgap-lab-base"\n'),
    ("airgap_lab_top", "1.0", ["airgap-lab-base>=1.0"],
     'from airgap_lab_base import greet\n\n\ndef main():\n    return "top says: " + greet()\n'),
    ("airgap_lab_other", "1.0", [], 'VALUE = "not in the bundle"\n'),
    ("airgap_lab_controller", "1.0", [], 'VALUE = "what the Ansible controller needs"\n'),
]


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(folder, module, version, requires, code, requires_python=None):
    """One pure-Python wheel; requires_python (a specifier such as ">=3.11")
    becomes its Requires-Python."""
    dist_info = "%s-%s.dist-info" % (module, version)
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: airgap lab test package\n%s%s" % (
        module.replace("_", "-"), version, "Requires-Python: %s\n" % requires_python if requires_python else "",
        "".join("Requires-Dist: %s\n" % r for r in requires))
    files = [
        ("%s/__init__.py" % module, code.encode()),
        ("%s/METADATA" % dist_info, metadata.encode()),
        ("%s/WHEEL" % dist_info, b"Wheel-Version: 1.0\nGenerator: airgap-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = "".join("%s,%s,%d\n" % (p, record_hash(d), len(d)) for p, d in files) + "%s/RECORD,,\n" % dist_info
    files.append(("%s/RECORD" % dist_info, record.encode()))
    out = os.path.join(folder, "%s-%s-py3-none-any.whl" % (module, version))
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        for p, data in files:
            info = zipfile.ZipInfo(p, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    os.replace(tmp, out)
    return out


def main(folder):
    os.makedirs(folder, exist_ok=True)
    for w in WHEELS:
        print(write_wheel(folder, *w))


if __name__ == "__main__":
    main(sys.argv[1])
