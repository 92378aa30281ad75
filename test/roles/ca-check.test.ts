import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { sha256, tempDir } from "../bundle/helpers.js";

const TOOL = path.join(ROOT, "roles/ca/files/airgap_ca_check.py");
/** The hosts' Python (Debian's python3-cryptography), as the role runs the tool. */
const PY = "/usr/bin/python3";

/**
 * Makes the files the bad cases need, with python3-cryptography, the way
 * community.crypto's ownca provider does (the request's extensions, then
 * the subject and authority key identifiers):
 *   sign CA_CRT CA_KEY CSR OUT DAYS|ca-end [DNS-NAME...]   (names: other SANs)
 *   ca DIR DAYS COMMON-NAME                                (DIR/ca.crt, DIR/ca.key)
 *   key OUT CURVE
 */
const MAKE = `
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

def write(path, data, mode):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)

now = datetime.datetime.utcnow()
cmd = sys.argv[1]
if cmd == "sign":
    ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
    ca_key = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), None)
    csr = x509.load_pem_x509_csr(open(sys.argv[4], "rb").read())
    end = ca.not_valid_after if sys.argv[6] == "ca-end" else now + datetime.timedelta(days=float(sys.argv[6]))
    b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(end).public_key(csr.public_key()))
    for e in csr.extensions:
        if isinstance(e.value, x509.SubjectAlternativeName) and len(sys.argv) > 7:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sys.argv[7:]]), critical=False)
        else:
            b = b.add_extension(e.value, critical=e.critical)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    write(sys.argv[5], b.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), 0o644)
elif cmd == "ca":
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sys.argv[4])])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=float(sys.argv[3])))
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA384()))
    write(os.path.join(sys.argv[2], "ca.key"), pem_key(key), 0o600)
    write(os.path.join(sys.argv[2], "ca.crt"), cert.public_bytes(serialization.Encoding.PEM), 0o644)
elif cmd == "key":
    write(sys.argv[2], pem_key(ec.generate_private_key(getattr(ec, sys.argv[3].upper())())), 0o600)
`;

interface Request {
  name: string;
  names: string[];
  addresses?: string[];
  certificate?: string;
  key?: string;
  ca?: string;
}

/**
 * roles/ca's fast path (issue 23 part 1): files/airgap_ca_check.py looks at a
 * host's certificates and at the CA, reading only, and names what the full
 * path (certificate.yml, authority_make.yml) would change. Proven on the
 * real files the role makes (ansible-playbook -c local into a temporary
 * folder) and on bad files made from them; then the role itself: a rerun
 * runs no full path and changes nothing, and each reason to re-issue still
 * re-issues, in check mode too.
 */
describe("ca: one look tells which certificates the role must issue", function () {
  // Role runs through the full path take 15-50 s each on a loaded machine.
  this.timeout(20 * 60_000);
  let tmp: string;
  let calls: string;
  const caDir = () => path.join(tmp, "ca");
  const pki = () => path.join(tmp, "pki");
  const requests = (): Request[] => [
    { name: "registry", names: ["registry.lab.airgap.internal", "admin.lab.airgap.internal"], addresses: ["10.213.0.10"] },
    {
      name: "pypi",
      names: ["pypi.lab.airgap.internal"],
      addresses: ["127.0.0.1"],
      certificate: path.join(tmp, "pypi/pypi.crt"),
      key: path.join(tmp, "pypi/private/pypi.key"),
      ca: path.join(tmp, "pypi/airgap-ca.crt"),
    },
  ];
  const constraints = ["DNS:lab.airgap.internal", "IP:10.213.0.0/24", "IP:127.0.0.0/8"];

  /**
   * One ansible-playbook run: the role on the CA host with the first
   * certificate, then the second asked for the way nginx asks (tasks_from:
   * certificates); `certificates` replaces both. Counts the module runs
   * (each start of the hosts' Python).
   */
  const play = (vars: Record<string, unknown> = {}, extra: string[] = [], certificates = requests()) => {
    // A play's vars file: the include's own vars must win over these (extra vars would not let them).
    writeFileSync(
      path.join(tmp, "vars.json"),
      JSON.stringify({
        // Never repair this machine's dpkg state from a test.
        airgap_converge_packages_sound: true,
        airgap_ca_dir: caDir(),
        airgap_ca_pki_dir: pki(),
        airgap_ca_common_name: "lab airgap CA",
        airgap_ca_name_constraints: constraints,
        airgap_ca_certificates: certificates.slice(0, 1),
        airgap_test_service_certificates: certificates.slice(1),
        ansible_python_interpreter: path.join(tmp, "python"),
        ...vars,
      }),
    );
    writeFileSync(calls, "");
    const started = Date.now();
    const r = spawnSync("ansible-playbook", ["-i", "localhost,", path.join(tmp, "play.yml"), ...extra], {
      encoding: "utf8",
      env: {
        ...process.env,
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"),
        ANSIBLE_LOCALHOST_WARNING: "0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING: "0",
        // Modules as files, so the interpreter's first argument names them.
        ANSIBLE_PIPELINING: "False",
      },
    });
    const recap = r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP"));
    const count = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(recap)?.[1] ?? NaN);
    const runs = readFileSync(calls, "utf8").split("\n").filter(Boolean);
    return { status: r.status, out: r.stdout + r.stderr, changed: count("changed"), runs, seconds: (Date.now() - started) / 1000 };
  };
  const converged = (what: string) => {
    const r = play();
    assert.equal(r.status, 0, r.out);
    assert.equal(r.changed, 0, `${what}: ${r.out}`);
    assert.deepEqual(r.runs.sort(), ["AnsiballZ_setup.py", "airgap_ca_check.py", "airgap_ca_check.py", "airgap_ca_check.py"], `${what}: ${r.out}`);
    return r;
  };
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const make = (...args: string[]) => sh(PY, ["-c", MAKE, ...args]);
  const x509 = (file: string, ...what: string[]) => sh("openssl", ["x509", "-in", file, "-noout", ...what]);
  const verify = (ca: string, cert: string) => spawnSync("openssl", ["verify", "-CAfile", ca, cert], { encoding: "utf8" }).status === 0;

  before(function () {
    if (spawnSync("ansible-playbook", ["--version"]).status !== 0) this.skip();
    // The role makes root's files (owner root): only root runs it.
    if (process.getuid?.() !== 0) this.skip();
    assert.equal(spawnSync(PY, ["-c", "import cryptography"]).status, 0, "python3-cryptography is installed (test/packages.txt)");
    tmp = tempDir("airgap-ca-");
    calls = path.join(tmp, "calls");
    writeFileSync(path.join(tmp, "python"), `#!/bin/sh\nbasename "\${1:-stdin}" >> ${calls}\nexec ${PY} "$@"\n`);
    chmodSync(path.join(tmp, "python"), 0o755);
    writeFileSync(
      path.join(tmp, "play.yml"),
      `- hosts: localhost
  connection: local
  gather_facts: true
  gather_subset: ["!all", "network"]
  vars_files:
    - vars.json
  roles:
    - role: ca
  tasks:
    - name: Ask for a service's certificates as nginx does
      ansible.builtin.include_role:
        name: ca
        tasks_from: certificates
      vars:
        airgap_ca_certificates: "{{ airgap_test_service_certificates }}"
`,
    );
    const first = play();
    assert.equal(first.status, 0, first.out);
    assert.ok(first.changed > 0, first.out);
    assert.match(first.out, /TASK \[ca : Sign the request on the CA host\]/);
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  describe("airgap_ca_check.py on real files", () => {
    let scratch: string;
    /** The site's files, copied (modes and owners kept) into `scratch` for one case. */
    const fresh = () => {
      scratch = path.join(tmp, "scratch");
      rmSync(scratch, { recursive: true, force: true });
      for (const d of ["ca", "pki", "pypi"]) cpSync(path.join(tmp, d), path.join(scratch, d), { recursive: true, preserveTimestamps: true });
      sh("chown", ["-R", "root:root", scratch]);
      chmodSync(scratch, 0o755);
    };
    const at = (...p: string[]) => path.join(scratch, ...p);
    const scratchRequests = (): Request[] =>
      requests().map((r) => ({ ...r, ...(r.certificate ? { certificate: at("pypi/pypi.crt"), key: at("pypi/private/pypi.key"), ca: at("pypi/airgap-ca.crt") } : {}) }));
    const look = (reqs: Request[] = scratchRequests(), over: Record<string, unknown> = {}, py: string[] = [PY]) => {
      const r = spawnSync(py[0], [...py.slice(1), TOOL, "certificates", JSON.stringify({
        ca_certificate: at("ca/ca.crt"), ca_certificate_b64: "", pki_dir: at("pki"), renew_days: 30, certificates: reqs, ...over,
      })], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { due: string[]; reasons: Record<string, string> };
    };
    const onlyRegistry = (why: RegExp, out = look()) => {
      assert.deepEqual(out.due, ["registry"], JSON.stringify(out));
      assert.match(out.reasons.registry, why);
    };
    const regCsr = () => at("pki/registry.csr");
    const regCrt = () => at("pki/registry.crt");
    beforeEach(fresh);

    it("finds nothing due on the files the role made, also given the CA's bytes (a host that is not the CA's) and with newer cryptography", () => {
      assert.deepEqual(look(), { due: [], reasons: {} });
      const b64 = readFileSync(at("ca/ca.crt")).toString("base64");
      assert.deepEqual(look(undefined, { ca_certificate: "", ca_certificate_b64: b64 }), { due: [], reasons: {} });
      const newer = spawnSync("python3", ["-c", "import cryptography; print(cryptography.__version__)"], { encoding: "utf8" });
      if (newer.status === 0 && newer.stdout.trim() !== spawnSync(PY, ["-c", "import cryptography; print(cryptography.__version__)"], { encoding: "utf8" }).stdout.trim()) {
        assert.deepEqual(look(undefined, {}, ["python3"]), { due: [], reasons: {} }, `cryptography ${newer.stdout.trim()}`);
      }
    });

    it("names a certificate whose request gained or changed a name or an address", () => {
      const more = scratchRequests();
      more[0].names = [...more[0].names, "docker.lab.airgap.internal"];
      onlyRegistry(/names or addresses differ/, look(more));
      const first = scratchRequests();
      first[0].names = ["admin.lab.airgap.internal", "registry.lab.airgap.internal"];
      onlyRegistry(/subject differs/, look(first));
      const address = scratchRequests();
      address[0].addresses = ["10.213.0.11"];
      onlyRegistry(/names or addresses differ/, look(address));
    });

    it("names a certificate with other SANs than its request, signed by the site CA", () => {
      make("sign", at("ca/ca.crt"), at("ca/private/ca.key"), regCsr(), regCrt(), "397", "registry.lab.airgap.internal");
      assert.ok(verify(at("ca/ca.crt"), regCrt()), "the bad certificate is the site CA's");
      onlyRegistry(/subjectAltName is not the request's/);
    });

    it("names a certificate with less than renew_days left, unless it already ends with the CA", () => {
      make("sign", at("ca/ca.crt"), at("ca/private/ca.key"), regCsr(), regCrt(), "10");
      onlyRegistry(/less than 30 days left/);
      assert.deepEqual(look(undefined, { renew_days: 5 }).due, [], "10 days left, 5 wanted");
      // A CA with 20 days left: a certificate ending with it gains nothing by renewal (the pipe's force is false) ...
      const short = at("short-ca");
      sh("mkdir", ["-m", "0755", short]);
      make("ca", short, "20", "lab airgap CA");
      make("sign", path.join(short, "ca.crt"), path.join(short, "ca.key"), regCsr(), regCrt(), "ca-end");
      cpSync(path.join(short, "ca.crt"), at("pki/airgap-ca.crt"));
      const withShort = scratchRequests().slice(0, 1);
      assert.deepEqual(look(withShort, { ca_certificate: path.join(short, "ca.crt") }).due, []);
      // ... one that ends a day before the CA does.
      make("sign", path.join(short, "ca.crt"), path.join(short, "ca.key"), regCsr(), regCrt(), "19");
      onlyRegistry(/less than 30 days left/, look(withShort, { ca_certificate: path.join(short, "ca.crt") }));
    });

    it("names a certificate signed by another CA, even one with the site CA's name", () => {
      const other = at("other-ca");
      sh("mkdir", ["-m", "0755", other]);
      make("ca", other, "3650", "lab airgap CA");
      make("sign", path.join(other, "ca.crt"), path.join(other, "ca.key"), regCsr(), regCrt(), "397");
      onlyRegistry(/not signed by the current site CA/);
      // And every certificate once the site has a new CA (the old one signed them all).
      const out = look(undefined, { ca_certificate: path.join(other, "ca.crt") });
      assert.deepEqual(out.due, ["registry", "pypi"], JSON.stringify(out));
      assert.match(out.reasons.pypi, /not signed by the current site CA/);
    });

    it("names a certificate whose key is another, missing, not P-256 or not 0600, and a stale CA copy", () => {
      make("key", at("pki/private/registry.key"), "secp256r1");
      onlyRegistry(/the request is not signed by the key/);
      fresh();
      unlinkSync(at("pki/private/registry.key"));
      onlyRegistry(/registry\.key is missing/);
      fresh();
      make("key", at("pki/private/registry.key"), "secp384r1");
      onlyRegistry(/not an ECDSA secp256r1 key/);
      fresh();
      chmodSync(at("pki/private/registry.key"), 0o640);
      onlyRegistry(/registry\.key has mode 0640, not 0600/);
      fresh();
      chmodSync(at("pki/private"), 0o755);
      onlyRegistry(/private has mode 0755, not 0700/);
      fresh();
      unlinkSync(regCrt());
      onlyRegistry(/registry\.crt is missing/);
      fresh();
      writeFileSync(at("pki/airgap-ca.crt"), readFileSync(at("pypi/airgap-ca.crt"), "utf8") + "\n");
      onlyRegistry(/airgap-ca\.crt is not the current site CA/);
    });

    it("names every certificate when python3-cryptography cannot be imported, or the CA cannot be read", () => {
      const out = look(undefined, {}, [PY, "-S"]);
      assert.deepEqual(out.due, ["registry", "pypi"]);
      assert.match(out.reasons.registry, /python3-cryptography is not installed/);
      const noCa = look(undefined, { ca_certificate: at("ca/none.crt") });
      assert.deepEqual(noCa.due, ["registry", "pypi"]);
      assert.match(noCa.reasons.pypi, /none\.crt cannot be read/);
    });

    it("says whether the CA's own files are as the site wants them, and when the CA nears its end", () => {
      const authority = (over: Record<string, unknown> = {}) => {
        const r = spawnSync(PY, [TOOL, "authority", JSON.stringify({
          dir: at("ca"), common_name: "lab airgap CA", name_constraints: constraints, warn_days: 180, provided: {}, ...over,
        })], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as { sound: boolean; reason: string | null; not_after: string | null; warn: boolean };
      };
      const sound = authority();
      assert.equal(sound.sound, true, JSON.stringify(sound));
      assert.equal(sound.warn, false);
      assert.match(sound.not_after!, /^\d{14}Z$/);
      assert.ok(x509(at("ca/ca.crt"), "-enddate").includes(` ${sound.not_after!.slice(0, 4)} GMT`), sound.not_after!);
      assert.equal(authority({ warn_days: 4000 }).warn, true);
      assert.match(authority({ name_constraints: constraints.slice(0, 2) }).reason!, /name constraints differ/);
      assert.match(authority({ common_name: "another CA" }).reason!, /subject differs/);
      // A provided CA: the files must hold what would be written (trimmed, one newline), by digest.
      const crt = readFileSync(at("ca/ca.crt"), "utf8");
      const key = readFileSync(at("ca/private/ca.key"), "utf8");
      const provided = (c: string, k: string) => ({ certificate_sha256: sha256(c.trim() + "\n"), key_sha256: sha256(k.trim() + "\n") });
      assert.equal(authority({ provided: provided(crt, key) }).sound, true);
      assert.match(authority({ provided: provided(crt, key + "x") }).reason!, /ca\.key is not what the site provides/);
      chmodSync(at("ca/private"), 0o750);
      assert.match(authority().reason!, /private has mode 0750, not 0700/);
    });

    it("refuses a malformed request (exit 2)", () => {
      for (const args of [["certificates", "{"], ["certificates", JSON.stringify({ certificates: [{ name: "../x", names: ["a"] }] })], ["sign", "{}"], []]) {
        const r = spawnSync(PY, [TOOL, ...args], { encoding: "utf8" });
        assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}`);
      }
    });
  });

  describe("the role, run again", () => {
    const serial = (file: string) => x509(file, "-serial").trim();
    const regCrt = () => path.join(pki(), "registry.crt");
    const pypiCrt = () => path.join(tmp, "pypi/pypi.crt");

    it("changes nothing and runs no full path: the setup and three looks (the CA, then each include's certificates)", () => {
      const r = converged("rerun");
      assert.doesNotMatch(r.out, /TASK \[ca : (Sign the request|Describe the CA|Install the cryptography library)/);
      console.log(`      rerun: ${r.runs.length} module runs (${r.runs.join(", ")}), ${r.seconds.toFixed(1)} s`);
    });

    it("re-issues a certificate whose names change, and only that one; check mode says so first and writes nothing", () => {
      const before = readFileSync(regCrt());
      const pypiBefore = serial(pypiCrt());
      const reqs = requests();
      reqs[0].names = [...reqs[0].names, "docker.lab.airgap.internal"];
      const checked = play({}, ["--check"], reqs);
      assert.equal(checked.status, 0, checked.out);
      assert.ok(checked.changed > 0, checked.out);
      assert.deepEqual(readFileSync(regCrt()), before, "check mode wrote the certificate");
      const r = play({}, [], reqs);
      assert.equal(r.status, 0, r.out);
      assert.ok(r.changed > 0, r.out);
      assert.match(r.out, /registry: the request's names or addresses differ/);
      assert.match(x509(regCrt(), "-ext", "subjectAltName"), /DNS:docker\.lab\.airgap\.internal/);
      assert.equal(serial(pypiCrt()), pypiBefore, "the other certificate was left alone");
      const again = play({}, [], reqs);
      assert.equal(again.changed, 0, again.out);
      assert.equal(again.runs.length, 4, again.out);
      // Back to the site's names (re-issued again), then converged.
      assert.equal(play().status, 0);
      const back = converged("back to the site's names");
      assert.doesNotMatch(x509(regCrt(), "-ext", "subjectAltName"), /docker/, back.out);
    });

    it("re-issues a certificate whose key was deleted, for a new key", () => {
      const key = path.join(pki(), "private/registry.key");
      const old = readFileSync(key);
      unlinkSync(key);
      const r = play();
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /registry: .*registry\.key is missing/);
      assert.notDeepEqual(readFileSync(key), old);
      const pub = (args: string[]) => sh("openssl", args);
      assert.equal(pub(["x509", "-in", regCrt(), "-noout", "-pubkey"]), pub(["pkey", "-in", key, "-pubout"]));
      converged("after a new key");
    });

    it("re-issues certificates with less than renew_days left", () => {
      const before = [serial(regCrt()), serial(pypiCrt())];
      const r = play({ airgap_ca_renew_days: 400 });
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /registry: less than 400 days left/);
      assert.notEqual(serial(regCrt()), before[0]);
      assert.notEqual(serial(pypiCrt()), before[1]);
      converged("after renewal");
    });

    it("makes a new CA when its files are gone, and re-issues every certificate the old CA signed", () => {
      const oldCa = readFileSync(path.join(caDir(), "ca.crt"));
      rmSync(caDir(), { recursive: true });
      const r = play();
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /TASK \[ca : Self-sign the CA certificate\]/);
      assert.match(r.out, /pypi: the certificate is not signed by the current site CA/);
      const ca = path.join(caDir(), "ca.crt");
      assert.notDeepEqual(readFileSync(ca), oldCa);
      assert.ok(verify(ca, regCrt()) && verify(ca, pypiCrt()), "both certificates are the new CA's");
      assert.deepEqual(readFileSync(path.join(tmp, "pypi/airgap-ca.crt")), readFileSync(ca));
      assert.deepEqual(readFileSync(path.join(pki(), "airgap-ca.crt")), readFileSync(ca));
      converged("after a new CA");
      const checked = play({}, ["--check"]);
      assert.equal(checked.changed, 0, checked.out);
      assert.ok(existsSync(ca));
    });
  });
});
