#!/usr/bin/python3
"""Tell which of a host's certificates the `ca` role would issue or renew.

The role's full path for one certificate (tasks/certificate.yml) costs about
eighteen module calls, on the certificate's host and on the CA host, even
when it changes nothing; the CA's own path (tasks/authority_make.yml) about
seven. This tool takes the same decisions in one process, reading only, so
that the role runs a full path only where it would change something:

    airgap_ca_check.py certificates REQUEST
        prints {"due": [NAME...], "reasons": {NAME: WHY}}
    airgap_ca_check.py authority REQUEST
        prints {"sound": BOOL, "reason": WHY or null,
                "not_after": "YYYYMMDDHHMMSSZ" or null, "warn": BOOL}

REQUEST is one JSON argument. For `certificates`:
    {"ca_certificate": PATH or null,      the site CA (on the CA host itself)
     "ca_certificate_b64": B64 or null,   or its bytes, read once from the CA host
     "pki_dir": PATH, "renew_days": DAYS,
     "certificates": [{"name", "names", "addresses", "certificate", "key",
                       "ca"}, ...]}       as airgap_ca_certificates (paths optional)
For `authority`:
    {"dir": PATH, "common_name": STR, "name_constraints": [STR...],
     "provided": null or {"certificate_sha256": HEX, "key_sha256": HEX},
     "warn_days": DAYS}

A certificate is not due only when every task of certificate.yml would
report "ok" (community.crypto 2.x's checks, repeated here):
  - python3-cryptography imports (the package task);
  - the folders (pki 0755, the key's 0700, the certificate's 0755) are
    root's with those modes;
  - the key is a PEM ECDSA P-256 key without passphrase, root's, 0600;
  - the request (<pki>/<name>.csr, 0644) has CN = the first name, the names
    and addresses as SANs (as a set), digitalSignature (critical),
    serverAuth, CA:FALSE, nothing else, and is signed by that key;
  - the certificate (0644) carries the request's key, subject and
    extensions, its subject key identifier, is signed by the current site CA
    (its issuer and authority key identifier match) and is valid
    RENEW_DAYS from now, unless it already ends with the CA (the pipe's
    `force` rule: renewing early must gain something);
  - the copy of the CA beside it has the CA's exact bytes, 0644.
For the CA (authority_make.yml): the folders (0755, private/ 0700); a
provided CA's files hold the provided bytes (compared by SHA-256); a created
CA's key is PEM ECDSA P-384 0600, its request (private/ca.csr, 0600) has CN,
CA:TRUE pathlen:0 (critical), keyCertSign and cRLSign (critical), the name
constraints (critical when any) and no SAN, and ca.crt (0644) is that
request self-signed. Anything unexpected counts as due: the full path then
decides, as it always did. Exit 2 on a malformed REQUEST. Standard library
and python3-cryptography (missing: everything is due, the full path
installs it).
"""
import base64
import datetime
import grp
import hashlib
import ipaddress
import json
import os
import pwd
import re
import stat
import sys
import warnings

# The output is read as JSON, and over SSH with a terminal stderr joins it:
# a library's deprecation notice must not end up there.
warnings.simplefilter("ignore")

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    CRYPTOGRAPHY = None
except ImportError as e:  # The full path installs it.
    CRYPTOGRAPHY = "python3-cryptography is not installed ({0})".format(e)

ROOT_UID = pwd.getpwnam("root").pw_uid
ROOT_GID = grp.getgrnam("root").gr_gid


class Due(Exception):
    """The full path would change something; the message says what."""


def now():
    """UTC now, naive (community.crypto's relative times are naive UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def not_before(cert):
    value = getattr(cert, "not_valid_before_utc", None)
    return value.replace(tzinfo=None) if value is not None else cert.not_valid_before


def not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return value.replace(tzinfo=None) if value is not None else cert.not_valid_after


def valid_at(cert, when):
    """x509_certificate_info's valid_at: not_before <= when <= not_after."""
    return not_before(cert) <= when <= not_after(cert)


def check_file(path, mode):
    """A regular file (not a link: copy replaces one), root:root, exactly `mode`."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise Due("{0} is missing".format(path))
    if not stat.S_ISREG(st.st_mode):
        raise Due("{0} is not a regular file".format(path))
    if st.st_uid != ROOT_UID or st.st_gid != ROOT_GID:
        raise Due("{0} is not owned by root:root".format(path))
    if stat.S_IMODE(st.st_mode) != mode:
        raise Due("{0} has mode {1:04o}, not {2:04o}".format(path, stat.S_IMODE(st.st_mode), mode))


def check_folders(folders):
    """(path, mode) in the order the file loop applies them; the file module follows links."""
    wanted = {}
    for path, mode in folders:
        if wanted.setdefault(path, mode) != mode:
            raise Due("{0} is wanted with two modes".format(path))
    for path, mode in wanted.items():
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise Due("{0} is missing".format(path))
        if not stat.S_ISDIR(st.st_mode):
            raise Due("{0} is not a folder".format(path))
        if st.st_uid != ROOT_UID or st.st_gid != ROOT_GID:
            raise Due("{0} is not owned by root:root".format(path))
        if stat.S_IMODE(st.st_mode) != mode:
            raise Due("{0} has mode {1:04o}, not {2:04o}".format(path, stat.S_IMODE(st.st_mode), mode))


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Due("{0} cannot be read ({1})".format(path, e.strerror))


def spki(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_ec_key(path, curve):
    """openssl_privatekey (type ECC, format auto_ignore, regenerate full_idempotence)."""
    check_file(path, 0o600)
    try:
        key = serialization.load_pem_private_key(read(path), password=None)
    except (ValueError, TypeError) as e:
        raise Due("{0} is not a PEM key without passphrase ({1})".format(path, e))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, curve):
        raise Due("{0} is not an ECDSA {1} key".format(path, curve.name))
    return key


def extension(extensions, cls):
    return next((e for e in extensions if isinstance(e.value, cls)), None)


def check_request(path, mode, key, spec):
    """openssl_csr's idempotence check for the request at `path`, with what the task asks.

    spec: subject [(oid, value)]; san set of GeneralName; key_usage KeyUsage
    (critical); eku set of dotted OIDs (not critical); basic (ca, path_length,
    critical); name_constraints set of GeneralName (critical when any).
    Stricter than the module in one way: an extension the task never asks for is due.
    """
    check_file(path, mode)
    try:
        csr = x509.load_pem_x509_csr(read(path))
    except ValueError as e:
        raise Due("{0} is not a PEM request ({1})".format(path, e))
    if set((a.oid, a.value) for a in csr.subject) != set(spec["subject"]):
        raise Due("the request's subject differs")
    exts = csr.extensions
    known = (x509.SubjectAlternativeName, x509.KeyUsage, x509.ExtendedKeyUsage, x509.BasicConstraints, x509.NameConstraints)
    for e in exts:
        if not isinstance(e.value, known):
            raise Due("the request carries an extension the role does not ask for ({0})".format(e.oid.dotted_string))
    san = extension(exts, x509.SubjectAlternativeName)
    if set(san.value if san else []) != spec["san"] or (spec["san"] and san.critical):
        raise Due("the request's names or addresses differ")
    ku = extension(exts, x509.KeyUsage)
    if ku is None or ku.value != spec["key_usage"] or not ku.critical:
        raise Due("the request's key usage differs")
    eku = extension(exts, x509.ExtendedKeyUsage)
    usages = set(u.dotted_string for u in eku.value) if eku else set()
    if usages != spec["eku"] or (usages and eku.critical):
        raise Due("the request's extended key usage differs")
    bc = extension(exts, x509.BasicConstraints)
    ca, path_length, critical = spec["basic"]
    if bc is None or bc.value.ca != ca or bc.value.path_length != path_length or bc.critical != critical:
        raise Due("the request's basic constraints differ")
    nc = extension(exts, x509.NameConstraints)
    permitted = set(nc.value.permitted_subtrees or []) if nc else set()
    excluded = set(nc.value.excluded_subtrees or []) if nc else set()
    if permitted != spec["name_constraints"] or excluded or (permitted and not nc.critical):
        raise Due("the request's name constraints differ")
    if not csr.is_signature_valid or spki(csr.public_key()) != spki(key.public_key()):
        raise Due("the request is not signed by the key")
    return csr


def signed_by(cert, public_key):
    """cryptography_verify_certificate_signature, for the key types a site CA has."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def check_matches_request(cert, csr, drop):
    """CertificateBackend._check_csr and the subject key identifier check.

    `drop`: extension classes the provider adds itself (left out of the comparison).
    """
    if spki(cert.public_key()) != spki(csr.public_key()):
        raise Due("the certificate's key is not the request's")
    if cert.subject != csr.subject:
        raise Due("the certificate's subject is not the request's")
    cert_exts = [e for e in cert.extensions if not isinstance(e.value, drop)]
    csr_exts = [e for e in csr.extensions if not isinstance(e.value, drop)]
    if len(cert_exts) != len(csr_exts):
        raise Due("the certificate's extensions are not the request's")
    for e in cert_exts:
        try:
            if csr.extensions.get_extension_for_oid(e.oid) != e:
                raise Due("the certificate's {0} is not the request's".format(getattr(e.oid, "_name", e.oid.dotted_string)))
        except x509.ExtensionNotFound:
            raise Due("the certificate's extensions are not the request's")
    ski = extension(cert.extensions, x509.SubjectKeyIdentifier)
    if ski is None or ski.value.digest != x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest:
        raise Due("the certificate's subject key identifier is missing or wrong")


def load_certificate(data, what):
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as e:
        raise Due("{0} is not a PEM certificate ({1})".format(what, e))


def general_names(entries):
    """community.crypto's DNS:/IP: strings as GeneralName objects (others: due)."""
    out = set()
    for entry in entries:
        if entry.startswith("DNS:") and entry[4:].isascii():
            out.add(x509.DNSName(entry[4:]))
        elif entry.startswith("IP:"):
            value = entry[3:]
            try:
                out.add(x509.IPAddress(ipaddress.ip_network(value) if "/" in value else ipaddress.ip_address(value)))
            except ValueError:
                raise Due("{0} is not an address or network".format(entry))
        else:
            raise Due("{0}: only ASCII DNS: and IP: entries are checked here".format(entry))
    return out


def check_certificate(request, ca_bytes, ca_cert, pki_dir, renew_days):
    """Raises Due when certificate.yml would change anything for `request`."""
    name = request["name"]
    cert_path = request.get("certificate") or "{0}/{1}.crt".format(pki_dir, name)
    key_path = request.get("key") or "{0}/private/{1}.key".format(pki_dir, name)
    csr_path = "{0}/{1}.csr".format(pki_dir, name)
    ca_path = request.get("ca") or "{0}/airgap-ca.crt".format(pki_dir)
    names = request.get("names") or []
    if not names:
        raise Due("the request names no DNS name")
    check_folders([(pki_dir, 0o755), (os.path.dirname(key_path), 0o700), (os.path.dirname(cert_path), 0o755)])
    key = load_ec_key(key_path, ec.SECP256R1)
    csr = check_request(csr_path, 0o644, key, {
        "subject": [(NameOID.COMMON_NAME, names[0])],
        "san": general_names(["DNS:" + n for n in names] + ["IP:" + a for a in request.get("addresses") or []]),
        "key_usage": x509.KeyUsage(True, False, False, False, False, False, False, False, False),
        "eku": {ExtendedKeyUsageOID.SERVER_AUTH.dotted_string},
        "basic": (False, None, False),
        "name_constraints": set(),
    })
    check_file(cert_path, 0o644)
    data = read(cert_path)
    try:
        data.decode("ascii")  # The role passes it through text (slurp, then copy).
    except UnicodeDecodeError:
        raise Due("{0} is not ASCII".format(cert_path))
    cert = load_certificate(data, cert_path)
    # x509_certificate_pipe, provider ownca: it adds the key identifiers itself.
    check_matches_request(cert, csr, (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier))
    if not signed_by(cert, ca_cert.public_key()) or cert.issuer != ca_cert.subject:
        raise Due("the certificate is not signed by the current site CA")
    ca_ski = extension(ca_cert.extensions, x509.SubjectKeyIdentifier)
    expected_aki = (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value) if ca_ski
                    else x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()))
    aki = extension(cert.extensions, x509.AuthorityKeyIdentifier)
    if aki is None or aki.value != expected_aki:
        raise Due("the certificate's authority key identifier is not the site CA's")
    # The pipe's force: less than renew_days left, and renewing gains time
    # (a certificate that already ends with the CA is kept).
    if not valid_at(cert, now() + datetime.timedelta(days=renew_days)) and not_after(cert) < not_after(ca_cert):
        raise Due("less than {0} days left (ends {1:%Y-%m-%d %H:%M} UTC)".format(renew_days, not_after(cert)))
    check_file(ca_path, 0o644)
    if read(ca_path) != ca_bytes:
        raise Due("{0} is not the current site CA".format(ca_path))


def certificates(req):
    names = [c["name"] for c in req["certificates"]]
    reasons = {}
    try:
        if CRYPTOGRAPHY:
            raise Due(CRYPTOGRAPHY)
        if req.get("ca_certificate"):
            ca_bytes = read(req["ca_certificate"])
        else:
            ca_bytes = base64.b64decode(req["ca_certificate_b64"])
        ca_cert = load_certificate(ca_bytes, "the site CA")
    except Due as e:
        return {"due": names, "reasons": {n: str(e) for n in names}}
    for c in req["certificates"]:
        try:
            check_certificate(c, ca_bytes, ca_cert, req["pki_dir"], int(req["renew_days"]))
        except Due as e:
            reasons[c["name"]] = str(e)
    return {"due": [n for n in names if n in reasons], "reasons": reasons}


def authority(req):
    """authority_make.yml's tasks would all say "ok", and the CA's end (for the warning)."""
    d = req["dir"]
    cert_path, key_path, csr_path = d + "/ca.crt", d + "/private/ca.key", d + "/private/ca.csr"
    try:
        if CRYPTOGRAPHY:
            raise Due(CRYPTOGRAPHY)
        check_folders([(d, 0o755), (d + "/private", 0o700)])
        provided = req.get("provided")
        if provided:
            for path, mode, digest in ((cert_path, 0o644, provided["certificate_sha256"]), (key_path, 0o600, provided["key_sha256"])):
                check_file(path, mode)
                if hashlib.sha256(read(path)).hexdigest() != digest:
                    raise Due("{0} is not what the site provides".format(path))
            cert = load_certificate(read(cert_path), cert_path)
        else:
            key = load_ec_key(key_path, ec.SECP384R1)
            csr = check_request(csr_path, 0o600, key, {
                "subject": [(NameOID.COMMON_NAME, req["common_name"])],
                "san": set(),
                "key_usage": x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                "eku": set(),
                "basic": (True, 0, True),
                "name_constraints": general_names(req.get("name_constraints") or []),
            })
            check_file(cert_path, 0o644)
            cert = load_certificate(read(cert_path), cert_path)
            # x509_certificate, provider selfsigned: only the subject key identifier is its own.
            check_matches_request(cert, csr, (x509.SubjectKeyIdentifier,))
            if not signed_by(cert, key.public_key()):
                raise Due("ca.crt is not signed by the CA key")
    except Due as e:
        return {"sound": False, "reason": str(e), "not_after": None, "warn": False}
    return {
        "sound": True,
        "reason": None,
        "not_after": not_after(cert).strftime("%Y%m%d%H%M%SZ"),
        "warn": not valid_at(cert, now() + datetime.timedelta(days=int(req["warn_days"]))),
    }


def main(argv):
    if len(argv) != 2 or argv[0] not in ("certificates", "authority"):
        sys.stderr.write("usage: airgap_ca_check.py certificates|authority REQUEST-JSON\n")
        return 2
    try:
        req = json.loads(argv[1])
        if argv[0] == "certificates":
            for c in req["certificates"]:
                if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", c["name"]):
                    raise ValueError("bad certificate name {0!r}".format(c["name"]))
            out = certificates(req)
        else:
            out = authority(req)
    except (ValueError, KeyError, TypeError) as e:
        sys.stderr.write("airgap_ca_check.py: malformed request: {0!r}\n".format(e))
        return 2
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
