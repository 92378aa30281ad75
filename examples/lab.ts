// The lab of the end-to-end tests (test/lab/lab.sh, docs/lab.md): the admin
// host on the bridge agbr0, two nodes on agbr2 behind the gateway host gw,
// and no route out.
import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "lab",
  domain: "lab.airgap.internal",
  networks: [
    // The admin services, and the Ansible controller (the lab's bastion, 10.213.0.1).
    { name: "site", cidr: "10.213.0.0/24" },
    { name: "nodes", cidr: "10.215.0.0/24" },
  ],
  hosts: [
    { name: "admin", address: "10.213.0.10", os: "debian-12", roles: ["admin"] },
    {
      name: "gw",
      address: "10.213.0.2",
      interfaces: [{ network: "nodes", address: "10.215.0.1" }],
      os: "debian-12",
      roles: ["gateway"],
    },
    { name: "node1", address: "10.215.0.11", os: "debian-12", roles: ["control-plane", "etcd"] },
    { name: "node2", address: "10.215.0.12", os: "debian-12", roles: ["worker"] },
  ],
  // The services open their own flows (DNS, NTP, repos, registry from "nodes"
  // to the admin); anything else is declared here.
  flows: [{ from: "site", to: "nodes", protocol: "tcp", ports: [22], why: "Ansible over SSH from the controller" }],
  services: {
    repos: {
      on: "admin",
      // Clients the tests run on the nodes.
      packages: ["curl", "bind9-dnsutils", "skopeo"],
      // Never fetched from there: the test bundles it from a local mirror
      // (airgap bundle --files-from test/e2e/mirror).
      files: [
        {
          url: "https://files.example.org/airgap/lab/hello.txt",
          sha256: "ec869b1eafca8fbca25e24ef45114f6aae0b95e5069fb667e380990b5dba7c1e",
        },
      ],
    },
    ntp: { on: "admin" },
    // The real checksums are for real binaries the lab cannot fetch: a catalogue
    // derived from the shipped 2.30.0 one names small stand-in files (same URLs,
    // same Kubespray variables) that the test mirror holds (test/e2e/kubespray/standin.ts).
    kubespray: { version: "2.30.0", kubernetes: "1.32.8", catalogue: "../test/e2e/kubespray/kubespray-2.30.0-standin.json" },
    dns: { on: "admin" },
    pypi: {
      on: "admin",
      packages: ["airgap-lab-top"],
      // Tiny wheels the test writes before it bundles (test/bundle/make_wheels.py);
      // never an index: the lab has no way out, and neither has CI.
      source: { wheelhouse: "../test/e2e/wheelhouse" },
    },
    registry: {
      on: "admin",
      users: [
        { name: "pusher", password: fromEnv("AIRGAP_LAB_REGISTRY_PUSH_PASSWORD"), access: "push" },
        { name: "puller", password: fromEnv("AIRGAP_LAB_REGISTRY_PULL_PASSWORD"), access: "pull" },
      ],
      // Never public: while the test bundles, a throwaway registry serves
      // them on the bastion's loopback (test/e2e/upstream.ts).
      images: [
        "127.0.0.1:5917/airgap-lab/app-one:1.0",
        "127.0.0.1:5917/airgap-lab/app-two:1.0",
        "127.0.0.1:5917/airgap-lab/app-three:1.0",
      ],
    },
  },
});
