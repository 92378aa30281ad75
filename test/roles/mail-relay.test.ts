/**
 * roles/mail_relay (issue 22 part 1's relay) run by ansible-playbook on this
 * machine (`tasks_from: config`: the configuration and the mailboxes, into a
 * temp folder), then two private Postfix instances started from what it
 * wrote, on the loopback's high ports: the site relay (mailbox `ops`,
 * `corp.example.org` handed to the site's own mail server) and that mail
 * server (the same role, mailbox `alice` of corp.example.org). Real clients:
 * Python's smtplib (STARTTLS verified against the test's CA) and swaks.
 * The "site network" is 127.0.0.2/32; a client on 127.0.0.3 is the outsider.
 * Needs root (Postfix's master), postfix and swaks (test/packages.txt).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", input });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** One SMTP session with Python's smtplib; prints JSON: {ok, code, error}. */
const SMTP = `
import json, smtplib, ssl, sys
a = json.loads(sys.argv[1])
try:
    s = smtplib.SMTP(a["host"], a["port"], source_address=(a["source"], 0), timeout=20)
    s.ehlo("client.test")
    tls = False
    if a.get("ca"):
        ctx = ssl.create_default_context(cafile=a["ca"])
        s.starttls(context=ctx)  # verified: the CA, and the certificate names the address (an IP SAN, as the ca role issues)
        tls = True
        s.ehlo("client.test")
    msg = "From: zabbix@mon.internal\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\nbody\\r\\n" % (a["to"], a["subject"])
    s.sendmail("zabbix@mon.internal", [a["to"]], msg)
    s.quit()
    print(json.dumps({"ok": True, "tls": tls}))
except ssl.SSLError as e:
    print(json.dumps({"ok": False, "error": "tls: " + e.__class__.__name__ + ": " + str(e)}))
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(json.dumps({"ok": False, "code": code, "error": text.decode()}))
except smtplib.SMTPResponseException as e:
    print(json.dumps({"ok": False, "code": e.smtp_code, "error": e.smtp_error.decode()}))
`;

interface Instance {
  dir: string;
  port: number;
}

describe("mail relay: the role's Postfix configuration, run as a private instance with real clients", function () {
  this.timeout(5 * 60_000);
  let tmp: string;
  let relay: Instance;
  let corp: Instance;
  const started: string[] = [];

  const send = (to: string, subject: string, source = "127.0.0.2", ca = "ca.crt") => {
    const r = run("python3", ["-c", SMTP, JSON.stringify({
      host: "127.0.0.1", port: relay.port, source, to, subject, ca: path.join(tmp, ca),
    })]);
    assert.equal(r.status, 0, r.stderr + readLog(relay));
    return JSON.parse(r.stdout) as { ok: boolean; tls?: boolean; code?: number; error?: string };
  };
  const readLog = (inst: Instance) => {
    const f = path.join(inst.dir, "log", "postfix.log");
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  };

  /** The messages of a Maildir, read with Python's mailbox module: their subjects. */
  const maildir = async (dir: string, want: number): Promise<string[]> => {
    for (let i = 0; i < 100; i++) {
      const r = run("python3", ["-c", "import json, mailbox, sys; print(json.dumps(sorted(m['Subject'] for m in mailbox.Maildir(sys.argv[1], create=False))))", dir]);
      assert.equal(r.status, 0, r.stderr);
      const subjects = JSON.parse(r.stdout) as string[];
      if (subjects.length >= want) return subjects;
      await new Promise((res) => setTimeout(res, 200));
    }
    return JSON.parse(run("python3", ["-c", "import json, mailbox, sys; print(json.dumps(sorted(m['Subject'] for m in mailbox.Maildir(sys.argv[1], create=False))))", dir]).stdout) as string[];
  };

  /** ansible-playbook with the role's config tasks for one instance; returns the recap's changed count. */
  const configure = (name: string, inst: Instance, vars: Record<string, unknown>): number => {
    const d = inst.dir;
    writeFileSync(path.join(tmp, `${name}.yml`), [
      "- hosts: localhost",
      "  connection: local",
      "  gather_facts: false",
      "  tasks:",
      "    - name: The relay's configuration",
      "      ansible.builtin.include_role:",
      "        name: mail_relay",
      "        tasks_from: config",
      "",
    ].join("\n"));
    writeFileSync(path.join(tmp, `${name}.json`), JSON.stringify({
      ansible_python_interpreter: "/usr/bin/python3",
      airgap_mail_relay_manage_service: false,
      airgap_mail_relay_port: inst.port,
      airgap_mail_relay_address: "127.0.0.1",
      airgap_mail_relay_user: "nobody",
      airgap_mail_relay_config_dir: path.join(d, "conf"),
      airgap_mail_relay_queue_dir: path.join(d, "queue"),
      airgap_mail_relay_data_dir: path.join(d, "data"),
      airgap_mail_relay_maildir_base: path.join(d, "mail"),
      airgap_mail_relay_log_file: path.join(d, "log", "postfix.log"),
      airgap_mail_relay_certificate: path.join(tmp, "mail.crt"),
      airgap_mail_relay_certificate_key: path.join(tmp, "mail.key"),
      airgap_mail_relay_ca_file: path.join(tmp, "ca.crt"),
      ...vars,
    }));
    const r = spawnSync("ansible-playbook", ["-i", "localhost,", path.join(tmp, `${name}.yml`), "-e", `@${path.join(tmp, `${name}.json`)}`], {
      encoding: "utf8",
      env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"), ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0" },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const recap = r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP"));
    assert.match(recap, /failed=0/);
    return Number(/changed=(\d+)/.exec(recap)?.[1]);
  };

  before(async function () {
    if (process.getuid?.() !== 0) return this.skip(); // Postfix's master runs as root
    for (const tool of ["ansible-playbook", "postfix", "postconf", "swaks", "openssl"]) {
      if (run("sh", ["-c", `command -v ${tool}`]).status !== 0) {
        console.log(`      (skipped: ${tool} is not installed; test/setup.sh installs it)`);
        return this.skip();
      }
    }
    tmp = tempDir("airgap-mail-");
    // Postfix's daemons (the postfix user) and the delivery agent (nobody) go through it.
    chmodSync(tmp, 0o755);
    relay = { dir: path.join(tmp, "relay"), port: await freeTcpPort() };
    corp = { dir: path.join(tmp, "corp"), port: await freeTcpPort() };
    for (const inst of [relay, corp]) {
      for (const sub of ["conf", "queue", "data", "log"]) mkdirSync(path.join(inst.dir, sub), { recursive: true });
      const postfixUser = run("id", ["-u", "postfix"]).stdout.trim();
      chownSync(path.join(inst.dir, "data"), Number(postfixUser), 0);
    }
    // A CA and the relay's certificate (ECDSA P-256), as the site CA issues them.
    const ossl = (...args: string[]) => assert.equal(run("openssl", args).status, 0, args.join(" "));
    const f = (n: string) => path.join(tmp, n);
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=mail test CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("other-ca.key"), "-out", f("other-ca.crt"), "-days", "2", "-subj", "/CN=another CA");
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("mail.key"), "-out", f("mail.csr"), "-subj", "/CN=mail.mon.internal");
    writeFileSync(f("ext.cnf"), "subjectAltName=DNS:mail.mon.internal,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    ossl("x509", "-req", "-in", f("mail.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f("mail.crt"), "-days", "2", "-extfile", f("ext.cnf"));
  });

  after(() => {
    for (const conf of started) run("postfix", ["-c", conf, "stop"]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("the role writes the configuration (Postfix's own check passes) and a second run changes nothing", () => {
    const relayVars = {
      airgap_mail_relay_names: ["mail.mon.internal"],
      airgap_mail_relay_domain: "mon.internal",
      airgap_mail_relay_allow: ["127.0.0.2/32"],
      airgap_mail_relay_mailboxes: ["ops"],
      airgap_mail_relay_relay: `[127.0.0.1]:${corp.port}`,
      airgap_mail_relay_domains: ["corp.example.org"],
    };
    const corpVars = {
      airgap_mail_relay_names: ["mail.corp.example.org"],
      airgap_mail_relay_domain: "corp.example.org",
      airgap_mail_relay_allow: [],
      airgap_mail_relay_mailboxes: ["alice"],
    };
    assert.ok(configure("relay", relay, relayVars) > 0);
    assert.ok(configure("corp", corp, corpVars) > 0);
    assert.equal(configure("relay", relay, relayVars), 0, "a second run changes nothing");
    assert.equal(configure("corp", corp, corpVars), 0, "a second run changes nothing");
    const n = run("postconf", ["-c", path.join(relay.dir, "conf"), "-n"]);
    assert.equal(n.status, 0, n.stderr);
    const conf = Object.fromEntries(n.stdout.trim().split("\n").map((l) => l.split(" = ", 2).concat([""]).slice(0, 2)));
    assert.equal(conf.mynetworks, "127.0.0.1/32 127.0.0.2/32");
    assert.equal(conf.relayhost, undefined, "no relayhost (postconf -n prints it only when set)");
    assert.equal(conf.relay_domains, "corp.example.org");
    assert.match(conf.default_transport, /^error:/);
    assert.equal(conf.virtual_mailbox_domains, "mon.internal");
  });

  it("starts both instances from what the role wrote", () => {
    for (const inst of [relay, corp]) {
      const conf = path.join(inst.dir, "conf");
      const r = run("postfix", ["-c", conf, "start"]);
      assert.equal(r.status, 0, r.stderr + (existsSync(path.join(inst.dir, "log", "postfix.log")) ? readFileSync(path.join(inst.dir, "log", "postfix.log"), "utf8") : ""));
      started.push(conf);
    }
  });

  it("delivers a site network's mail to a mailbox over STARTTLS verified against the site CA", async () => {
    const r = send("ops@mon.internal", "problem: chrony stopped on node1");
    assert.deepEqual(r, { ok: true, tls: true });
    assert.deepEqual(await maildir(path.join(relay.dir, "mail", "ops"), 1), ["problem: chrony stopped on node1"]);
  });

  it("refuses STARTTLS to a client that trusts another CA (the client's verification is real)", () => {
    const r = send("ops@mon.internal", "other CA", "127.0.0.2", "other-ca.crt");
    assert.equal(r.ok, false);
    assert.match(r.error!, /^tls: SSLCertVerificationError: .*certificate verify failed/);
  });

  it("hands a domain the site's mail server takes to that server (delivered into its mailbox)", async () => {
    assert.deepEqual(send("alice@corp.example.org", "recovery: chrony runs on node1"), { ok: true, tls: true });
    assert.deepEqual(await maildir(path.join(corp.dir, "mail", "alice"), 1), ["recovery: chrony runs on node1"]);
  });

  it("refuses to relay to a domain outside the site, and an address of the site without a mailbox", () => {
    const out = send("someone@example.com", "leak");
    assert.equal(out.ok, false);
    assert.equal(out.code, 554);
    assert.match(out.error!, /Relay access denied/);
    const unknown = send("nobody@mon.internal", "unknown");
    assert.equal(unknown.ok, false);
    assert.equal(unknown.code, 550);
    assert.match(unknown.error!, /User unknown in virtual mailbox table/);
  });

  it("refuses a client outside the site's networks, even for a mailbox of the site (swaks)", async () => {
    const r = run("swaks", ["--server", `127.0.0.1:${relay.port}`, "--local-interface", "127.0.0.3", "--to", "ops@mon.internal", "--from", "x@mon.internal", "--quit-after", "RCPT"]);
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stdout, /<\*\* +554 5\.7\.1 .*Client host rejected: Access denied/);
    assert.deepEqual(await maildir(path.join(relay.dir, "mail", "ops"), 1), ["problem: chrony stopped on node1"], "nothing more arrived");
  });
});
