/** A generated site for benchmarks and scale tests. */

/**
 * A site with `n` hosts (at least 3) written out as literal objects, as a
 * generator would: two admin hosts on the admin network, the nodes on their
 * own network, and the site's router between them (each network names its
 * address there: the services' flows cross it, AG118 without it). A valid
 * site at every size: `npm test` compiles a small one (bench.test.ts).
 */
export function bigSite(n: number): string {
  // An odd number of etcd members at every size.
  const members = n - 2 >= 3 ? 3 : 1;
  const hosts: string[] = [
    `    { name: "admin", address: "10.40.0.10", os: "debian-12", roles: ["admin"] },`,
    `    { name: "admin2", address: "10.40.0.11", os: "debian-12", roles: ["admin"] },`,
  ];
  for (let i = 0; i < n - 2; i++) {
    // The last node is a worker at every size (a cluster needs one, AG142).
    const role = i < members && i < n - 3 ? `"control-plane", "etcd"` : i < members ? `"control-plane", "etcd", "worker"` : `"worker"`;
    // .1 of the node network is the router.
    const addr = `10.41.${Math.floor(i / 250)}.${(i % 250) + 2}`;
    hosts.push(`    { name: "node${i}", address: "${addr}", os: "${i % 2 ? "debian-12" : "ubuntu-24.04"}", arch: "amd64", roles: [${role}] },`);
  }
  return `import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "bench",
  domain: "bench.internal",
  networks: [
    { name: "admin", cidr: "10.40.0.0/24", gateway: "10.40.0.1" },
    { name: "nodes", cidr: "10.41.0.0/20", gateway: "10.41.0.1" },
  ],
  hosts: [
${hosts.join("\n")}
  ],
  services: {
    ntp: { on: ["admin", "admin2"] },
    dns: { on: ["admin", "admin2"], records: [{ name: "gitlab", type: "A", value: "10.40.0.50" }] },
    repos: { on: "admin", packages: ["curl"] },
    registry: {
      on: "admin",
      users: [
        { name: "push", password: fromEnv("PUSH"), access: "push" },
        { name: "pull", password: fromEnv("PULL"), access: "pull" },
      ],
    },
    pypi: { on: "admin" },
    kubespray: { version: "2.30.0", kubernetes: "1.32.8" },
  },
});
`;
}
