/**
 * Names of DNS record types, as the registry's records and traces use them.
 *
 * @module
 */

const NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  35: "NAPTR",
  39: "DNAME",
  43: "DS",
  46: "RRSIG",
  48: "DNSKEY",
  52: "TLSA",
  64: "SVCB",
  65: "HTTPS",
  255: "ANY",
  257: "CAA",
};
const NUMBERS = new Map(Object.entries(NAMES).map(([n, name]) => [name, Number(n)]));

/** The mnemonic of a type number, or its RFC 3597 form `TYPE<n>`. */
export function typeName(qtype: number): string {
  return NAMES[qtype] ?? `TYPE${qtype}`;
}

/** The number of a type mnemonic (`A`, `aaaa`, `TYPE65`), or undefined when unknown. */
export function typeNumber(name: string): number | undefined {
  const upper = name.toUpperCase();
  const known = NUMBERS.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  return m && Number(m[1]) <= 65535 ? Number(m[1]) : undefined;
}
