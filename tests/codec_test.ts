import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { encodeName, nameText } from "../lib/dns/name.ts";
import {
  buildQuery,
  checkReply,
  isTruncated,
  question,
  questionOf,
  rcodeOf,
} from "../lib/dns/question.ts";
import { classCode, className, typeCode, typeName, typeNumber } from "../lib/dns/types.ts";
import { parseQuery } from "../lib/dns/wire.ts";
import { prng } from "./helpers/prng.ts";

const wire = (...labels: (string | number[])[]) =>
  Uint8Array.from([
    ...labels.flatMap((l) => {
      const b = typeof l === "string" ? [...new TextEncoder().encode(l)] : l;
      return [b.length, ...b];
    }),
    0,
  ]);

Deno.test("codec: names in text and on the wire", () => {
  assert.deepEqual(encodeName("www.Example.org."), wire("www", "Example", "org"));
  assert.deepEqual(encodeName("www.example.org"), wire("www", "example", "org"));
  assert.deepEqual(encodeName(""), Uint8Array.of(0));
  assert.deepEqual(encodeName("."), Uint8Array.of(0));
  // Escapes: a dot inside a label, a backslash, a byte.
  assert.deepEqual(encodeName("a\\.b.c"), wire("a.b", "c"));
  assert.deepEqual(encodeName("a\\\\b"), wire("a\\b"));
  assert.deepEqual(encodeName("\\000\\255x"), wire([0, 255, 0x78]));
  assert.equal(nameText(wire("a.b", "c")), "a\\.b.c");
  assert.equal(nameText(wire([0, 32, 255, 0x41])), "\\000\\032\\255A");
  assert.equal(nameText(Uint8Array.of(0)), "");
  for (const bad of ["a..b", ".a", "a\\", "\\256", `${"x".repeat(64)}.a`, "a.".repeat(128)]) {
    assert.throws(() => encodeName(bad), RangeError, bad);
  }
  assert.equal(
    encodeName(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`).length,
    255,
  );
});

Deno.test("codec: every wire name survives wire → text → wire (the registry's round trip)", () => {
  const rand = prng(8);
  for (let n = 0; n < 2000; n++) {
    const labels: number[][] = [];
    let size = 1;
    const count = Math.floor(rand() * 6);
    for (let i = 0; i < count; i++) {
      const len = 1 + Math.floor(rand() * 20);
      if (size + len + 1 > 255) break;
      labels.push(Array.from({ length: len }, () => Math.floor(rand() * 256)));
      size += len + 1;
    }
    const w = wire(...labels);
    assert.deepEqual(encodeName(nameText(w)), w);
    // The server's parse of the same name is the lowercased text.
    const msg = Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...w, 0, 1, 0, 1]);
    const parsed = parseQuery(msg);
    assert.ok(parsed.ok);
    const lowered = w.map((b) => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b));
    assert.equal(parsed.query.name, nameText(lowered));
  }
});

Deno.test("codec: questionOf hands over the question bytes lowercased, request untouched", () => {
  const q = dnsPacket.encode({
    id: 7,
    type: "query",
    questions: [{ name: "WwW.ExAmple.ORG", type: "UNKNOWN_65280" as "A", class: "CH" as "IN" }],
  } as dnsPacket.Packet);
  for (const request of [new Uint8Array(q), Buffer.from(q)]) {
    const before = new Uint8Array(request);
    const parsed = parseQuery(request);
    assert.ok(parsed.ok);
    const question = questionOf(request, parsed.query);
    assert.deepEqual(question, {
      name: wire("www", "example", "org"),
      qtype: 65280,
      qclass: 3,
    });
    assert.deepEqual(new Uint8Array(request), before, "the client's question keeps its case");
  }
});

Deno.test("codec: buildQuery makes the query dns-packet reads back", () => {
  const q = question("a\\.b.example", "TXT", "CH");
  const bytes = buildQuery({
    id: 0xbeef,
    question: q,
    recursionDesired: true,
    dnssecOk: true,
    checkingDisabled: true,
  });
  const p = dnsPacket.decode(Buffer.from(bytes));
  assert.equal(p.id, 0xbeef);
  assert.equal(p.flags! & 0x0110, 0x0110); // RD and CD
  assert.equal(p.questions?.[0].type, "TXT");
  assert.equal(p.questions?.[0].class, "CH");
  assert.deepEqual(bytes.subarray(12, 12 + q.name.length), q.name);
  const opt = p.additionals?.[0] as unknown as {
    type: string;
    udpPayloadSize: number;
    flags: number;
  };
  assert.equal(opt.type, "OPT");
  assert.equal(opt.udpPayloadSize, 1232);
  assert.equal(opt.flags & 0x8000, 0x8000); // DO
  const plain = buildQuery({ id: 1, question: q, recursionDesired: false, dnssecOk: false });
  assert.equal(plain[2] | plain[3], 0);
  assert.equal(new DataView(plain.buffer).getUint32(plain.length - 6) & 0x8000, 0);
});

Deno.test("codec: checkReply accepts only our answer", () => {
  const q = question("www.example.org", "A");
  const reply = (over: Partial<dnsPacket.Packet> & { qname?: string; qtype?: string } = {}) =>
    new Uint8Array(dnsPacket.encode({
      id: 42,
      type: "response",
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: over.qname ?? "www.example.org", type: over.qtype ?? "A", class: "IN" }],
      answers: [{ name: "www.example.org", type: "A", ttl: 60, data: "192.0.2.1" }],
      ...over,
    } as dnsPacket.Packet));
  const ok = checkReply(reply({ qname: "WWW.example.ORG" }), 42, q);
  assert.ok("packet" in ok, JSON.stringify(ok));
  assert.deepEqual(checkReply(reply(), 43, q), { ignored: "id mismatch" });
  assert.deepEqual(checkReply(reply({ type: "query" }), 42, q), { ignored: "not a response" });
  assert.deepEqual(checkReply(reply({ qname: "xxx.example.org" }), 42, q), {
    ignored: "question mismatch",
  });
  assert.deepEqual(checkReply(reply({ qtype: "AAAA" }), 42, q), { ignored: "question mismatch" });
  assert.deepEqual(checkReply(reply().subarray(0, 11), 42, q), { ignored: "short message" });
  // A record cut short: dns-packet would read past the end without a word; the scan refuses it.
  const cut = reply();
  assert.deepEqual(checkReply(cut.subarray(0, cut.length - 2), 42, q), { ignored: "malformed" });
  assert.deepEqual(checkReply(cut.subarray(0, cut.length - 12), 42, q), { ignored: "malformed" });
  const tc = reply();
  tc[2] |= 0x02;
  assert.equal(isTruncated(tc), true);
  assert.equal(isTruncated(reply()), false);
  assert.equal(rcodeOf(reply({ flags: 3 })), 3);
});

Deno.test("codec: one type and class table, agreeing with dns-packet", () => {
  for (let code = 1; code <= 65535; code++) {
    const name = typeName(code);
    if (name.startsWith("TYPE")) {
      if (code > 300 && code < 32768) code = 32767; // the unassigned middle: spot-checked below
      continue;
    }
    assert.equal(typeNumber(name), code, name);
    if (name === "SVCB" || name === "HTTPS") continue; // newer than dns-packet 5.6: UNKNOWN_64/65
    const encoded = dnsPacket.encode({
      questions: [{ name: ".", type: name, class: "IN" }],
    } as dnsPacket.Packet);
    assert.equal((encoded[13] << 8) | encoded[14], code, `dns-packet's ${name}`);
  }
  assert.equal(typeCode("aaaa"), 28);
  assert.equal(typeCode("TYPE65280"), 65280);
  assert.equal(typeCode("UNKNOWN_65280"), 65280);
  assert.equal(typeCode(1234), 1234);
  assert.equal(typeName(1234), "TYPE1234");
  for (const bad of ["NOPE", "TYPE65536", "TYPE", "", 0, 65536, 1.5]) {
    assert.throws(() => typeCode(bad), RangeError, String(bad));
  }
  assert.equal(classCode("IN"), 1);
  assert.equal(classCode("ch"), 3);
  assert.equal(classCode("CLASS42"), 42);
  assert.equal(className(255), "ANY");
  assert.equal(className(42), "CLASS42");
  assert.throws(() => classCode("XX"), RangeError);
});
