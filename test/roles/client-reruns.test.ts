import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers.js";
import { tempDir } from "../bundle/helpers.js";

const PY = "/usr/bin/python3";
// Pipelining off: the module's file is then the interpreter's first argument, which names it.
const ANSIBLE_ENV = { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "0", ANSIBLE_INVENTORY_UNPARSED_WARNING: "0", ANSIBLE_ROLES_PATH: path.join(ROOT, "roles"), ANSIBLE_PIPELINING: "False" };

interface Run {
  status: number | null;
  out: string;
  changed: number;
  /** The module runs, one entry a start of the hosts' Python (AnsiballZ_<module>.py). */
  runs: string[];
}

/**
 * Writes `playbook` into `tmp`; the function returned runs it with
 * connection local, the variables it is given as extra variables, and the hosts' Python wrapped so that each
 * module run is counted (pipelining off: the module's file is the
 * interpreter's first argument).
 */
function player(tmp: string, playbook: string, env: Record<string, string> = {}) {
  writeFileSync(path.join(tmp, "play.yml"), playbook);
  const calls = path.join(tmp, "calls");
  const python = path.join(tmp, "python");
  writeFileSync(python, `#!/bin/sh\nbasename "\${1:-stdin}" >> ${calls}\nexec ${PY} "$@"\n`);
  chmodSync(python, 0o755);
  return (vars: Record<string, unknown>, extra: string[] = []): Run => {
    writeFileSync(path.join(tmp, "vars.json"), JSON.stringify({ ansible_python_interpreter: python, ...vars }));
    writeFileSync(calls, "");
    const r = spawnSync("ansible-playbook", ["-i", "localhost,", path.join(tmp, "play.yml"), "-e", `@${path.join(tmp, "vars.json")}`, ...extra], {
      encoding: "utf8",
      env: { ...ANSIBLE_ENV, ...env },
    });
    const recap = r.stdout.slice(r.stdout.lastIndexOf("PLAY RECAP"));
    const changed = Number(/changed=(\d+)/.exec(recap)?.[1] ?? NaN);
    const runs = readFileSync(calls, "utf8").split("\n").filter(Boolean);
    return { status: r.status, out: r.stdout + r.stderr, changed, runs };
  };
}

/** A play of `role` alone on this machine, with the facts the compiled plays gather. */
const rolePlay = (role: string) => `- hosts: localhost\n  connection: local\n  gather_facts: true\n  gather_subset: ["!all", "network"]\n  roles:\n    - role: ${role}\n`;

/** The result line of one task in ansible-playbook's output (changed, ok, skipping, failed). */
function outcome(out: string, task: string): string | undefined {
  const at = out.indexOf(`TASK [${task}]`);
  if (at < 0) return undefined;
  return /\n(changed|ok|skipping|failed|fatal): \[localhost\]/.exec(out.slice(at).split("\n\n")[0] + "\n\n")?.[1];
}

const rootWithAnsible = function (this: Mocha.Context) {
  if (spawnSync("ansible-playbook", ["--version"]).status !== 0) this.skip();
  // The roles make root's files (owner root): only root runs them.
  if (process.getuid?.() !== 0) this.skip();
};

/**
 * One suite's role on this machine: before the tests, `ready` may skip (a
 * tool missing), then a temporary folder is made and `prepare`d; `run`
 * plays the role with `vars` (exit 0 required); `converged` requires a
 * rerun that changes nothing in exactly the module runs `rerun` names, then
 * what `check` checks.
 */
function onThisMachine(o: {
  prefix: string;
  playbook: string;
  vars: (tmp: string) => Record<string, unknown>;
  rerun: string[];
  ready?: () => boolean;
  prepare: (tmp: string) => void;
  check?: (what: string) => void;
}) {
  let tmp = "";
  let play: ReturnType<typeof player>;
  before(function () {
    rootWithAnsible.call(this);
    if (o.ready && !o.ready()) this.skip();
    tmp = tempDir(o.prefix);
    o.prepare(tmp);
    play = player(tmp, o.playbook);
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  /** Plays the role (`extra`: more ansible-playbook arguments); it must exit 0. */
  const run = (what: string, extra: string[] = []) => {
    const r = play(o.vars(tmp), extra);
    assert.equal(r.status, 0, `${what}: ${r.out}`);
    return r;
  };
  const converged = (what: string) => {
    const r = run(what);
    assert.equal(r.changed, 0, `${what}: ${r.out}`);
    assert.deepEqual(r.runs.sort(), o.rerun, `${what}: ${r.out}`);
    o.check?.(what);
    return r;
  };
  return {
    /** The suite's temporary folder (set before the first test). */
    get tmp() {
      return tmp;
    },
    run,
    converged,
  };
}

/**
 * Issue 23 part 1: roles that every host runs (twice on a gateway) do fewer,
 * cheaper module runs on a converged host. Each role runs here by
 * ansible-playbook (connection local) with its files in a temporary folder:
 * the first run changes, the rerun changes nothing with the module runs
 * counted, and a broken state is still repaired.
 */
describe("ca_trust: a rerun looks once, and still repairs the trust store", function () {
  this.timeout(10 * 60_000);
  const cert = (dir: string, cn: string) => {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path.join(dir, "ca.key"), "-out", path.join(dir, "ca.crt"), "-subj", `/CN=${cn}`, "-days", "30"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(path.join(dir, "ca.crt"), "utf8");
  };
  const s = onThisMachine({
    prefix: "airgap-ca-trust-",
    playbook: rolePlay("ca_trust"),
    ready: () => existsSync("/usr/sbin/update-ca-certificates"),
    prepare: (tmp) => {
      for (const d of ["local", "etc", "share", "hooks"]) mkdirSync(path.join(tmp, d));
      writeFileSync(path.join(tmp, "ca-certificates.conf"), "");
      cert(path.join(tmp, "ca"), "lab airgap CA");
    },
    // The real update-ca-certificates, on folders of the test's own.
    vars: (tmp) => ({
      airgap_converge_packages_sound: true, // never repair this machine's dpkg state from a test
      airgap_ca_host: "localhost", // the compiler sets it for every host
      airgap_ca_trust_source: path.join(tmp, "ca/ca.crt"),
      airgap_ca_trust_name: "airgap-lab",
      airgap_ca_trust_anchors: path.join(tmp, "local"),
      airgap_ca_trust_bundle: path.join(tmp, "etc/ca-certificates.crt"),
      airgap_ca_trust_tool: "/usr/sbin/update-ca-certificates",
      airgap_ca_trust_update: [
        "update-ca-certificates",
        ...["--certsconf", path.join(tmp, "ca-certificates.conf"), "--certsdir", path.join(tmp, "share")],
        ...["--localcertsdir", path.join(tmp, "local"), "--etccertsdir", path.join(tmp, "etc"), "--hooksdir", path.join(tmp, "hooks")],
      ],
    }),
    // Facts, the CA read on its host, one look, the copy's stat and attributes.
    rerun: ["AnsiballZ_file.py", "AnsiballZ_find.py", "AnsiballZ_setup.py", "AnsiballZ_slurp.py", "AnsiballZ_stat.py"],
    check: (what) => assert.ok(readFileSync(bundle(), "utf8").includes(site()), `${what}: the bundle holds the site CA`),
  });
  const anchor = () => path.join(s.tmp, "local/airgap-lab.crt");
  const bundle = () => path.join(s.tmp, "etc/ca-certificates.crt");
  const site = () => readFileSync(path.join(s.tmp, "ca/ca.crt"), "utf8");

  it("installs the anchor and builds the bundle, then a rerun changes nothing in 5 module runs", () => {
    const dry = s.run("check mode first", ["--check"]);
    assert.equal(outcome(dry.out, "ca_trust : Install the CA certificate as a trust anchor"), "changed", dry.out);
    assert.ok(!existsSync(anchor()), "check mode writes nothing");
    const first = s.run("first run");
    assert.equal(outcome(first.out, "ca_trust : Install the CA certificate as a trust anchor"), "changed", first.out);
    assert.equal(outcome(first.out, "ca_trust : Update the system trust store"), "changed", first.out);
    assert.equal(outcome(first.out, "ca_trust : Install the trust store"), "skipping", first.out);
    assert.equal(readFileSync(anchor(), "utf8"), site());
    const r = s.converged("rerun");
    console.log(`      rerun: ${r.runs.length} module runs (${r.runs.join(", ")})`);
  });

  it("rebuilds a bundle that is gone or older than the anchor (a run stopped before the update), and nothing else", () => {
    for (const [what, breakIt] of [
      ["bundle removed", () => unlinkSync(bundle())],
      ["bundle older than the anchor", () => utimesSync(bundle(), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000))],
    ] as [string, () => void][]) {
      breakIt();
      const r = s.run(what);
      assert.equal(r.changed, 1, `${what}: ${r.out}`);
      assert.equal(outcome(r.out, "ca_trust : Update the system trust store"), "changed", `${what}: ${r.out}`);
      s.converged(`${what}, then a rerun`);
    }
  });

  it("puts back an anchor replaced by another certificate, and rebuilds the bundle without the other", () => {
    const other = cert(path.join(s.tmp, "other"), "another CA");
    writeFileSync(anchor(), other);
    const r = s.run("another anchor");
    assert.equal(r.changed, 2, r.out);
    assert.equal(readFileSync(anchor(), "utf8"), site());
    assert.ok(!readFileSync(bundle(), "utf8").includes(other), "the other certificate left the bundle");
    s.converged("then a rerun");
  });
});

describe("resolver: a rerun asks systemctl once (no service_facts), and still repairs resolv.conf", function () {
  this.timeout(10 * 60_000);
  const wanted = "search lab.airgap.internal\nnameserver 10.213.0.10\nnameserver 10.213.0.11\noptions timeout:2 attempts:2\n";
  const s = onThisMachine({
    prefix: "airgap-resolver-",
    playbook: rolePlay("resolver"),
    // Where systemd-resolved runs, the role would restart this machine's.
    ready: () => !/^active$/m.test(spawnSync("systemctl", ["is-active", "systemd-resolved.service", "NetworkManager.service"], { encoding: "utf8" }).stdout ?? ""),
    prepare: (tmp) => {
      mkdirSync(path.join(tmp, "dhclient-enter-hooks.d"));
      // As resolvconf leaves it: a link, which the role replaces with the file.
      writeFileSync(path.join(tmp, "elsewhere.conf"), "nameserver 192.0.2.1\n");
      symlinkSync(path.join(tmp, "elsewhere.conf"), path.join(tmp, "resolv.conf"));
    },
    vars: (tmp) => ({
      airgap_resolver_nameservers: ["10.213.0.10", "10.213.0.11"],
      airgap_resolver_search: ["lab.airgap.internal"],
      airgap_resolver_resolv_conf: path.join(tmp, "resolv.conf"),
      airgap_resolver_resolved_conf_dir: path.join(tmp, "resolved.conf.d"),
      airgap_resolver_dhclient_hooks_dir: path.join(tmp, "dhclient-enter-hooks.d"),
      airgap_resolver_networkmanager_conf_dir: path.join(tmp, "NetworkManager/conf.d"),
      airgap_converge_tool: path.join(tmp, "lib/airgap-applied"),
    }),
    // Facts, systemctl, the hooks' folder, the hook's and resolv.conf's stat and attributes.
    rerun: ["AnsiballZ_command.py", "AnsiballZ_file.py", "AnsiballZ_file.py", "AnsiballZ_setup.py", "AnsiballZ_stat.py", "AnsiballZ_stat.py", "AnsiballZ_stat.py"],
    check: (what) => assert.ok(readFileSync(resolvConf(), "utf8").endsWith(wanted), `${what}: ${readFileSync(resolvConf(), "utf8")}`),
  });
  const resolvConf = () => path.join(s.tmp, "resolv.conf");
  const hook = () => path.join(s.tmp, "dhclient-enter-hooks.d/airgap-resolver");

  it("writes resolv.conf over the link and the dhclient hook, then a rerun changes nothing in 7 module runs, none service_facts", () => {
    const first = s.run("first run");
    assert.equal(outcome(first.out, "resolver : Write /etc/resolv.conf"), "changed", first.out);
    assert.equal(outcome(first.out, "resolver : Stop dhclient from writing /etc/resolv.conf"), "changed", first.out);
    assert.equal(outcome(first.out, "resolver : Write the site's DNS servers and domain for systemd-resolved"), "skipping", first.out);
    assert.equal(outcome(first.out, "resolver : Stop NetworkManager from writing /etc/resolv.conf"), "skipping", first.out);
    assert.ok(!lstatSync(resolvConf()).isSymbolicLink(), "resolv.conf is a file");
    assert.equal(readFileSync(path.join(s.tmp, "elsewhere.conf"), "utf8"), "nameserver 192.0.2.1\n", "the link's target is left alone");
    assert.ok(existsSync(hook()));
    const r = s.converged("rerun");
    console.log(`      rerun: ${r.runs.length} module runs (${r.runs.join(", ")})`);
  });

  it("puts back a resolv.conf another tool rewrote and a hook removed", () => {
    writeFileSync(resolvConf(), "nameserver 192.0.2.53\n");
    unlinkSync(hook());
    const r = s.run("broken");
    assert.equal(r.changed, 2, r.out);
    assert.ok(existsSync(hook()));
    s.converged("then a rerun");
  });
});

/**
 * repo_client (every host) and repo_server (the admin, at every run) move the
 * host's original package sources aside the same way: `sources_aside` alone,
 * with the role's variables pointed at a temporary folder.
 */
for (const role of ["repo_client", "repo_server"]) {
  describe(`${role}: a rerun finds the original sources in one look, and still moves new ones aside`, function () {
    this.timeout(10 * 60_000);
    const s = onThisMachine({
      prefix: `airgap-${role}-`,
      playbook: `- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - name: Keep the original sources aside\n      ansible.builtin.include_role:\n        name: ${role}\n        tasks_from: sources_aside\n`,
      prepare: (tmp) => {
        const at = (f: string) => path.join(tmp, "apt", f);
        mkdirSync(at("sources.list.d/sub.list"), { recursive: true });
        writeFileSync(at("sources.list"), "deb http://deb.debian.org/debian bookworm main\n");
        writeFileSync(at("sources.list.d/debian.sources"), "Types: deb\n");
        writeFileSync(at("sources.list.d/extra.list"), "deb http://example.org/ x main\n");
        writeFileSync(at("sources.list.d/airgap.sources"), "Types: deb\nURIs: https://repo.lab.airgap.internal/debian\n");
        writeFileSync(at("sources.list.d/README"), "not a source\n");
        writeFileSync(at("other.list"), "not the main file\n");
      },
      vars: (tmp) => ({
        [`airgap_${role}_sources_dir`]: path.join(tmp, "apt/sources.list.d"),
        [`airgap_${role}_main_sources`]: path.join(tmp, "apt/sources.list"),
        [`airgap_${role}_sources_backup`]: path.join(tmp, "apt/airgap-original-sources"),
        ...(role === "repo_client"
          ? { airgap_repo_client_sources_file: path.join(tmp, "apt/sources.list.d/airgap.sources"), airgap_repo_client_sources_patterns: ["*.list", "*.sources"] }
          : {}),
      }),
      rerun: ["AnsiballZ_find.py"],
      check: () => assert.deepEqual(left(), ["README", "airgap.sources", "sub.list"]),
    });
    const d = (...p: string[]) => path.join(s.tmp, "apt", ...p);
    const left = () => readdirSync(d("sources.list.d")).sort();
    const aside = () => readdirSync(d("airgap-original-sources")).sort();

    it("moves the sources list and the other sources aside, keeps its own and what apt does not read, then a rerun is one find", () => {
      const dry = s.run("check mode first", ["--check"]);
      assert.equal(outcome(dry.out, `${role} : Create the folder for the original sources`), "changed", dry.out);
      assert.ok(existsSync(d("sources.list")) && !existsSync(d("airgap-original-sources")), "check mode moves nothing");
      const first = s.run("first run");
      assert.equal(first.changed, 2, first.out); // the folder, then one move task (three items)
      assert.deepEqual(aside(), ["debian.sources", "extra.list", "sources.list"]);
      assert.ok(existsSync(d("other.list")));
      const r = s.converged("rerun");
      console.log(`      rerun: ${r.runs.length} module runs (${r.runs.join(", ")})`);
    });

    it("moves what a package wrote since (a main file as a link too), numbering a name taken", () => {
      writeFileSync(d("sources.list.d/new.list"), "deb http://example.org/ y main\n");
      symlinkSync(d("other.list"), d("sources.list"));
      const r = s.run("new sources");
      assert.equal(outcome(r.out, `${role} : Create the folder for the original sources`), "ok", r.out);
      assert.equal(outcome(r.out, `${role} : Move the original sources aside`), "changed", r.out);
      assert.deepEqual(aside(), ["debian.sources", "extra.list", "new.list", "sources.list", "sources.list.~1~"]);
      assert.ok(lstatSync(d("airgap-original-sources/sources.list")).isSymbolicLink());
      s.converged("then a rerun");
    });
  });
}
