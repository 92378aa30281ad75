/** IPv4 addresses and networks, as 32-bit unsigned numbers. */

export interface Cidr {
  base: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses a dotted IPv4 address; undefined when it is not one. */
export function parseIPv4(text: unknown): number | undefined {
  if (typeof text !== "string") return undefined;
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
}

/** Parses `a.b.c.d/n` with the host bits zero; undefined otherwise. */
export function parseCidr(text: unknown): Cidr | undefined {
  if (typeof text !== "string") return undefined;
  const m = text.match(/^([\d.]+)\/(\d{1,2})$/);
  if (!m) return undefined;
  const base = parseIPv4(m[1]);
  const prefix = Number(m[2]);
  if (base === undefined || prefix > 32) return undefined;
  if (((base & ~maskOf(prefix)) >>> 0) !== 0) return undefined;
  return { base, prefix };
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, address: number): boolean {
  return address >= c.base && address < c.base + size(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

/**
 * The in-addr.arpa zones that cover a network: one zone per octet boundary
 * (a /20 gives sixteen /24 zones; a /26 lives in its /24's zone).
 */
export function reverseZones(c: Cidr): string[] {
  const zonePrefix = c.prefix > 24 ? 24 : Math.max(8, Math.ceil(c.prefix / 8) * 8);
  const start = c.prefix > 24 ? c.base - (c.base % 256) : c.base;
  const count = c.prefix > 24 ? 1 : 2 ** (zonePrefix - c.prefix);
  const step = 2 ** (32 - zonePrefix);
  const zones: string[] = [];
  for (let i = 0; i < count; i++) zones.push(reverseZoneName(start + i * step, zonePrefix));
  return zones;
}

function reverseZoneName(base: number, prefix: number): string {
  const octets = formatIPv4(base).split(".").slice(0, prefix / 8);
  return `${octets.reverse().join(".")}.in-addr.arpa`;
}

/** The zone (among `zones`) holding the PTR record of `address`, and the record's name in it. */
export function ptrName(address: number): { full: string } {
  return { full: `${formatIPv4(address).split(".").reverse().join(".")}.in-addr.arpa` };
}
