/**
 * Encoding of whole replies from record lists, for answers the server composes itself (registry
 * answers). Runs once per cache miss, never per cached answer; record encoding is delegated to
 * `dns-packet`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";

/**
 * A resource record in the form the encoder (dns-packet) takes: what the registry resolver
 * answers with and what a decoded upstream reply holds. `type` is a mnemonic of `types.ts`.
 */
export interface Answer {
  name: string;
  type: string;
  class: "IN";
  ttl: number;
  /** Record data in dns-packet's form for `type` (a string, a list, or an object). */
  data: unknown;
}

/** Flag bits of the second header word that a composed reply sets. */
export interface ReplyFlags {
  /** Authoritative answer. */
  aa: boolean;
  /** Recursion available. */
  ra: boolean;
}

// dns-packet's per-record codec (exported at runtime, absent from its type declarations).
const rr = (dnsPacket as unknown as {
  answer: { encode(a: dnsPacket.Answer): Buffer };
}).answer;

// A record owned by the question's name points back at the question (offset 12) instead of
// spelling the name again: shorter, and exact even for names dns-packet cannot spell (a label
// holding a dot or odd bytes, which the responder keeps only in escaped text form).
function encodeRecord(a: Answer, qname: string): Uint8Array {
  if (a.name !== qname) return rr.encode(a as dnsPacket.Answer);
  const body = rr.encode({ ...a, name: "x" } as dnsPacket.Answer); // 1 'x' 0, then the fields
  const out = new Uint8Array(body.length - 1);
  out[0] = 0xc0;
  out[1] = 0x0c;
  out.set(body.subarray(3), 2);
  return out;
}

/**
 * Encodes a reply: header (QR, opcode QUERY, the given flags and rcode), the question exactly as
 * the request carried it (`question` is its raw bytes, `qname` its normalized text), then the
 * sections.
 */
export function encodeReply(
  question: Uint8Array,
  qname: string,
  rcode: number,
  flags: ReplyFlags,
  answers: readonly Answer[],
  authorities: readonly Answer[],
): Uint8Array {
  const records = [...answers, ...authorities].map((a) => encodeRecord(a, qname));
  const out = new Uint8Array(12 + question.length + records.reduce((n, r) => n + r.length, 0));
  out[2] = 0x80;
  out[3] = (flags.ra ? 0x80 : 0) | (rcode & 0xf);
  if (flags.aa) out[2] |= 0x04;
  out[5] = 1; // QDCOUNT
  out[6] = answers.length >> 8;
  out[7] = answers.length & 0xff;
  out[8] = authorities.length >> 8;
  out[9] = authorities.length & 0xff;
  out.set(question, 12);
  let off = 12 + question.length;
  for (const r of records) {
    out.set(r, off);
    off += r.length;
  }
  return out;
}
