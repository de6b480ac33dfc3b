/**
 * Records of the original DJDNS page format: validation of `rtype` / `rdata` / `rttl` / `rclass`
 * and conversion into the data form the DNS encoder takes. Every check runs when a page is
 * loaded, so a bad record makes its page invalid instead of failing a query.
 *
 * @module
 */
import { checkHostName } from "./names.ts";
import { isIPv4, isIPv6 } from "../dns/ip.ts";

/** TTL a record gets when its page gives none (python-djdns used 1800 s; Go djdns 3600 s). */
export const DEFAULT_TTL = 1800;
/** Largest TTL accepted (RFC 2181 §8: 2^31 - 1). */
export const MAX_TTL = 2147483647;

/** Record types a page may hold. */
export const RECORD_TYPES = [
  "A",
  "AAAA",
  "CNAME",
  "MX",
  "TXT",
  "NS",
  "SRV",
  "CAA",
  "PTR",
  "SOA",
] as const;

/** One of {@linkcode RECORD_TYPES}. */
export type RecordType = typeof RECORD_TYPES[number];

/** MX data as the encoder takes it. */
export interface MxData {
  preference: number;
  exchange: string;
}
/** SRV data as the encoder takes it. */
export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}
/** CAA data as the encoder takes it. */
export interface CaaData {
  flags: number;
  tag: string;
  value: string;
}
/** SOA data as the encoder takes it. */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
/** The rdata of a record, in the form `dns-packet` encodes. */
export type RecordData = string | string[] | MxData | SrvData | CaaData | SoaData;

/** A validated record of a page branch. */
export interface PageRecord {
  /** Normalized `domain_name`, or null when the page gave none (the record answers any name the branch matches). */
  name: string | null;
  /** Record type. */
  type: RecordType;
  /** Class; only IN is served. */
  class: "IN";
  /** Time to live in seconds. */
  ttl: number;
  /** Rdata in encoder form. */
  data: RecordData;
}

function uint(value: unknown, max: number): number | undefined {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= max ? n : undefined;
}

function host(text: unknown, what: string): string {
  if (typeof text !== "string") throw new Error(`${what} must be a string`);
  const checked = checkHostName(text);
  if ("error" in checked) throw new Error(`${what}: ${checked.error}`);
  return checked.name;
}

// Splits text into DNS character-strings: each at most 255 octets of UTF-8.
function txtStrings(text: string): string[] {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= 255) return [text];
  const out: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + 255, bytes.length);
    while (end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--; // never split a code point
    out.push(new TextDecoder().decode(bytes.subarray(start, end)));
    start = end;
  }
  return out;
}

const CAA_TAG = /^[a-zA-Z0-9]{1,15}$/;
const MAX_TXT_BYTES = 4000;

/** Parses rdata of `type` from its page form. Throws an Error whose message says what is wrong. */
export function parseRdata(type: RecordType, rdata: unknown): RecordData {
  switch (type) {
    case "A":
      if (typeof rdata === "string" && isIPv4(rdata)) return rdata;
      throw new Error(`A rdata must be an IPv4 address, got ${JSON.stringify(rdata)}`);
    case "AAAA":
      if (typeof rdata === "string" && isIPv6(rdata)) return rdata.toLowerCase();
      throw new Error(`AAAA rdata must be an IPv6 address, got ${JSON.stringify(rdata)}`);
    case "CNAME":
    case "NS":
    case "PTR":
      return host(rdata, `${type} rdata`);
    case "TXT": {
      const list = typeof rdata === "string" ? [rdata] : rdata;
      if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === "string")) {
        throw new Error("TXT rdata must be a string or a non-empty list of strings");
      }
      const total = list.reduce((n, s) => n + new TextEncoder().encode(s).length, 0);
      if (total > MAX_TXT_BYTES) throw new Error(`TXT rdata longer than ${MAX_TXT_BYTES} bytes`);
      return list.flatMap(txtStrings);
    }
    case "MX": {
      const [pref, exchange] = typeof rdata === "string"
        ? rdata.trim().split(/\s+/)
        : [(rdata as MxData)?.preference, (rdata as MxData)?.exchange];
      const preference = uint(pref, 65535);
      if (preference === undefined) throw new Error("MX rdata must be 'PREFERENCE EXCHANGE'");
      return { preference, exchange: host(exchange, "MX exchange") };
    }
    case "SRV": {
      const f = typeof rdata === "string" ? rdata.trim().split(/\s+/) : [];
      const [priority, weight, port] = f.slice(0, 3).map((v) => uint(v, 65535));
      if (f.length !== 4 || priority === undefined || weight === undefined || port === undefined) {
        throw new Error("SRV rdata must be 'PRIORITY WEIGHT PORT TARGET'");
      }
      return { priority, weight, port, target: host(f[3], "SRV target") };
    }
    case "CAA": {
      const m = typeof rdata === "string" ? /^(\d+)\s+(\S+)\s+"?(.*?)"?$/.exec(rdata.trim()) : null;
      const flags = m ? uint(m[1], 255) : undefined;
      if (!m || flags === undefined || !CAA_TAG.test(m[2])) {
        throw new Error(`CAA rdata must be 'FLAGS TAG "VALUE"'`);
      }
      return { flags, tag: m[2].toLowerCase(), value: m[3] };
    }
    case "SOA": {
      const o = rdata as Record<string, unknown>;
      const f = typeof rdata === "string"
        ? rdata.trim().split(/\s+/)
        : Array.isArray(rdata)
        ? rdata
        : rdata && typeof rdata === "object"
        ? [o.mname, o.rname, o.serial, o.refresh, o.retry, o.expire, o.minimum]
        : [];
      const nums = f.slice(2).map((v) => uint(v, 4294967295));
      if (f.length !== 7 || nums.some((n) => n === undefined)) {
        throw new Error("SOA rdata must be 'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'");
      }
      const [serial, refresh, retry, expire, minimum] = nums as number[];
      return {
        mname: host(f[0], "SOA mname"),
        rname: host(f[1], "SOA rname"),
        serial,
        refresh,
        retry,
        expire,
        minimum,
      };
    }
  }
}

function isRecordType(t: string): t is RecordType {
  return (RECORD_TYPES as readonly string[]).includes(t);
}

/**
 * Validates one record of the original format (`domain_name`, `rtype` default A, `rclass` default
 * IN, `rttl` default {@linkcode DEFAULT_TTL}, `rdata`). Unknown keys are ignored, as the original
 * extensibility rules ask. Throws an Error naming the offending field.
 */
export function parseRecord(value: unknown): PageRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("record must be an object");
  }
  const r = value as Record<string, unknown>;
  const rtype = r.rtype === undefined ? "A" : r.rtype;
  if (typeof rtype !== "string" || !isRecordType(rtype.toUpperCase())) {
    throw new Error(
      `unsupported rtype ${JSON.stringify(rtype)} (use one of ${RECORD_TYPES.join(", ")})`,
    );
  }
  const type = rtype.toUpperCase() as RecordType;
  const rclass = r.rclass === undefined ? "IN" : r.rclass;
  if (typeof rclass !== "string" || rclass.toUpperCase() !== "IN") {
    throw new Error(`unsupported rclass ${JSON.stringify(rclass)} (only IN)`);
  }
  const ttl = r.rttl === undefined ? DEFAULT_TTL : uint(r.rttl, MAX_TTL);
  if (ttl === undefined) throw new Error(`rttl must be an integer from 0 to ${MAX_TTL}`);
  let name: string | null = null;
  if (r.domain_name !== undefined && r.domain_name !== null && r.domain_name !== "") {
    name = host(r.domain_name, "domain_name");
  }
  if (!("rdata" in r)) throw new Error("record has no rdata");
  return { name, type, class: "IN", ttl, data: parseRdata(type, r.rdata) };
}
