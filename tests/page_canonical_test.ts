/** Canonical encoding (RFC 8785), ids, decoding, and domain-separated signing. */
import { deepStrictEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import { sha256, verify } from "../lib/crypto/mod.ts";
import {
  approvalMessage,
  approve,
  approveCheckpoint,
  canonicalize,
  checkpointApprovalMessage,
  createCheckpoint,
  createPageLog,
  decodeObject,
  encodeObject,
  objectId,
  proposeEvent,
  verifyCheckpointApproval,
} from "../lib/page/mod.ts";
import { decodeCanonical } from "../lib/page/canonical.ts";
import { encodedSize } from "../lib/page/objects.ts";
import { genesisOf, key } from "./page_fixtures.ts";

Deno.test("canonical: RFC 8785 key order, numbers and strings", () => {
  // RFC 8785 §3.2.3 sorting example (UTF-16 code units), reduced.
  equal(
    canonicalize({
      "\u20ac": "Euro",
      "\r": "CR",
      "\ufb33": "Hebrew",
      "1": "One",
      "\ud83d\ude00": "Smiley",
      "\u0080": "Ctl",
      "\u00f6": "o",
    }),
    '{"\\r":"CR","1":"One","\u0080":"Ctl","\u00f6":"o","\u20ac":"Euro","\ud83d\ude00":"Smiley","\ufb33":"Hebrew"}',
  );
  // RFC 8785 §3.2.2.3 number forms.
  equal(
    canonicalize([1e21, 1e-7, -0, 0.1, 333333333.33333329, 4.5, 2e-3, 1e+30]),
    "[1e+21,1e-7,0,0.1,333333333.3333333,4.5,0.002,1e+30]",
  );
  equal(
    canonicalize({ b: [true, null, '\u001f"\\'], a: {} }),
    '{"a":{},"b":[true,null,"\\u001f\\"\\\\"]}',
  );
});

Deno.test("canonical: refuses what has no canonical form", () => {
  for (const bad of [NaN, Infinity, undefined, () => 1, "\ud800", { "\udc00": 1 }, new Date(0)]) {
    throws(() => canonicalize({ x: bad }), { code: "malformed" } as never);
  }
  throws(() => canonicalize(JSON.parse('{"__proto__":1}')), { code: "malformed" } as never);
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  throws(() => canonicalize(deep), { code: "malformed" } as never);
  throws(
    () => decodeCanonical(new Uint8Array([0xff, 0xfe]), 10, "x"),
    { code: "malformed" } as never,
  );
  throws(
    () => decodeCanonical(new TextEncoder().encode('{"a":1.0}'), 100, "x"),
    { code: "not-canonical" } as never,
  );
  throws(
    () => decodeCanonical(new TextEncoder().encode('{"a":1,"a":1}'), 100, "x"),
    { code: "not-canonical" } as never,
  );
});

Deno.test("objects: every kind round-trips through its canonical bytes with the same id", () => {
  const g = genesisOf(3);
  const log = createPageLog(g);
  const ev = proposeEvent(log.pageId, log.pageId, "DELETE", { path: ["branches", 0] });
  log.addEvent(ev);
  const a0 = approve(key(0).secretKey, ev);
  log.addApproval(a0);
  log.addApproval(approve(key(1).secretKey, ev));
  const cp = createCheckpoint(log);
  const objects = [g, ev, a0, cp, approveCheckpoint(key(0).secretKey, cp)];
  for (const o of objects) {
    const bytes = encodeObject(o);
    const back = decodeObject(bytes);
    deepStrictEqual(back, o);
    equal(objectId(back), objectId(o));
    equal(objectId(o), sha256(bytes).toHex());
    ok(Object.isFrozen(back));
  }
  equal(log.pageId, sha256(encodeObject(g)).toHex());
  throws(() => decodeObject(encodeObject(ev), "approval"), { code: "unknown-type" } as never);
});

Deno.test("signing: messages are domain-separated by kind and version", () => {
  const page = "11".repeat(32);
  const x = "22".repeat(32);
  const a = approvalMessage(page, x, x);
  const c = checkpointApprovalMessage(page, x);
  equal(new TextDecoder().decode(a.slice(0, 18)), "djdns/approval/v1\0");
  equal(new TextDecoder().decode(c.slice(0, 29)), "djdns/checkpoint-approval/v1\0");
  notEqual(a.length, c.length);
  // A checkpoint approval's signature cannot pass as an event approval of the same id.
  const g = genesisOf(3);
  const log = createPageLog(g);
  const ev = proposeEvent(log.pageId, log.pageId, "DELETE", { path: ["meta"] });
  const ca = approveCheckpoint(key(0).secretKey, { ...cpOf(log), event: objectId(ev) } as never);
  ok(verifyCheckpointApproval(ca));
  const asEvent = {
    type: "approval" as const,
    v: 1 as const,
    page: log.pageId,
    parent: log.pageId,
    event: ca.checkpoint,
    key: ca.key,
    sig: ca.sig,
  };
  equal(
    verify(
      key(0).publicKey,
      approvalMessage(asEvent.page, asEvent.parent, asEvent.event),
      Uint8Array.fromHex(ca.sig),
    ),
    false,
  );
  throws(() => log.addApproval(asEvent), { code: "bad-signature" } as never);
});

function cpOf(log: ReturnType<typeof createPageLog>) {
  return {
    type: "checkpoint",
    v: 1,
    page: log.pageId,
    prev: null,
    event: log.pageId,
    height: 1,
    stateHash: "00".repeat(32),
    governance: log.state().governance,
  };
}

Deno.test("canonical: encodedSize is the length of the canonical bytes, ASCII or not", () => {
  const page = "ab".repeat(32);
  for (const about of ["plain", "é → 𝄞 ünïcode"]) {
    const ev = proposeEvent(page, page, "SET", { path: ["meta"], value: { about } });
    equal(encodedSize(ev), encodeObject(ev).length);
  }
});
