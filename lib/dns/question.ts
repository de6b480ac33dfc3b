/**
 * Our own queries to upstream servers: the question in wire form, the query message, and the
 * checks a reply must pass before it is believed. A question the server received reaches the
 * forwarder as the bytes it came in (lowercased), so any label, type and class round-trips and
 * the reply's question is compared byte for byte; only names that start as text (page targets,
 * CNAME chains, the CLI) are encoded from text.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import dnsPacket, { type DecodedPacket } from "dns-packet";
import { encodeName, lowerAscii } from "./name.ts";
import { classCode, typeCode } from "./types.ts";
import { DEFAULT_UDP_PAYLOAD, HEADER, type Query, scanMessage, writeOpt } from "./wire.ts";

const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_CD = 0x0010;
const OPCODE_MASK = 0x7800;

/** The question of a query, in wire form. */
export interface Question {
  /** Uncompressed owner name, as sent. */
  name: Uint8Array;
  /** Numeric QTYPE. */
  qtype: number;
  /** Numeric QCLASS. */
  qclass: number;
}

/**
 * A question from text: `name` in presentation form (see `encodeName`), `qtype` and `qclass` as
 * mnemonics or numbers. Throws a RangeError for a bad name, type or class.
 */
export function question(
  name: string,
  qtype: string | number,
  qclass: string | number = "IN",
): Question {
  return { name: encodeName(name), qtype: typeCode(qtype), qclass: classCode(qclass) };
}

/**
 * The question of a query the server parsed (`request` its bytes), name lowercased: what the
 * forwarder asks upstream, with no text in between.
 */
export function questionOf(request: Uint8Array, query: Query): Question {
  // A copy, never `request.slice`: on a node Buffer (what node:dgram hands out) slice is a view,
  // and lowering it would change the question the client gets back. Length bytes are at most 63,
  // below the ASCII letters, so lowering every byte is safe.
  const name = new Uint8Array(request.subarray(HEADER, query.questionEnd - 4));
  for (let i = 0; i < name.length; i++) name[i] = lowerAscii(name[i]);
  return { name, qtype: query.qtype, qclass: query.qclass };
}

/** Parameters of {@linkcode buildQuery}. */
export interface QuerySpec {
  /** Message id. */
  id: number;
  /** The question. */
  question: Question;
  /** RD bit. */
  recursionDesired: boolean;
  /** EDNS0 DO bit. */
  dnssecOk: boolean;
  /** Set the CD bit (RFC 4035 §3.2.2: the client validates itself). */
  checkingDisabled?: boolean;
}

/** A standard query with one question and an EDNS0 OPT record advertising 1232 bytes. */
export function buildQuery(spec: QuerySpec): Uint8Array {
  const { id, question } = spec;
  const out = new Uint8Array(HEADER + question.name.length + 4 + 11);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = (spec.recursionDesired ? FLAG_RD : 0) >> 8;
  out[3] = spec.checkingDisabled ? FLAG_CD : 0;
  out[5] = 1; // QDCOUNT
  out[11] = 1; // ARCOUNT: the OPT record
  out.set(question.name, HEADER);
  let offset = HEADER + question.name.length;
  out[offset] = question.qtype >> 8;
  out[offset + 1] = question.qtype & 0xff;
  out[offset + 2] = question.qclass >> 8;
  out[offset + 3] = question.qclass & 0xff;
  offset += 4;
  writeOpt(out, offset, DEFAULT_UDP_PAYLOAD, 0, spec.dnssecOk);
  return out;
}

/** Whether the TC bit is set in a raw message (at least 4 bytes). */
export function isTruncated(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && (bytes[2] & (FLAG_TC >> 8)) !== 0;
}

/**
 * Checks that `bytes` answers our query: same id, QR=1, opcode QUERY, exactly our question (name
 * compared case-insensitively for ASCII letters, as 0x20 may change case), every record within
 * the message and decodable as a whole. Returns the decoded packet, or a short reason why the reply must be ignored.
 */
export function checkReply(
  bytes: Uint8Array,
  id: number,
  question: Question,
): { packet: DecodedPacket } | { ignored: string } {
  if (bytes.length < HEADER) return { ignored: "short message" };
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  if (u16(0) !== id) return { ignored: "id mismatch" };
  const flags = u16(2);
  if ((flags & FLAG_QR) === 0) return { ignored: "not a response" };
  if ((flags & OPCODE_MASK) !== 0) return { ignored: "opcode mismatch" };
  if (u16(4) !== 1) return { ignored: "question count mismatch" };
  const end = HEADER + question.name.length + 4;
  if (bytes.length < end) return { ignored: "question mismatch" };
  for (let i = 0; i < question.name.length; i++) {
    if (lowerAscii(bytes[HEADER + i]) !== lowerAscii(question.name[i])) {
      return { ignored: "question mismatch" };
    }
  }
  if (u16(end - 4) !== question.qtype || u16(end - 2) !== question.qclass) {
    return { ignored: "question mismatch" };
  }
  // dns-packet reads past the end of a record cut short instead of throwing; the scan does not.
  if (scanMessage(bytes) === null) return { ignored: "malformed" };
  try {
    // dns-packet wants a Buffer (it calls readUInt16BE); a Uint8Array view would throw.
    const packet = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { packet };
  } catch {
    return { ignored: "malformed" };
  }
}

/** RCODE of a raw message header (low 4 bits; extended RCODE bits are not considered). */
export function rcodeOf(bytes: Uint8Array): number {
  return bytes.length >= 4 ? bytes[3] & 0x0f : -1;
}
