/**
 * Our outgoing query on the wire, and the checks a reply must pass before it is believed.
 * Encoded by hand rather than with dns-packet so that any numeric QTYPE/QCLASS round-trips and
 * the question can be compared byte for byte.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import dnsPacket, { type DecodedPacket } from "dns-packet";

/** EDNS0 UDP payload size we advertise (DNS flag day 2020 recommendation). */
export const EDNS_UDP_PAYLOAD = 1232;

const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_CD = 0x0010;
const OPCODE_MASK = 0x7800;
const TYPE_OPT = 41;
const EDNS_DO = 0x8000;

/** The question of a query, in wire form. */
export interface WireQuestion {
  /** Uncompressed owner name, as sent. */
  name: Uint8Array;
  /** Numeric QTYPE. */
  qtype: number;
  /** Numeric QCLASS. */
  qclass: number;
}

/**
 * Encodes `name` as uncompressed wire labels. Throws a RangeError for an empty label, a label over
 * 63 bytes or a name over 255 bytes. Backslash escapes are not interpreted.
 */
export function encodeName(name: string): Uint8Array {
  // Presentation format (RFC 1035 §5.1): `\.` is a dot inside a label, `\DDD` a byte, `\X` the
  // character X; other dots separate labels. The responder writes names this way, so a label that
  // holds a dot reaches the upstream as that one label.
  if (name === "" || name === ".") return Uint8Array.of(0);
  const labels: number[][] = [];
  let label: number[] = [];
  const bytes = new TextEncoder().encode(name);
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x2e) {
      if (i === bytes.length - 1 && label.length > 0) break; // the trailing dot of a full name
      labels.push(label);
      label = [];
    } else if (c === 0x5c) {
      const d = bytes.subarray(i + 1, i + 4);
      if (d.length === 3 && d.every((x) => x >= 0x30 && x <= 0x39)) {
        const v = (d[0] - 0x30) * 100 + (d[1] - 0x30) * 10 + (d[2] - 0x30);
        if (v > 255) throw new RangeError(`bad escape in name: ${name}`);
        label.push(v);
        i += 3;
      } else if (i + 1 < bytes.length) {
        label.push(bytes[++i]);
      } else {
        throw new RangeError(`dangling escape in name: ${name}`);
      }
    } else {
      label.push(c);
    }
  }
  labels.push(label); // empty only after a doubled dot or a lone "\." pair: refused below
  const length = labels.reduce((n, p) => n + 1 + p.length, 1);
  if (length > 255) throw new RangeError(`name too long: ${name}`);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of labels) {
    if (part.length === 0 || part.length > 63) throw new RangeError(`bad label in name: ${name}`);
    out[offset++] = part.length;
    out.set(part, offset);
    offset += part.length;
  }
  out[offset] = 0;
  return out;
}

/**
 * The numeric code of a QTYPE (`"A"`, `"UNKNOWN_65280"` or a number); throws a RangeError for an
 * unknown name or a value outside 1–65535.
 */
export function typeCode(qtype: string | number): number {
  const code = typeof qtype === "number" ? qtype : nameToCode(qtype, "type");
  if (!Number.isInteger(code) || code < 1 || code > 0xffff) {
    throw new RangeError(`bad query type: ${qtype}`);
  }
  return code;
}

/** The numeric code of a QCLASS (`"IN"`, `"CH"`, `"ANY"` … or a number); throws a RangeError. */
export function classCode(qclass: string | number): number {
  const code = typeof qclass === "number" ? qclass : nameToCode(qclass, "class");
  if (!Number.isInteger(code) || code < 1 || code > 0xffff) {
    throw new RangeError(`bad query class: ${qclass}`);
  }
  return code;
}

// dns-packet keeps its name tables private; encoding a one-question packet is the public way in.
function nameToCode(text: string, field: "type" | "class"): number {
  const match = /^(?:TYPE|CLASS|UNKNOWN_)(\d+)$/i.exec(text);
  if (match) return Number(match[1]);
  const bytes = dnsPacket.encode({
    questions: [{
      name: ".",
      type: field === "type" ? text : "A",
      class: field === "class" ? text : "IN",
    }],
  } as dnsPacket.Packet);
  return field === "type" ? (bytes[13] << 8) | bytes[14] : (bytes[15] << 8) | bytes[16];
}

/** Parameters of {@linkcode buildQuery}. */
export interface QuerySpec {
  /** Message id. */
  id: number;
  /** The question. */
  question: WireQuestion;
  /** RD bit. */
  recursionDesired: boolean;
  /** EDNS0 DO bit. */
  dnssecOk: boolean;
  /** Set the CD bit (RFC 4035 §3.2.2: the client validates itself). */
  checkingDisabled?: boolean;
}

/** A standard query with one question and an EDNS0 OPT record advertising {@link EDNS_UDP_PAYLOAD}. */
export function buildQuery(spec: QuerySpec): Uint8Array {
  const { id, question } = spec;
  const out = new Uint8Array(12 + question.name.length + 4 + 11);
  const view = new DataView(out.buffer);
  view.setUint16(0, id);
  view.setUint16(2, (spec.recursionDesired ? FLAG_RD : 0) | (spec.checkingDisabled ? FLAG_CD : 0));
  view.setUint16(4, 1); // QDCOUNT
  view.setUint16(10, 1); // ARCOUNT: the OPT record
  out.set(question.name, 12);
  let offset = 12 + question.name.length;
  view.setUint16(offset, question.qtype);
  view.setUint16(offset + 2, question.qclass);
  offset += 4;
  out[offset] = 0; // OPT owner: root
  view.setUint16(offset + 1, TYPE_OPT);
  view.setUint16(offset + 3, EDNS_UDP_PAYLOAD);
  view.setUint32(offset + 5, spec.dnssecOk ? EDNS_DO : 0); // ext-rcode 0, version 0, flags
  view.setUint16(offset + 9, 0); // RDLENGTH
  return out;
}

/** Whether the TC bit is set in a raw message (at least 4 bytes). */
export function isTruncated(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && (bytes[2] & (FLAG_TC >> 8)) !== 0;
}

/**
 * Checks that `bytes` answers our query: same id, QR=1, opcode QUERY, exactly our question (name
 * compared case-insensitively for ASCII letters, as 0x20 may change case) and decodable as a
 * whole. Returns the decoded packet, or a short reason why the reply must be ignored.
 */
export function checkReply(
  bytes: Uint8Array,
  id: number,
  question: WireQuestion,
): { packet: DecodedPacket } | { ignored: string } {
  if (bytes.length < 12) return { ignored: "short message" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== id) return { ignored: "id mismatch" };
  const flags = view.getUint16(2);
  if ((flags & FLAG_QR) === 0) return { ignored: "not a response" };
  if ((flags & OPCODE_MASK) !== 0) return { ignored: "opcode mismatch" };
  if (view.getUint16(4) !== 1) return { ignored: "question count mismatch" };
  const end = 12 + question.name.length + 4;
  if (bytes.length < end) return { ignored: "question mismatch" };
  for (let i = 0; i < question.name.length; i++) {
    if (lowerAscii(bytes[12 + i]) !== lowerAscii(question.name[i])) {
      return { ignored: "question mismatch" };
    }
  }
  const qtype = view.getUint16(end - 4);
  const qclass = view.getUint16(end - 2);
  if (qtype !== question.qtype || qclass !== question.qclass) {
    return { ignored: "question mismatch" };
  }
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

function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}
