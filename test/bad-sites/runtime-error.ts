// A site file that throws while it runs.
import { defineSite } from "airgap";

function worker(i: number) {
  if (i > 1) throw new Error(`no room for worker ${i}`); // <- AG001
  return { name: `w${i}`, address: `10.20.0.${30 + i}`, os: "debian-12" as const, roles: ["worker" as const] };
}

export default defineSite({
  name: "runtime",
  domain: "runtime.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [1, 2].map(worker),
  services: {},
});
