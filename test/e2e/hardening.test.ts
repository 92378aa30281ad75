/**
 * @lab end to end: the services' hardening (issue 16, part 5), proven with
 * real clients against the compiled site in the lab.
 *
 * - Every TLS port of the admin (repository 443, registry 5000, PyPI 3141):
 *   an `openssl s_client` sweep from the controller over every suite this
 *   OpenSSL knows accepts only ECDHE with AEAD in TLS 1.2, and TLS 1.3;
 *   TLS 1.0 and 1.1 are refused; nginx names no version.
 * - The registry backend has no TCP port; its unix socket refuses a local
 *   unprivileged user (nobody) and lets nginx's group (www-data) through.
 * - BIND: AXFR from a host that is not a secondary gets REFUSED;
 *   version.bind and hostname.bind say nothing; a burst of identical
 *   queries is rate-limited (truncated or dropped answers).
 * - The site CA carries critical name constraints: a certificate it signs
 *   for a name or address outside the site is refused by `openssl verify`
 *   and by a TLS client trusting the CA, one inside is accepted.
 * - The gateway's own input drops by default: a port open on gw is
 *   unreachable from a node (the input counter rises), SSH from the
 *   controller's network still works.
 * - The APT archive key reached the nodes over SSH: the node's key is the
 *   server's, and no node ever asked nginx for it.
 * - A second run of site.yml changes nothing on any host.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { formatRecap, labBefore, phase, run, type LabRunResult } from "./fixture.js";

const DOMAIN = "lab.airgap.internal";
const ADMIN = "10.213.0.10";
const GW_NODES = "10.215.0.1";
const TLS_PORTS: [string, number][] = [
  ["repo", 443],
  ["registry", 5000],
  ["pypi", 3141],
];
const SITE_HOSTS = ["admin", "gw", "node1", "node2"];

/** What Mozilla's intermediate profile allows in TLS 1.2 here: ECDHE key exchange, AEAD cipher. */
const ECDHE_AEAD = /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/;

/** A TCP connection from a lab host: prints OPEN, REFUSED or TIMEOUT. */
function tcpProbe(address: string, port: number): string {
  return `python3 -c "
import socket
s = socket.socket(); s.settimeout(3)
try: s.connect(('${address}', ${port})); print('OPEN')
except ConnectionRefusedError: print('REFUSED')
except OSError: print('TIMEOUT')
"`;
}

/** One handshake from the controller; the negotiated protocol and suite, or undefined when refused. */
async function handshake(port: number, name: string, args: string[]): Promise<{ protocol: string; cipher: string } | undefined> {
  const r = await run("timeout", ["5", "openssl", "s_client", "-connect", `${ADMIN}:${port}`, "-servername", `${name}.${DOMAIN}`, "-brief", ...args], { input: "" });
  const protocol = /Protocol version: (\S+)/.exec(r.stderr)?.[1];
  const cipher = /Ciphersuite: (\S+)/.exec(r.stderr)?.[1];
  return r.code === 0 && protocol && cipher ? { protocol, cipher } : undefined;
}

/** A counter of the gateway's table, in packets. */
async function counter(site: LabRunResult, name: string): Promise<number> {
  const out = await site.lab.sh("gw", `nft list counter inet airgap_gateway ${name}`);
  const m = /packets (\d+)/.exec(out);
  assert.ok(m, out);
  return Number(m[1]);
}

describe("@lab hardening: TLS profile, registry backend, BIND, CA constraints, gateway input, archive key", function () {
  let site: LabRunResult;

  before(async function () {
    site = await labBefore(this);
    for (const node of ["node1", "node2"]) await site.lab.install(node, "bind9-dnsutils");
  });

  describe("nginx: Mozilla intermediate, no version", () => {
    /** Every TLS 1.2 suite this OpenSSL can offer (the sweep's candidates). */
    let suites: string[];
    before(async () => {
      const r = await run("openssl", ["ciphers", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]);
      suites = r.stdout.trim().split(":").filter((c) => !c.startsWith("TLS_"));
      assert.ok(suites.length > 40, `${suites.length} suites to try`);
    });

    for (const [name, port] of TLS_PORTS) {
      it(`${name} (${port}): TLS 1.2 accepts only ECDHE with AEAD; TLS 1.3 works; 1.0 and 1.1 are refused`, async function () {
        this.timeout(5 * 60_000);
        const accepted: string[] = [];
        for (const c of suites) if (await handshake(port, name, ["-tls1_2", "-cipher", `${c}:@SECLEVEL=0`])) accepted.push(c);
        console.log(`      ${name}:${port} TLS 1.2 accepted ${accepted.length} of ${suites.length}: ${accepted.join(" ")}`);
        assert.ok(accepted.length > 0);
        for (const c of accepted) assert.match(c, ECDHE_AEAD);
        const t13 = await handshake(port, name, ["-tls1_3"]);
        assert.equal(t13?.protocol, "TLSv1.3");
        assert.match(t13!.cipher, /^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
        for (const old of ["-tls1", "-tls1_1"]) assert.equal(await handshake(port, name, [old, "-cipher", "ALL:@SECLEVEL=0"]), undefined, old);
      });
    }

    it("names no version in its Server header or its error pages", async () => {
      const r = await run("curl", ["-sk", "-D", "-", `https://${ADMIN}:5000/nothing-here`]);
      assert.match(r.stdout, /^Server: nginx\r?$/im, r.stdout);
      assert.doesNotMatch(r.stdout, /nginx\/\d/, r.stdout);
    });
  });

  describe("the registry backend", () => {
    /** Speaks HTTP to the registry's socket as `user` on the admin: the status line, or the error. */
    const direct = (user: string) =>
      site.lab.sh(
        "admin",
        `runuser -u ${user} -- python3 -c "
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect('/run/airgap-registry/registry.sock')
    s.sendall(b'GET /v2/ HTTP/1.0\\r\\nHost: r\\r\\n\\r\\n')
    print(s.recv(100).split(b'\\r\\n')[0].decode())
except OSError as e:
    print(type(e).__name__)
"`,
      );

    it("has no TCP port; its socket refuses a local unprivileged user, nginx's group passes", async () => {
      const tcp = await site.lab.sh("admin", "ss -Hltnp");
      assert.doesNotMatch(tcp, /docker-registry/, tcp);
      assert.equal((await site.lab.sh("admin", "stat -c '%a %U %G' /run/airgap-registry")).trim(), "2710 docker-registry www-data");
      assert.equal((await site.lab.sh("admin", "stat -c '%a %G' /run/airgap-registry/registry.sock")).trim(), "770 www-data");
      assert.equal((await direct("nobody")).trim(), "PermissionError");
      assert.match((await direct("www-data")).trim(), /^HTTP\/1\.[01] 200 /);
    });
  });

  describe("BIND", () => {
    it("refuses a zone transfer to a host that is not a secondary", async () => {
      for (const node of ["node1", "node2"]) {
        const out = await site.lab.sh(node, `dig +tries=1 +time=5 @${ADMIN} ${DOMAIN} AXFR || true`);
        assert.match(out, /Transfer failed|REFUSED/, out);
        assert.doesNotMatch(out, /\sSOA\s.*\n[\s\S]*\sSOA\s/, out);
      }
    });

    it("the role's primary zone lets a transfer through only with a secondary's address AND the key (a throwaway named on the admin)", async function () {
      this.timeout(120_000);
      // The role's own template, rendered for one zone whose "secondary" is the admin's site address.
      const rendered = await run("python3", [
        "-c",
        `import jinja2, json, sys
t = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined).from_string(open(sys.argv[1]).read())
print(t.render(**json.loads(sys.argv[2])))`,
        path.join(ROOT, "roles/bind/templates/named.conf.local.j2"),
        JSON.stringify({
          airgap_bind_is_primary: true,
          airgap_bind_secondaries: [ADMIN],
          airgap_bind_key_file: "/tmp/airgap-axfr/key.conf",
          airgap_bind_tsig_key_name: "airgap-transfer",
          airgap_bind_zones: [{ name: "axfr.test" }],
          airgap_bind_primary_zone_dir: "/tmp/airgap-axfr",
        }),
      ]);
      assert.equal(rendered.code, 0, rendered.stderr);
      assert.match(rendered.stdout, /allow-transfer \{ !\{ !10\.213\.0\.10; any; \}; key "airgap-transfer"; \};/, rendered.stdout);
      await site.lab.install("admin", "bind9-dnsutils");
      const setup = `set -e; rm -rf /tmp/airgap-axfr; mkdir /tmp/airgap-axfr; cd /tmp/airgap-axfr
tsig-keygen -a hmac-sha256 airgap-transfer > key.conf
printf '$TTL 60\n@ SOA ns.axfr.test. h.axfr.test. 1 60 60 600 60\n@ NS ns.axfr.test.\nns A 10.213.0.10\nsecret A 10.213.0.77\n' > db.axfr.test
cat > named.conf <<'CONF'
options { directory "/tmp/airgap-axfr"; pid-file "/tmp/airgap-axfr/named.pid"; listen-on port 5399 { 127.0.0.1; ${ADMIN}; }; listen-on-v6 { none; }; recursion no; allow-query { any; }; };
CONF
cat >> named.conf
named-checkconf named.conf
named -c /tmp/airgap-axfr/named.conf -g >/tmp/airgap-axfr/named.log 2>&1 </dev/null & echo $! > /tmp/airgap-axfr/pid; sleep 2`;
      const started = await site.lab.ssh("admin", setup, rendered.stdout);
      assert.equal(started.code, 0, started.stdout + started.stderr);
      const axfr = async (source: string, key: boolean) =>
        (await site.lab.ssh("admin", `dig -p 5399 -b ${source} @${ADMIN} ${key ? "-k /tmp/airgap-axfr/key.conf" : ""} axfr.test AXFR +tries=1 +time=5`)).stdout;
      try {
        const both = await axfr(ADMIN, true);
        assert.match(both, /^secret\.axfr\.test\.\s+60\s+IN\s+A\s+10\.213\.0\.77$/m, `address and key: ${both}`);
        for (const [source, key, what] of [[ADMIN, false, "the address without the key"], ["127.0.0.1", true, "the key from another address"]] as const) {
          const out = await axfr(source, key);
          assert.match(out, /Transfer failed/, `${what}: ${out}`);
          assert.doesNotMatch(out, /10\.213\.0\.77/, `${what}: ${out}`);
        }
      } finally {
        await site.lab.ssh("admin", "kill $(cat /tmp/airgap-axfr/pid) 2>/dev/null; sleep 1; rm -rf /tmp/airgap-axfr");
      }
    });

    it("says nothing about its version or its host name", async () => {
      for (const q of ["version.bind", "hostname.bind", "id.server"]) {
        const out = await site.lab.sh("node1", `dig +tries=1 +time=5 @${ADMIN} ${q} TXT CHAOS`);
        assert.doesNotMatch(out, /^[^;].*\sTXT\s+"/m, `${q}: ${out}`);
      }
      const conf = await site.lab.sh("admin", "named-checkconf -p");
      assert.match(conf, /version none;/);
      assert.match(conf, /hostname none;/);
    });

    it("limits the rate of identical answers to one client (truncated or dropped beyond it)", async function () {
      this.timeout(60_000);
      // 200 identical queries at once over UDP; the answers counted, and how many are truncated.
      const out = await site.lab.sh(
        "node1",
        `python3 -c "
import socket, struct, time
q = b''.join(bytes([len(p)]) + p.encode() for p in 'admin.${DOMAIN}'.split('.')) + b'\\x00' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
for i in range(200): s.sendto(struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + q, ('${ADMIN}', 53))
full = tc = 0
try:
    while True:
        d = s.recv(4096)
        if d[2] & 2: tc += 1
        else: full += 1
except socket.timeout: pass
print(full, tc)
"`,
      );
      const [full, tc] = out.trim().split(" ").map(Number);
      console.log(`      RRL: 200 identical queries -> ${full} full answers, ${tc} truncated`);
      assert.ok(full < 150, `full answers ${full}`);
      assert.ok(tc > 0, `truncated ${tc}`);
      // Over TCP, never limited.
      await new Promise((r) => setTimeout(r, 6000));
      assert.equal((await site.lab.sh("node1", `dig +tcp +short @${ADMIN} admin.${DOMAIN}`)).trim(), ADMIN);
    });
  });

  describe("the site CA's name constraints", () => {
    /** Signs a certificate with the site CA for `san`, in a temporary folder on the admin; prints its path. */
    const sign = (tag: string, cn: string, san: string) =>
      site.lab.sh(
        "admin",
        `set -e; d=$(mktemp -d /tmp/nc-${tag}.XXXX); cd $d
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj "/CN=${cn}" -out req.pem 2>/dev/null
printf 'subjectAltName=${san}\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext
openssl x509 -req -in req.pem -CA /etc/airgap/ca/ca.crt -CAkey /etc/airgap/ca/private/ca.key -set_serial 0x$(openssl rand -hex 8) -days 1 -extfile ext -out crt.pem 2>/dev/null
echo $d`,
      );
    const verify = (dir: string) => site.lab.ssh("admin", `openssl verify -CAfile /etc/airgap/ca/ca.crt ${dir}/crt.pem`);

    it("are critical and permit the site's domain and networks only", async () => {
      const text = await site.lab.sh("admin", "openssl x509 -in /etc/airgap/ca/ca.crt -noout -ext nameConstraints");
      assert.match(text, /X509v3 Name Constraints: critical/, text);
      assert.match(text, new RegExp(`DNS:${DOMAIN.replace(/\./g, "\\.")}`), text);
      assert.match(text, /IP:10\.213\.0\.0\/255\.255\.255\.0/, text);
      assert.match(text, /IP:10\.215\.0\.0\/255\.255\.255\.0/, text);
      const served = await site.lab.ssh("admin", "openssl verify -CAfile /etc/airgap/ca/ca.crt /etc/airgap/pki/registry.crt");
      assert.equal(served.code, 0, served.stdout + served.stderr);
    });

    it("a certificate it signs for a name or an address outside the site is refused; one inside is accepted", async () => {
      const inside = (await sign("in", `ok.${DOMAIN}`, `DNS:ok.${DOMAIN},IP:10.213.0.99`)).trim();
      const name = (await sign("name", "evil.example.org", "DNS:evil.example.org")).trim();
      const address = (await sign("ip", `ip.${DOMAIN}`, `DNS:ip.${DOMAIN},IP:192.0.2.10`)).trim();
      try {
        const ok = await verify(inside);
        assert.equal(ok.code, 0, ok.stdout + ok.stderr);
        for (const d of [name, address]) {
          const r = await verify(d);
          assert.notEqual(r.code, 0, r.stdout);
          assert.match(r.stdout + r.stderr, /permitted subtree violation/);
        }
        // A TLS client trusting the site CA (the system store, as every service client) refuses it too.
        const client = await site.lab.ssh(
          "admin",
          `cd ${name}; timeout 20 openssl s_server -quiet -accept 127.0.0.1:18443 -cert crt.pem -key key.pem -www </dev/null >/dev/null 2>&1 & srv=$!; sleep 1
python3 -c "
import socket, ssl
c = ssl.create_default_context()
try:
    with socket.create_connection(('127.0.0.1', 18443), timeout=5) as s, c.wrap_socket(s, server_hostname='evil.example.org'):
        print('ACCEPTED')
except ssl.SSLCertVerificationError as e:
    print('REFUSED', e.verify_message)
"; kill $srv 2>/dev/null; true`,
        );
        assert.match(client.stdout, /^REFUSED permitted subtree violation/m, client.stdout + client.stderr);
      } finally {
        await site.lab.ssh("admin", `rm -rf ${inside} ${name} ${address}`);
      }
    });
  });

  describe("the gateway's own input", () => {
    it("drops by default: a port open on gw is unreachable from a node, SSH from the controller's network works", async () => {
      const table = await site.lab.sh("gw", "nft list chain inet airgap_gateway input");
      assert.match(table, /type filter hook input priority filter; policy drop;/, table);
      assert.match(table, /ip saddr 10\.213\.0\.0\/24 tcp dport 22 ct state new accept/, table);
      const pid = (await site.lab.sh("gw", "timeout 60 python3 -m http.server 18080 --bind 0.0.0.0 </dev/null >/dev/null 2>&1 & echo $!; sleep 1")).trim();
      assert.match(pid, /^\d+$/);
      try {
        assert.equal((await site.lab.sh("gw", tcpProbe(GW_NODES, 18080))).trim(), "OPEN", "it listens (seen from gw itself)");
        const before = await counter(site, "input_dropped");
        assert.equal((await site.lab.sh("node1", tcpProbe(GW_NODES, 18080))).trim(), "TIMEOUT");
        assert.equal((await site.lab.sh("node1", tcpProbe(GW_NODES, 22))).trim(), "TIMEOUT", "no SSH to gw from the nodes");
        assert.ok((await counter(site, "input_dropped")) > before);
      } finally {
        await site.lab.ssh("gw", `kill ${pid} || true`);
      }
      // The controller (10.213.0.1, on "site") still reaches it over SSH: this very command.
      assert.equal((await site.lab.sh("gw", "echo ok")).trim(), "ok");
    });
  });

  describe("the APT archive key", () => {
    it("reached the nodes over SSH (the server's own key), never over the network", async () => {
      const server = await site.lab.sh("admin", "sha256sum < /var/lib/airgap/airgap-archive-keyring.asc");
      for (const node of ["node1", "node2", "gw"]) {
        assert.equal(await site.lab.sh(node, "sha256sum < /etc/apt/keyrings/airgap-archive-keyring.asc"), server, node);
        assert.match(await site.lab.sh(node, "cat /etc/apt/sources.list.d/airgap.sources"), /^Signed-By: \/etc\/apt\/keyrings\/airgap-archive-keyring\.asc$/m);
      }
      // Other tests probe the repository with curl and urllib; Ansible's own
      // fetches (get_url, uri) say "ansible-httpget": none from another host
      // may ask for the key (the admin checks what it serves, from itself).
      const asked = await site.lab.sh("admin", "grep -h 'airgap-archive-keyring' /var/log/nginx/airgap-repo.access.log | grep 'ansible-httpget' | grep -v '^10\\.213\\.0\\.10 ' || true");
      assert.equal(asked.trim(), "", asked);
    });
  });

  describe("second run", () => {
    it("changes nothing on any host (changed=0)", async function () {
      this.timeout(10 * 60_000);
      const second = await site.lab.playbook("hardening-run-2", "site.yml");
      phase("second run (site.yml, hardening)", second.ms);
      console.log(`      e2e recap, second run: ${formatRecap(second.recap)}`);
      assert.equal(second.code, 0, `log: ${second.log}\n${second.stdout.split("\n").slice(-40).join("\n")}`);
      assert.deepEqual([...second.recap.keys()].sort(), SITE_HOSTS);
      const lines = second.stdout.split("\n").filter((l) => /^changed: /.test(l) || /^TASK \[/.test(l));
      const culprits = lines.filter((l, i) => /^TASK/.test(l) && /^changed/.test(lines[i + 1] ?? ""));
      for (const [host, r] of second.recap) assert.equal(r.changed, 0, `${host} changed=${r.changed}: ${culprits.join(" | ")}`);
    });
  });
});
