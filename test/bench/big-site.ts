/** A generated site for benchmarks and scale tests. */

/** A site with `n` hosts written out as literal objects, as a generator would. */
export function bigSite(n: number): string {
  const hosts: string[] = [
    `    { name: "admin", address: "10.40.0.10", os: "debian-12", roles: ["admin"] },`,
    `    { name: "admin2", address: "10.40.0.11", os: "debian-12", roles: ["admin"] },`,
  ];
  for (let i = 0; i < n - 2; i++) {
    const role = i < 3 ? `"control-plane", "etcd"` : `"worker"`;
    const addr = `10.41.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    hosts.push(`    { name: "node${i}", address: "${addr}", os: "${i % 2 ? "debian-12" : "ubuntu-24.04"}", arch: "amd64", roles: [${role}] },`);
  }
  return `import { defineSite, fromEnv } from "airgap";

export default defineSite({
  name: "bench",
  domain: "bench.internal",
  networks: [
    { name: "admin", cidr: "10.40.0.0/24" },
    { name: "nodes", cidr: "10.41.0.0/20" },
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
    kubespray: { version: "2.28.1", kubernetes: "1.32.8" },
  },
});
`;
}
