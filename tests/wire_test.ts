import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";
import { errorReply, instantiate, parseQuery, RCODE, toTemplate } from "../lib/dns/wire.ts";
import { encodeReply } from "../lib/dns/message.ts";

function query(name: string, opts: { type?: string; edns?: boolean; id?: number } = {}) {
  return new Uint8Array(dnsPacket.encode({
    type: "query",
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: (opts.type ?? "A") as "A", class: "IN" }],
    additionals: opts.edns
      ? [
        {
          type: "OPT",
          name: ".",
          udpPayloadSize: 4096,
          flags: dnsPacket.DNSSEC_OK,
        } as dnsPacket.Answer,
      ]
      : [],
  }));
}

Deno.test("parseQuery reads id, flags, a normalized name and EDNS", () => {
  const p = parseQuery(query("WwW.Example.ORG", { type: "AAAA", edns: true }));
  assert.ok(p.ok);
  assert.equal(p.query.id, 4242);
  assert.equal(p.query.rd, true);
  assert.equal(p.query.name, "www.example.org");
  assert.equal(p.query.qtype, 28);
  assert.deepEqual(p.query.edns, { udpSize: 4096, version: 0, dnssecOk: true });
  // Same question in another case: same cache key.
  const q = parseQuery(query("www.example.org", { type: "AAAA", edns: true }));
  assert.ok(q.ok && q.query.key === p.query.key);
});

Deno.test("parseQuery escapes dots and odd bytes inside labels", () => {
  const buf = query("ab.c");
  buf[13] = 0x2e; // "a" → "."
  const p = parseQuery(buf);
  assert.ok(p.ok && p.query.name === "\\.b.c");
});

Deno.test("parseQuery refuses malformed messages with the right rcode", () => {
  const ok = query("a.b");
  assert.deepEqual(parseQuery(ok.subarray(0, 11)), {
    ok: false,
    rcode: -1,
    edns: false,
    dnssecOk: false,
    questionEnd: 12,
  });
  const response = ok.slice();
  response[2] |= 0x80;
  assert.equal((parseQuery(response) as { rcode: number }).rcode, -1);
  const notimp = ok.slice();
  notimp[2] |= 2 << 3;
  assert.equal((parseQuery(notimp) as { rcode: number }).rcode, RCODE.NOTIMP);
  const two = ok.slice();
  two[5] = 2;
  assert.equal((parseQuery(two) as { rcode: number }).rcode, RCODE.FORMERR);
  const trailing = new Uint8Array([...ok, 0]);
  assert.equal((parseQuery(trailing) as { rcode: number }).rcode, RCODE.FORMERR);
  const cut = ok.subarray(0, ok.length - 2);
  assert.equal((parseQuery(cut) as { rcode: number }).rcode, RCODE.FORMERR);
  const pointer = ok.slice();
  pointer[12] = 0xc0;
  assert.equal((parseQuery(pointer) as { rcode: number }).rcode, RCODE.FORMERR);
  const badvers = query("a.b", { edns: true });
  badvers[badvers.length - 5] = 1; // OPT version byte
  const bv = parseQuery(badvers);
  assert.ok(!bv.ok && bv.rcode === RCODE.BADVERS && bv.edns);
  // BADVERS keeps the question in the reply, with an OPT carrying the extended rcode.
  const reply = errorReply(badvers, bv.rcode, true, bv.questionEnd);
  const d = dnsPacket.decode(Buffer.from(reply));
  assert.equal(d.questions![0].name, "a.b");
  assert.equal(d.additionals![0].type, "OPT");
  assert.equal((d.additionals![0] as { extendedRcode?: number }).extendedRcode, 1);
});

Deno.test("a template becomes the reply: id, case, OPT and truncation", () => {
  const req = query("In.Root.Demo", { edns: true, id: 7 });
  const p = parseQuery(req);
  assert.ok(p.ok);
  const question = req.subarray(12, p.query.questionEnd);
  const bytes = encodeReply(question, "in.root.demo", 0, { aa: true, ra: true }, [
    { name: "in.root.demo", type: "A", class: "IN", ttl: 60, data: "1.2.3.4" },
  ], []);
  const t = toTemplate(bytes)!;
  const out = dnsPacket.decode(Buffer.from(instantiate(t, req, p.query, { limit: 1232, age: 10 })));
  assert.equal(out.id, 7);
  assert.equal(out.questions![0].name, "In.Root.Demo");
  assert.equal(out.flag_aa, true);
  assert.equal(out.flag_rd, true);
  assert.equal((out.answers![0] as { ttl: number }).ttl, 50);
  assert.equal(out.additionals![0].type, "OPT");
  const small = dnsPacket.decode(Buffer.from(instantiate(t, req, p.query, { limit: 40 })));
  assert.equal(small.flag_tc, true);
  assert.equal(small.answers!.length, 0);
  assert.equal(small.questions!.length, 1);
});

Deno.test("toTemplate strips a trailing OPT and refuses garbage", () => {
  const withOpt = new Uint8Array(dnsPacket.encode({
    type: "response",
    id: 1,
    questions: [{ name: "a.b", type: "A", class: "IN" }],
    answers: [{ name: "a.b", type: "A", class: "IN", ttl: 3, data: "1.1.1.1" }],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer],
  }));
  const t = toTemplate(withOpt)!;
  const d = dnsPacket.decode(Buffer.from(t.bytes));
  assert.equal(d.additionals!.length, 0);
  assert.equal(t.ttlOffsets.length, 1);
  assert.equal(toTemplate(withOpt.subarray(0, withOpt.length - 3)), null);
});

Deno.test("the cache key tells DO and CD apart (RFC 4035 §3.2.1, §3.2.2)", () => {
  const plain = parseQuery(query("a.b"));
  const withDo = parseQuery(query("a.b", { edns: true })); // the helper sets DO with EDNS
  const cdBytes = query("a.b");
  cdBytes[3] |= 0x10;
  const withCd = parseQuery(cdBytes);
  assert.ok(plain.ok && withDo.ok && withCd.ok);
  assert.equal(withCd.query.cd, true);
  const keys = new Set([plain.query.key, withDo.query.key, withCd.query.key]);
  assert.equal(keys.size, 3);
});
