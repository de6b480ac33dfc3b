/**
 * The DNS wire format on the request path, written out by hand because it runs for every
 * packet: parsing and checking a query (header, one question, EDNS0 OPT), and turning a stored
 * response template into the reply for one query (id, flags, the question's 0x20 case, OPT,
 * truncation, TTL decay). Pure functions over bytes; no I/O.
 *
 * @module
 */
import { BYTE_TEXT, lowerAscii } from "./name.ts";

/** DNS rcodes used by the server. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** TSIG: the server does not know the query's key (RFC 8945 §5.2.1). */
  NOTAUTH: 9,
  /** Extended rcode 16 (RFC 6891), carried partly in the OPT record. */
  BADVERS: 16,
} as const;

/** Smallest UDP payload every DNS client takes (RFC 1035). */
export const MIN_UDP_PAYLOAD = 512;
/** UDP payload size the server advertises and caps replies at by default (DNS flag day 2020). */
export const DEFAULT_UDP_PAYLOAD = 1232;

const TYPE_OPT = 41;
const TYPE_TSIG = 250;
/** Bytes of the message header; the question starts here. */
export const HEADER = 12;

/** The EDNS0 part of a query. */
export interface Edns {
  /** Requestor's UDP payload size (never below 512). */
  udpSize: number;
  /** EDNS version; only 0 is supported. */
  version: number;
  /** DNSSEC OK bit. */
  dnssecOk: boolean;
}

/** A checked query. */
export interface Query {
  id: number;
  /** Opcode (0 QUERY). */
  opcode: number;
  /** Recursion desired. */
  rd: boolean;
  /** Checking disabled. */
  cd: boolean;
  /** Query name in presentation form, lowercase, no trailing dot ("" for the root). */
  name: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question section (the question's bytes are `[12, questionEnd)`). */
  questionEnd: number;
  /** EDNS0, or null when the query carried no OPT record. */
  edns: Edns | null;
  /** Cache key of the question: lowercase wire name, type, class, and the DO and CD bits. */
  key: string;
}

/** Outcome of {@linkcode parseQuery}. */
export type ParseResult =
  | { ok: true; query: Query }
  /**
   * Answer with this rcode; `edns` says whether to include an OPT record (with the query's DO
   * bit, `dnssecOk`), `questionEnd` where the question ends when it parsed (12 when it did not),
   * so the reply can carry it.
   */
  | { ok: false; rcode: number; edns: boolean; dnssecOk: boolean; questionEnd: number }
  /** Not a query at all (too short, or a response): send nothing, which avoids reflection loops. */
  | { ok: false; rcode: -1; edns: false; dnssecOk: false; questionEnd: 12 };

const DROP = { ok: false, rcode: -1, edns: false, dnssecOk: false, questionEnd: HEADER } as const;

function fail(rcode: number, edns: Edns | null, questionEnd = HEADER): ParseResult {
  return { ok: false, rcode, edns: edns !== null, dnssecOk: edns?.dnssecOk ?? false, questionEnd };
}

function formerr(edns: Edns | null = null, questionEnd = HEADER): ParseResult {
  return fail(RCODE.FORMERR, edns, questionEnd);
}

// The question at offset 12: uncompressed labels (a pointer in a question is malformed), type
// and class. Returns the name as text, the cache key's name part and where it ends, or null.
function parseQuestion(buf: Uint8Array): { name: string; key: string; end: number } | null {
  let off = HEADER;
  let name = "";
  let key = "";
  let wireLen = 0;
  for (;;) {
    if (off >= buf.length) return null;
    const len = buf[off];
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63) return null;
    wireLen += len + 1;
    if (wireLen > 254 || off + 1 + len > buf.length) return null;
    if (name) name += ".";
    key += String.fromCharCode(len);
    for (let i = off + 1; i <= off + len; i++) {
      const c = lowerAscii(buf[i]);
      key += String.fromCharCode(c);
      name += BYTE_TEXT[c];
    }
    off += 1 + len;
  }
  if (off + 4 > buf.length) return null;
  return { name, key, end: off + 4 };
}

// True when the options of an OPT record's RDATA `[from, to)` each fit: code, length, data.
function optionsFit(buf: Uint8Array, from: number, to: number): boolean {
  let p = from;
  while (p < to) {
    if (p + 4 > to) return false;
    p += 4 + ((buf[p + 2] << 8) | buf[p + 3]);
  }
  return p === to;
}

/**
 * Parses and checks a query. Messages too short to carry a header, and responses (QR=1), are
 * dropped; anything else that is malformed gets FORMERR, other opcodes NOTIMP, EDNS versions
 * other than 0 BADVERS. Never throws.
 */
export function parseQuery(buf: Uint8Array): ParseResult {
  if (buf.length < HEADER) return DROP;
  const flags = (buf[2] << 8) | buf[3];
  if (flags & 0x8000) return DROP;
  const opcode = (flags >> 11) & 0xf;
  const qd = (buf[4] << 8) | buf[5];
  const an = (buf[6] << 8) | buf[7];
  const ns = (buf[8] << 8) | buf[9];
  const ar = (buf[10] << 8) | buf[11];
  if (opcode !== 0) {
    // NOTIFY, UPDATE, …: not implemented; the reply carries the question when it parsed.
    const q = qd === 1 ? parseQuestion(buf) : null;
    return fail(RCODE.NOTIMP, null, q?.end ?? HEADER);
  }
  if (qd !== 1 || an !== 0 || ns !== 0) return formerr();
  const q = parseQuestion(buf);
  if (q === null) return formerr();
  const { name, key } = q;
  let off = q.end;
  const qtype = (buf[off - 4] << 8) | buf[off - 3];
  const qclass = (buf[off - 2] << 8) | buf[off - 1];
  const questionEnd = off;

  // Additional section: at most one OPT (owner root, options that fit its RDATA); other
  // records are skipped, except TSIG: this server holds no keys, so a signed query gets NOTAUTH
  // (RFC 8945 §5.2.1) rather than an unsigned answer, and a TSIG that is not last is FORMERR.
  let edns: Edns | null = null;
  let tsig = false;
  for (let i = 0; i < ar; i++) {
    const start = off;
    off = skipName(buf, off);
    if (off < 0 || off + 10 > buf.length) return formerr(edns, questionEnd);
    const type = (buf[off] << 8) | buf[off + 1];
    const rdlen = (buf[off + 8] << 8) | buf[off + 9];
    if (off + 10 + rdlen > buf.length) return formerr(edns, questionEnd);
    if (type === TYPE_OPT) {
      if (edns !== null || buf[start] !== 0 || off !== start + 1) {
        return formerr(null, questionEnd);
      }
      edns = {
        udpSize: Math.max(MIN_UDP_PAYLOAD, (buf[off + 2] << 8) | buf[off + 3]),
        version: buf[off + 5],
        dnssecOk: (buf[off + 6] & 0x80) !== 0,
      };
      if (!optionsFit(buf, off + 10, off + 10 + rdlen)) return formerr(edns, questionEnd);
    } else if (type === TYPE_TSIG) {
      if (i !== ar - 1) return formerr(edns, questionEnd);
      tsig = true;
    }
    off += 10 + rdlen;
  }
  if (off !== buf.length) return formerr(edns, questionEnd);
  if (tsig) return fail(RCODE.NOTAUTH, edns, questionEnd);
  if (edns && edns.version !== 0) return fail(RCODE.BADVERS, edns, questionEnd);
  const query: Query = {
    id: (buf[0] << 8) | buf[1],
    opcode,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    name,
    qtype,
    qclass,
    questionEnd,
    edns,
    // DO and CD change what an upstream returns (RRSIGs; unvalidated data), so they are part of
    // the question as far as caching goes (RFC 4035 §3.2.1, §3.2.2).
    key: key +
      String.fromCharCode(
        qtype >> 8,
        qtype & 0xff,
        qclass >> 8,
        qclass & 0xff,
        (edns?.dnssecOk ? 1 : 0) | (flags & 0x0010 ? 2 : 0),
      ),
  };
  return { ok: true, query };
}

/** Returns the offset after a (possibly compressed) name at `off`, or -1 when malformed. */
export function skipName(buf: Uint8Array, off: number): number {
  for (let n = 0; n < 128; n++) {
    if (off >= buf.length) return -1;
    const len = buf[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    if (len > 63) return -1;
    off += 1 + len;
  }
  return -1;
}

/** Encodes an OPT record advertising `udpSize`, with the given extended rcode and DO bit. */
export function optRecord(udpSize: number, extRcode = 0, dnssecOk = false): Uint8Array {
  const out = new Uint8Array(11);
  writeOpt(out, 0, udpSize, extRcode, dnssecOk);
  return out;
}

/** Writes the 11 bytes of {@linkcode optRecord} into `out` at `at`. */
export function writeOpt(
  out: Uint8Array,
  at: number,
  udpSize: number,
  extRcode: number,
  dnssecOk: boolean,
): void {
  out[at] = 0; // owner: root
  out[at + 1] = 0;
  out[at + 2] = TYPE_OPT;
  out[at + 3] = udpSize >> 8;
  out[at + 4] = udpSize & 0xff;
  out[at + 5] = extRcode;
  out[at + 6] = 0; // version
  out[at + 7] = dnssecOk ? 0x80 : 0;
  out[at + 8] = 0;
  out[at + 9] = 0; // rdlength
  out[at + 10] = 0;
}

/**
 * Builds a reply with an rcode and no records (FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS) for
 * a message that may not have parsed: id, opcode and RD are copied from the request, and the
 * question `[12, questionEnd)` when it parsed. Keeping the question matters: stub resolvers that
 * match replies to queries (glibc's res_queriesmatch) drop a reply without it and time out
 * instead of seeing the rcode.
 */
export function errorReply(
  request: Uint8Array,
  rcode: number,
  edns: boolean,
  questionEnd = HEADER,
  dnssecOk = false,
): Uint8Array {
  const q = questionEnd > HEADER ? request.subarray(HEADER, questionEnd) : new Uint8Array(0);
  const out = new Uint8Array(HEADER + q.length + (edns ? 11 : 0));
  out[0] = request[0] ?? 0;
  out[1] = request[1] ?? 0;
  out[2] = 0x80 | ((request[2] ?? 0) & 0x79); // QR, opcode, RD
  out[3] = 0x80 | ((request[3] ?? 0) & 0x10) | (rcode & 0xf); // RA (callers may clear it), CD
  out[5] = q.length > 0 ? 1 : 0;
  out.set(q, HEADER);
  if (edns) {
    out[11] = 1;
    // RFC 3225 §3: the DO bit of the query is copied into the response.
    out.set(optRecord(DEFAULT_UDP_PAYLOAD, rcode >> 4, dnssecOk), HEADER + q.length);
  }
  return out;
}

/** A reply stored for reuse: a complete message without OPT, with where its TTLs sit. */
export interface Template {
  /** The message, id 0, question as encoded at store time. */
  bytes: Uint8Array;
  /** Offsets of the 32-bit TTL fields of every record. */
  ttlOffsets: number[];
}

/**
 * Locates every resource record of `msg`. Returns the TTL offsets and the offset and length
 * of an OPT record if the message has one as its last record (where resolvers put it), or null
 * when the message is malformed.
 */
export function scanMessage(
  msg: Uint8Array,
): { ttlOffsets: number[]; opt: { start: number; end: number } | null; optLast: boolean } | null {
  if (msg.length < HEADER) return null;
  const qd = (msg[4] << 8) | msg[5];
  const rrs = ((msg[6] << 8) | msg[7]) + ((msg[8] << 8) | msg[9]) + ((msg[10] << 8) | msg[11]);
  let off = HEADER;
  for (let i = 0; i < qd; i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 4 > msg.length) return null;
    off += 4;
  }
  const ttlOffsets: number[] = [];
  let opt: { start: number; end: number } | null = null;
  let optLast = false;
  for (let i = 0; i < rrs; i++) {
    const start = off;
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) return null;
    const type = (msg[off] << 8) | msg[off + 1];
    const end = off + 10 + ((msg[off + 8] << 8) | msg[off + 9]);
    if (end > msg.length) return null;
    if (type === TYPE_OPT) {
      opt = { start, end };
      optLast = i === rrs - 1;
    } else {
      ttlOffsets.push(off + 4);
    }
    off = end;
  }
  return { ttlOffsets, opt, optLast };
}

/**
 * Makes a {@linkcode Template} from a complete reply: removes its OPT record (each client gets
 * its own) and records the TTL positions. Returns null when the message is malformed or its OPT
 * is not the last record (removing it would shift compression targets).
 */
export function toTemplate(msg: Uint8Array): Template | null {
  const scan = scanMessage(msg);
  if (!scan) return null;
  let bytes = msg;
  if (scan.opt) {
    if (!scan.optLast) return null;
    bytes = msg.slice(0, scan.opt.start);
    const ar = ((bytes[10] << 8) | bytes[11]) - 1;
    bytes[10] = ar >> 8;
    bytes[11] = ar & 0xff;
  } else {
    bytes = msg.slice();
  }
  bytes[0] = 0;
  bytes[1] = 0;
  return { bytes, ttlOffsets: scan.ttlOffsets };
}

// Replies are carved out of shared slabs: `new Uint8Array(n)` costs a malloc'd backing store and
// an ArrayBuffer for the GC to sweep, about as much as the rest of a cache hit together. Slab
// space is never reused, so every reply keeps bytes of its own; it is a view whose byteOffset
// need not be 0, and a slab lives as long as any reply cut from it.
const SLAB_SIZE = 16 * 1024;
const SLAB_MAX_REPLY = 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;

function allocate(n: number): Uint8Array {
  if (n > SLAB_MAX_REPLY) return new Uint8Array(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7;
  return out;
}

/** How a template becomes the reply to one query. */
export interface ReplyOptions {
  /** Largest reply the transport carries: the UDP payload limit, or 65535 over TCP. */
  limit: number;
  /** Seconds to subtract from every TTL (time spent in a cache), or 0. */
  age?: number;
  /** UDP payload size to advertise in our OPT record. */
  udpSize?: number;
}

/**
 * Turns a template into the reply to `query` (whose raw bytes are `request`): the query's id,
 * its RD and CD bits, its question bytes (so the 0x20 case mix comes back as sent), an OPT
 * record when the query had one, aged TTLs, and TC=1 with an empty body when the reply would
 * exceed `limit`. The reply is a view into a shared slab (its `byteOffset` may be non-zero).
 */
export function instantiate(
  t: Template,
  request: Uint8Array,
  query: Query,
  opts: ReplyOptions,
): Uint8Array {
  const optLen = query.edns ? 11 : 0;
  const fits = t.bytes.length + optLen <= opts.limit;
  const bodyLen = fits ? t.bytes.length : query.questionEnd;
  const out = allocate(bodyLen + optLen);
  out.set(fits ? t.bytes : t.bytes.subarray(0, query.questionEnd));
  out[0] = request[0];
  out[1] = request[1];
  out[2] = (out[2] & ~0x01) | (request[2] & 0x01); // RD from the query
  out[3] = (out[3] & ~0x10) | (request[3] & 0x10); // CD from the query
  out.set(request.subarray(HEADER, query.questionEnd), HEADER);
  if (!fits) {
    out[2] |= 0x02; // TC
    out.fill(0, 6, 12);
  } else if (opts.age && opts.age > 0) {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (const o of t.ttlOffsets) {
      view.setUint32(o, Math.max(0, view.getUint32(o) - opts.age));
    }
  }
  if (query.edns) {
    writeOpt(out, bodyLen, opts.udpSize ?? DEFAULT_UDP_PAYLOAD, 0, query.edns.dnssecOk);
    const ar = ((out[10] << 8) | out[11]) + 1;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
  }
  return out;
}
