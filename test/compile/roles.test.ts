/**
 * compile/roles.ts reads what each role under roles/ says about itself: its
 * platforms, its OS packages (airgap_<role>_packages) and the roles it
 * includes. Every role must say these plainly; a role that installs OS
 * packages names them only through its one package variable.
 */
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { emitRequirements, emitRoles } from "../../compile/emit/files.js";
import { readRole, ROLES_INDEX, withDependencies, writeRolesIndex } from "../../compile/roles.js";
import { ROOT } from "../helpers.js";

const ROLES = path.join(ROOT, "roles");
const roles = readdirSync(ROLES, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
/** Modules that install OS packages. */
const INSTALLERS = new Set(["package", "apt", "dnf", "yum"].flatMap((m) => [m, `ansible.builtin.${m}`]));

/** The `name` of every OS package install task in the role's task files. */
function installs(role: string): unknown[] {
  const found: unknown[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (INSTALLERS.has(k) && v && typeof v === "object" && "name" in v) found.push((v as { name: unknown }).name);
        else walk(v);
      }
    }
  };
  const dir = path.join(ROLES, role, "tasks");
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".yml"))) walk(parse(readFileSync(path.join(dir, f), "utf8")));
  return found;
}

/** Families a role supports, in Ansible's os_family words. */
function families(platforms: string[]): ("Debian" | "RedHat")[] {
  return [...(platforms.some((p) => p === "debian" || p === "ubuntu") ? ["Debian" as const] : []), ...(platforms.includes("rhel-family") ? ["RedHat" as const] : [])];
}

/** Supported families where a role that installs packages has none to install (said in its vars file). */
const NOTHING_TO_INSTALL: Record<string, string[]> = { repo_client: ["RedHat"] };

describe("roles: what each role says about itself (compile/roles.ts)", () => {
  it("finds the roles", () => {
    for (const r of ["nginx", "store", "registry", "repo_server", "pypi_server", "ca"]) assert.ok(roles.includes(r), r);
  });

  for (const name of roles) {
    describe(name, () => {
      it("parses, and declares the platforms it supports", () => {
        const info = readRole(name);
        assert.equal(info.name, name);
        assert.ok(info.platforms.length > 0);
        for (const d of info.dependencies) assert.ok(roles.includes(d), `${name} includes ${d}, which is not a role`);
      });

      it("installs OS packages only through airgap_<role>_packages, and lists them for each family it supports", () => {
        const info = readRole(name);
        const names = installs(name);
        const variable = `airgap_${name}_packages`;
        for (const n of names) assert.ok(typeof n === "string" && n.includes(variable), `${name} installs ${JSON.stringify(n)}, not through ${variable}`);
        if (names.length === 0) {
          assert.deepEqual(info.packages, { Debian: [], RedHat: [] }, `${name} installs nothing but lists packages`);
          return;
        }
        for (const family of families(info.platforms)) {
          if (NOTHING_TO_INSTALL[name]?.includes(family)) continue;
          assert.ok(info.packages[family].length > 0, `${name}: no ${variable} for ${family}`);
        }
      });
    });
  }

  it("holds what the roles need (the compile-side package table's rows, now in the roles)", () => {
    const has = (role: string, family: "Debian" | "RedHat", ...pkgs: string[]) => {
      for (const p of pkgs) assert.ok(readRole(role).packages[family].includes(p), `${role} ${family}: ${p}`);
    };
    has("ca_trust", "Debian", "ca-certificates");
    has("ca_trust", "RedHat", "ca-certificates");
    has("repo_client", "Debian", "python3-apt");
    has("repo_server", "Debian", "python3-apt", "apt-utils", "gnupg", "openssl");
    has("ca", "Debian", "python3-cryptography");
    has("gateway", "Debian", "nftables");
    has("pip_client", "Debian", "python3-pip", "python3-venv");
    has("pypi_server", "Debian", "python3-venv");
    has("registry", "Debian", "docker-registry", "apache2-utils", "skopeo", "python3-yaml");
    has("nginx", "Debian", "nginx");
    has("nginx", "RedHat", "nginx");
    for (const r of ["registry", "repo_server", "pypi_server"]) assert.ok(!readRole(r).packages.Debian.includes("nginx"), `${r} leaves nginx to the nginx role`);
  });

  it("says which roles run only on Debian and Ubuntu", () => {
    for (const r of ["registry", "repo_server", "pypi_server", "pip_client"]) assert.deepEqual(readRole(r).platforms, ["debian", "ubuntu"], r);
    for (const r of ["nginx", "ca", "bind", "chrony"]) assert.deepEqual(readRole(r).platforms, ["debian", "rhel-family", "ubuntu"], r);
  });

  it("knows the roles each role includes, and their closure", () => {
    for (const r of ["registry", "repo_server", "pypi_server"]) assert.deepEqual(readRole(r).dependencies, ["converge", "nginx", "store"], r);
    assert.deepEqual(readRole("nginx").dependencies, ["ca", "converge"]);
    for (const r of ["bind", "chrony", "gateway", "routes", "resolver", "ca_trust", "repo_client", "pip_client"]) assert.ok(readRole(r).dependencies.includes("converge"), r);
    assert.deepEqual(withDependencies(["registry"]), ["ca", "converge", "nginx", "registry", "store"]);
    const copied = [...emitRoles(["pypi_server"]).keys()];
    for (const f of ["roles/nginx/tasks/main.yml", "roles/nginx/files/nginx-check", "roles/store/files/airgap_store.py", "roles/ca/tasks/certificate.yml"]) {
      assert.ok(copied.includes(f), f);
    }
  });

  it("knows the collections each role calls modules of; requirements.yml lists those of the roles it copies", () => {
    assert.deepEqual(readRole("ca").collections, ["community.crypto"]);
    assert.deepEqual(readRole("gateway").collections, ["ansible.posix"]);
    assert.deepEqual(readRole("chrony").collections, []);
    // registry includes nginx, which includes ca: community.crypto comes with them.
    assert.match(emitRequirements(["registry"])!, /^collections:\n  - name: community\.crypto\n$/m);
    assert.match(emitRequirements(["gateway", "registry"])!, /^collections:\n  - name: ansible\.posix\n  - name: community\.crypto\n$/m);
    assert.equal(emitRequirements(["chrony"]), undefined);
  });

  describe("on a role written for the test", () => {
    let dir: string;
    const write = (rel: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    };
    beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "airgap-roles-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("reads platforms, packages (a family file wins over vars/main.yml), included roles and the collections of its modules", () => {
      write("demo/meta/main.yml", "galaxy_info:\n  platforms:\n    - {name: EL, versions: ['9']}\n    - {name: Debian, versions: [bookworm]}\ndependencies:\n  - role: base\n");
      write("demo/vars/main.yml", "airgap_demo_packages: [common]\n");
      write("demo/vars/Debian.yml", "airgap_demo_packages:\n  - deb-one\n  - deb-two\nother: x\n");
      write(
        "demo/tasks/main.yml",
        "- name: A block\n  block:\n    - name: In\n      ansible.builtin.include_role:\n        name: helper\n        tasks_from: x\n  always:\n    - name: Static\n      ansible.builtin.import_role: {name: other}\n" +
          "    - name: From a collection\n      community.general.ufw: {rule: allow}\n",
      );
      write("demo/handlers/main.yml", "- name: H\n  include_role:\n    name: fromhandler\n- name: Legacy\n  ansible.legacy.command: x\n- name: Posix\n  ansible.posix.sysctl: {name: a, value: b}\n");
      assert.deepEqual(readRole("demo", dir), {
        name: "demo",
        platforms: ["debian", "rhel-family"],
        packages: { Debian: ["deb-one", "deb-two"], RedHat: ["common"] },
        dependencies: ["base", "fromhandler", "helper", "other"],
        collections: ["ansible.posix", "community.general"],
      });
    });

    it("refuses a templated package list, an unknown platform and a templated role name", () => {
      write("a/meta/main.yml", "galaxy_info:\n  platforms: [{name: Debian}]\n");
      write("a/vars/Debian.yml", "airgap_a_packages: \"{{ x }}\"\n");
      assert.throws(() => readRole("a", dir), /role a: vars\/Debian.yml: airgap_a_packages must be a list of plain package names/);
      write("b/meta/main.yml", "galaxy_info:\n  platforms: [{name: Solaris}]\n");
      assert.throws(() => readRole("b", dir), /role b: meta\/main.yml: unknown platform "Solaris"/);
      write("c/meta/main.yml", "galaxy_info:\n  platforms: [{name: Debian}]\n");
      write("c/tasks/main.yml", "- include_role:\n    name: \"{{ which }}\"\n");
      assert.throws(() => readRole("c", dir), /role c: tasks\/main.yml: the role it names must be a plain role name/);
    });
  });
});

describe("roles: the build's index of what they say (roles-index.json)", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "airgap-roles-index-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("holds every shipped role, each as parsing its files says", () => {
    const index = JSON.parse(readFileSync(ROLES_INDEX, "utf8")) as Record<string, { digest: string; info: unknown }>;
    assert.deepEqual(Object.keys(index).sort(), roles);
    for (const name of roles) {
      // A copy outside roles/ is always parsed.
      cpSync(path.join(ROLES, name), path.join(dir, name), { recursive: true });
      assert.deepEqual(readRole(name, dir), index[name].info, name);
      assert.match(index[name].digest, /^[0-9a-f]{64}$/);
    }
  });

  it("is read only while the role's files hash as indexed: a role edited after the build is parsed again", () => {
    const built = path.join(dir, "built");
    cpSync(path.join(ROLES, "chrony"), path.join(built, "chrony"), { recursive: true });
    const file = path.join(dir, "index.json");
    assert.equal(writeRolesIndex(built, file), 1);
    // A marked index proves where an answer comes from.
    const index = JSON.parse(readFileSync(file, "utf8")) as Record<string, { info: { packages: { Debian: string[] } } }>;
    index.chrony.info.packages.Debian = ["from-the-index"];
    writeFileSync(file, JSON.stringify(index));
    const same = path.join(dir, "same");
    cpSync(built, same, { recursive: true });
    assert.deepEqual(readRole("chrony", same, file).packages.Debian, ["from-the-index"]);
    const edited = path.join(dir, "edited");
    cpSync(built, edited, { recursive: true });
    const vars = path.join(edited, "chrony/vars/Debian.yml");
    writeFileSync(vars, readFileSync(vars, "utf8").replace("  - chrony\n", "  - chrony\n  - chrony-extra\n"));
    assert.deepEqual(readRole("chrony", edited, file).packages.Debian, ["chrony", "chrony-extra"]);
  });
});

describe("roles: one TLS profile for every nginx server (roles/nginx)", () => {
  /** Every template of every role that declares an nginx listener. */
  const servers = roles.flatMap((r) => {
    const dir = path.join(ROLES, r, "templates");
    let files: string[] = [];
    try {
      files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(".j2"));
    } catch {
      return [];
    }
    return files.map((f) => ({ file: `${r}/templates/${f}`, text: readFileSync(path.join(dir, f), "utf8") })).filter((t) => /^\s*listen\s/m.test(t.text) && /^\s*server\s*\{/m.test(t.text));
  });

  it("finds the repository, registry and PyPI servers", () => {
    for (const f of ["repo_server/templates/airgap-repo.conf.j2", "registry/templates/airgap-registry.conf.j2", "pypi_server/templates/airgap-pypi.conf.j2"]) {
      assert.ok(servers.some((s) => s.file === f), f);
    }
  });

  for (const s of servers.length ? servers : [{ file: "none", text: "" }]) {
    it(`${s.file}: a TLS listener includes the shared profile and sets no protocol or suite of its own`, () => {
      if (/\bssl\b/.test(s.text.split("\n").filter((l) => /^\s*listen\s/.test(l)).join("\n"))) {
        assert.match(s.text, /^\s*include \{\{ airgap_nginx_tls_profile \}\};$/m);
      }
      assert.doesNotMatch(s.text, /^\s*(ssl_protocols|ssl_ciphers|ssl_prefer_server_ciphers|ssl_session_cache|server_tokens)\s/m);
    });
  }

  it("the profile offers TLS 1.2 with ECDHE and AEAD suites only, and TLS 1.3", () => {
    const d = parse(readFileSync(path.join(ROLES, "nginx/defaults/main.yml"), "utf8")) as Record<string, string[]>;
    assert.deepEqual(d.airgap_nginx_ssl_protocols, ["TLSv1.2", "TLSv1.3"]);
    for (const c of d.airgap_nginx_ssl_ciphers) assert.match(c, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/, c);
    const tpl = readFileSync(path.join(ROLES, "nginx/templates/tls.conf.j2"), "utf8");
    assert.match(tpl, /^ssl_ciphers \{\{ airgap_nginx_ssl_ciphers \| join\(':'\) \}\};$/m);
    assert.match(readFileSync(path.join(ROLES, "nginx/templates/hardening.conf.j2"), "utf8"), /^server_tokens off;$/m);
  });
});
