/**
 * Names and numbers of DNS record types and classes: the one table the server, the forwarder,
 * the registry and the CLI use. The mnemonics are dns-packet's (which encodes and decodes record
 * data by them), so a name read here and a record decoded there agree.
 *
 * @module
 */

const TYPES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  10: "NULL",
  12: "PTR",
  13: "HINFO",
  15: "MX",
  16: "TXT",
  17: "RP",
  18: "AFSDB",
  24: "SIG",
  25: "KEY",
  28: "AAAA",
  29: "LOC",
  33: "SRV",
  35: "NAPTR",
  36: "KX",
  37: "CERT",
  39: "DNAME",
  41: "OPT",
  42: "APL",
  43: "DS",
  44: "SSHFP",
  45: "IPSECKEY",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  49: "DHCID",
  50: "NSEC3",
  51: "NSEC3PARAM",
  52: "TLSA",
  55: "HIP",
  59: "CDS",
  60: "CDNSKEY",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  249: "TKEY",
  250: "TSIG",
  251: "IXFR",
  252: "AXFR",
  255: "ANY",
  257: "CAA",
  32768: "TA",
  32769: "DLV",
};
const CLASSES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY" };

const invert = (table: Record<number, string>) =>
  new Map(Object.entries(table).map(([n, name]) => [name, Number(n)]));
const TYPE_NUMBERS = invert(TYPES);
const CLASS_NUMBERS = invert(CLASSES);

/** The mnemonic of a type number, or its RFC 3597 form `TYPE<n>`. */
export function typeName(qtype: number): string {
  return TYPES[qtype] ?? `TYPE${qtype}`;
}

/** The mnemonic of a class number, or its RFC 3597 form `CLASS<n>`. */
export function className(qclass: number): string {
  return CLASSES[qclass] ?? `CLASS${qclass}`;
}

// `TYPE65280` (RFC 3597) and dns-packet's `UNKNOWN_65280` both name a number.
function lookup(name: string, table: Map<string, number>, generic: RegExp): number | undefined {
  const upper = name.toUpperCase();
  const known = table.get(upper);
  if (known !== undefined) return known;
  const m = generic.exec(upper);
  return m && Number(m[1]) <= 65535 ? Number(m[1]) : undefined;
}

/** The number of a type mnemonic (`A`, `aaaa`, `TYPE65`), or undefined when unknown. */
export function typeNumber(name: string): number | undefined {
  return lookup(name, TYPE_NUMBERS, /^(?:TYPE|UNKNOWN_)(\d{1,5})$/);
}

/** The number of a class mnemonic (`IN`, `CH`, `CLASS3`), or undefined when unknown. */
export function classNumber(name: string): number | undefined {
  return lookup(name, CLASS_NUMBERS, /^(?:CLASS|UNKNOWN_)(\d{1,5})$/);
}

function code(value: string | number, what: "type" | "class"): number {
  const n = typeof value === "number"
    ? value
    : (what === "type" ? typeNumber(value) : classNumber(value));
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 0xffff) {
    throw new RangeError(`bad query ${what}: ${value}`);
  }
  return n;
}

/** A QTYPE as a number (`"A"`, `"TYPE65280"` or a number); a RangeError when unknown or not 1–65535. */
export function typeCode(qtype: string | number): number {
  return code(qtype, "type");
}

/** A QCLASS as a number (`"IN"`, `"CH"`, `"ANY"` or a number); a RangeError as for types. */
export function classCode(qclass: string | number): number {
  return code(qclass, "class");
}
