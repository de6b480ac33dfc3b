/**
 * Encoding of whole replies from record lists, for answers the server composes itself (registry
 * answers). Runs once per cache miss, never per cached answer; record encoding is delegated to
 * `dns-packet`.
 *
 * @module
 */
import dnsPacket from "dns-packet";
import type { Answer } from "../registry/resolver.ts";

/** Flag bits of the second header word that a composed reply sets. */
export interface ReplyFlags {
  /** Authoritative answer. */
  aa: boolean;
  /** Recursion available. */
  ra: boolean;
}

/**
 * Encodes a reply: header (QR, opcode QUERY, the given flags and rcode), the question exactly as
 * the request carried it (`question` is its raw bytes), then the sections.
 */
export function encodeReply(
  question: Uint8Array,
  rcode: number,
  flags: ReplyFlags,
  answers: readonly Answer[],
  authorities: readonly Answer[],
): Uint8Array {
  // dns-packet writes no compression pointers, so its sections can be spliced after our own
  // question bytes unchanged.
  const body = dnsPacket.encode({
    type: "response",
    id: 0,
    flags: (flags.aa ? 0x0400 : 0) | (flags.ra ? 0x0080 : 0) | (rcode & 0xf),
    questions: [],
    answers: answers as dnsPacket.Answer[],
    authorities: authorities as dnsPacket.Answer[],
  });
  const out = new Uint8Array(body.length + question.length);
  out.set(body.subarray(0, 12));
  out[5] = 1; // QDCOUNT
  out.set(question, 12);
  out.set(body.subarray(12), 12 + question.length);
  return out;
}
