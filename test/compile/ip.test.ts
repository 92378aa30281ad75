import assert from "node:assert/strict";
import { contains, formatCidr, overlaps, parseCidr, parseIPv4, reverseZones } from "../../compile/model/ip.js";

describe("ip", () => {
  it("parses IPv4 addresses and refuses others", () => {
    assert.equal(parseIPv4("10.20.0.1"), 0x0a140001);
    for (const bad of ["10.20.0", "10.20.0.256", "010.1.1.1", "a.b.c.d", "1.2.3.4 ", ""]) assert.equal(parseIPv4(bad), undefined, bad);
  });

  it("parses CIDRs with zero host bits only", () => {
    assert.equal(formatCidr(parseCidr("10.20.0.0/24")!), "10.20.0.0/24");
    assert.equal(parseCidr("10.20.0.1/24"), undefined);
    assert.equal(parseCidr("10.20.0.0/33"), undefined);
    assert.equal(parseCidr("10.20.0.0"), undefined);
  });

  it("tells containment and overlap", () => {
    const a = parseCidr("10.20.0.0/16")!;
    const b = parseCidr("10.20.5.0/24")!;
    const c = parseCidr("10.21.0.0/24")!;
    assert.ok(contains(a, parseIPv4("10.20.255.255")!));
    assert.ok(!contains(b, parseIPv4("10.20.6.1")!));
    assert.ok(overlaps(a, b) && overlaps(b, a));
    assert.ok(!overlaps(a, c));
  });

  it("derives the reverse zones covering a network", () => {
    assert.deepEqual(reverseZones(parseCidr("10.20.0.0/24")!), ["0.20.10.in-addr.arpa"]);
    assert.deepEqual(reverseZones(parseCidr("10.20.0.0/16")!), ["20.10.in-addr.arpa"]);
    assert.deepEqual(reverseZones(parseCidr("10.20.4.0/23")!), ["4.20.10.in-addr.arpa", "5.20.10.in-addr.arpa"]);
    assert.deepEqual(reverseZones(parseCidr("10.20.0.64/26")!), ["0.20.10.in-addr.arpa"]);
  });
});
