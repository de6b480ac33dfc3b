/**
 * Hostile input: every refusal names a specific error code and leaves the page log exactly as it
 * was (head, state hash, statuses, held approvals).
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { sign } from "../lib/crypto/mod.ts";
import {
  approvalMessage,
  approve,
  checkObject,
  createPageLog,
  decodeObject,
  encodeObject,
  MAX_EVENT_BYTES,
  objectId,
  type PageEvent,
  type PageLog,
  proposeEvent,
  SignedPageError,
  type SignedPageErrorCode,
} from "../lib/page/mod.ts";
import { branch, genesisOf, key } from "./page_fixtures.ts";

function snapshot(log: PageLog, ids: string[]) {
  return {
    head: log.head(),
    hash: log.stateHash(),
    status: ids.map((id) => log.status(id)),
    approvals: ids.map((id) => log.approvals(id).length),
    events: log.events().length,
    evidence: log.evidence().length,
  };
}

/** Asserts that `fn` throws a SignedPageError with `code` and changes nothing in `log`. */
function refused(log: PageLog, ids: string[], code: SignedPageErrorCode, fn: () => unknown) {
  const before = snapshot(log, ids);
  throws(fn, (e: unknown) => {
    if (!(e instanceof SignedPageError)) throw e;
    equal(e.code, code, e.message);
    return true;
  });
  deepStrictEqual(snapshot(log, ids), before);
}

function setup() {
  // Three equal participants; key 9 is an outsider.
  const log = createPageLog(genesisOf(3));
  const ev = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("b.example") });
  log.addEvent(ev);
  log.addApproval(approve(key(0).secretKey, ev));
  const ids = [log.pageId, objectId(ev)];
  return { log, ev, ids };
}

Deno.test("hostile: forged signature is refused (bad-signature)", () => {
  const { log, ev, ids } = setup();
  const good = approve(key(1).secretKey, ev);
  const flipped = good.sig.slice(0, 10) + (good.sig[10] === "0" ? "1" : "0") + good.sig.slice(11);
  refused(log, ids, "bad-signature", () => log.addApproval({ ...good, sig: flipped }));
  // Signed by key 2 but claiming to be key 1.
  const other = approve(key(2).secretKey, ev);
  refused(log, ids, "bad-signature", () => log.addApproval({ ...other, key: key(1).hex }));
});

Deno.test("hostile: approval by a non-participant is refused (not-participant)", () => {
  const { log, ev, ids } = setup();
  refused(log, ids, "not-participant", () => log.addApproval(approve(key(9).secretKey, ev)));
  equal(log.status(objectId(ev)).status, "pending");
});

Deno.test("hostile: approval over a different event does not count for this one", () => {
  const { log, ev, ids } = setup();
  const ev2 = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("c.example") });
  const a = approve(key(1).secretKey, ev2);
  // Re-targeting the approval to `ev` breaks the signature.
  refused(log, ids, "bad-signature", () => log.addApproval({ ...a, event: objectId(ev) }));
});

Deno.test("hostile: approval signed for another parent than its event's (event-mismatch)", () => {
  const { log, ev, ids } = setup();
  const fakeParent = "ab".repeat(32);
  const msg = approvalMessage(log.pageId, fakeParent, objectId(ev));
  const a = {
    type: "approval" as const,
    v: 1 as const,
    page: log.pageId,
    parent: fakeParent,
    event: objectId(ev),
    key: key(1).hex,
    sig: sign(key(1).secretKey, msg).toHex(),
  };
  refused(log, ids, "event-mismatch", () => log.addApproval(a));
});

Deno.test("hostile: replay of an old event onto a new parent needs fresh approvals", () => {
  const { log, ev } = setup();
  log.addApproval(approve(key(1).secretKey, ev));
  equal(log.head(), objectId(ev));
  // Same change re-parented onto the new head: a different event with a different id.
  const replay = proposeEvent(log.pageId, objectId(ev), ev.handler, ev.args);
  log.addEvent(replay);
  const ids = [log.pageId, objectId(ev), objectId(replay)];
  for (const a of log.approvals(objectId(ev))) {
    refused(log, ids, "bad-signature", () => log.addApproval({ ...a, event: objectId(replay) }));
    refused(
      log,
      ids,
      "bad-signature",
      () => log.addApproval({ ...a, event: objectId(replay), parent: objectId(ev) }),
    );
  }
  equal(log.status(objectId(replay)).status, "pending");
  // Re-adding the old event itself is a no-op.
  equal(log.addEvent(ev), "duplicate");
  // The replayed ADD_BRANCH applies on top (a second identical branch), but only with approvals.
  equal(log.head(), objectId(ev));
});

Deno.test("hostile: a governance change with only Track 1 power stays pending", () => {
  const log = createPageLog(genesisOf(3));
  // Adds participant 9: Track 2 (0.70 of 3 = 2.1 → all three needed).
  const ev = proposeEvent(log.pageId, log.pageId, "SET", {
    path: ["governance", "participants", key(9).hex],
    value: { weight: 5 },
  });
  log.addEvent(ev);
  log.addApproval(approve(key(0).secretKey, ev));
  log.addApproval(approve(key(1).secretKey, ev));
  const s = log.status(objectId(ev));
  equal(s.status, "pending");
  equal(s.code, "insufficient-power");
  deepStrictEqual(s.track, { kind: "membership" });
  equal(log.head(), log.pageId);
  log.addApproval(approve(key(2).secretKey, ev));
  equal(log.head(), objectId(ev));
});

Deno.test("hostile: a threshold change hidden in a BATCH with content is still Track 2", () => {
  const log = createPageLog(genesisOf(3));
  const batch = proposeEvent(log.pageId, log.pageId, "BATCH", {
    ops: [
      { handler: "ADD_BRANCH", args: { branch: branch("x.example") } },
      { handler: "SET", args: { path: ["governance", "thresholds", "content"], value: 0.1 } },
    ],
  });
  log.addEvent(batch);
  for (const i of [0, 1]) log.addApproval(approve(key(i).secretKey, batch));
  deepStrictEqual(log.status(objectId(batch)).track, { kind: "membership" });
  equal(log.status(objectId(batch)).status, "pending");
  equal(log.head(), log.pageId);
});

Deno.test("hostile: malformed objects are refused (malformed)", () => {
  const { log, ev, ids } = setup();
  refused(log, ids, "malformed", () => log.addEvent({ ...ev, parent: "xyz" }));
  refused(log, ids, "malformed", () => log.addEvent({ ...ev, extra: 1 } as unknown as PageEvent));
  refused(log, ids, "malformed", () => log.addEvent({ ...ev, args: { path: "branches" } }));
  refused(log, ids, "malformed", () => log.addEvent(null as unknown as PageEvent));
  refused(
    log,
    ids,
    "malformed",
    () => log.addEvent({ ...ev, handler: "SET", args: { path: ["__proto__"], value: 1 } }),
  );
  const a = approve(key(1).secretKey, ev);
  refused(log, ids, "malformed", () => log.addApproval({ ...a, sig: a.sig.toUpperCase() }));
  refused(log, ids, "malformed", () => log.addApproval({ ...a, key: a.key.slice(2) }));
  refused(log, ids, "unknown-type", () => log.addApproval({ ...a, type: "event" } as never));
  refused(log, ids, "unknown-handler", () => log.addEvent({ ...ev, handler: "EVAL" } as never));
});

Deno.test("hostile: oversized objects are refused (too-large)", () => {
  const { log, ev, ids } = setup();
  const big = proposeEvent.bind(null, log.pageId, log.pageId, "SET");
  refused(
    log,
    ids,
    "too-large",
    () => big({ path: ["meta", "about"], value: "x".repeat(MAX_EVENT_BYTES) }),
  );
  refused(
    log,
    ids,
    "too-large",
    () => log.addEvent({ ...ev, args: { branch: { selector: "y".repeat(MAX_EVENT_BYTES) } } }),
  );
  const bytes = new TextEncoder().encode(" ".repeat(MAX_EVENT_BYTES + 1));
  throws(() => decodeObject(bytes, "event"), { code: "too-large" } as never);
});

Deno.test("hostile: unknown versions are refused (unsupported-version)", () => {
  const { log, ev, ids } = setup();
  refused(log, ids, "unsupported-version", () => log.addEvent({ ...ev, v: 2 } as never));
  const a = approve(key(1).secretKey, ev);
  refused(log, ids, "unsupported-version", () => log.addApproval({ ...a, v: 2 } as never));
  const bytes = new TextEncoder().encode(
    new TextDecoder().decode(encodeObject(a)).replace('"v":1', '"v":2'),
  );
  throws(() => decodeObject(bytes), { code: "unsupported-version" } as never);
});

Deno.test("hostile: objects of another page are refused (wrong-page)", () => {
  const { log, ev, ids } = setup();
  const other = createPageLog(genesisOf(3, { nonce: "other" }));
  const foreign = proposeEvent(other.pageId, other.pageId, ev.handler, ev.args);
  refused(log, ids, "wrong-page", () => log.addEvent(foreign));
  refused(log, ids, "wrong-page", () => log.addApproval(approve(key(1).secretKey, foreign)));
});

Deno.test("hostile: non-canonical bytes are refused (not-canonical)", () => {
  const { ev } = setup();
  const text = new TextDecoder().decode(encodeObject(ev));
  const spaced = new TextEncoder().encode(text.replace(",", ", "));
  throws(() => decodeObject(spaced, "event"), { code: "not-canonical" } as never);
  const dup = new TextEncoder().encode(text.replace("{", '{"v":1,'));
  throws(() => decodeObject(dup, "event"), { code: "not-canonical" } as never);
  const reordered = new TextEncoder().encode(
    JSON.stringify({ v: 1, type: "event", ...JSON.parse(text) }),
  );
  throws(() => decodeObject(reordered, "event"), { code: "not-canonical" } as never);
  deepStrictEqual(decodeObject(encodeObject(ev), "event"), ev);
});

Deno.test("hostile: an event that breaks the state is rejected, not applied", () => {
  const { log } = setup();
  const bad = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", {
    branch: { selector: "(a", records: [] },
  });
  log.addEvent(bad);
  for (const i of [0, 1, 2]) log.addApproval(approve(key(i).secretKey, bad));
  const s = log.status(objectId(bad));
  equal(s.status, "rejected");
  equal(s.code, "invalid-state");
  equal(log.head() === objectId(bad), false);
  // Removing the last participant is invalid: the page would have nobody to govern it.
  const solo = createPageLog(genesisOf(1));
  const removeLast = proposeEvent(solo.pageId, solo.pageId, "DELETE", {
    path: ["governance", "participants", key(0).hex],
  });
  solo.addEvent(removeLast);
  solo.addApproval(approve(key(0).secretKey, removeLast));
  const gone = solo.status(objectId(removeLast));
  equal(gone.code, "invalid-state");
  ok(gone.reason!.includes("at least one participant"), gone.reason ?? "");
  equal(solo.head(), solo.pageId);
  // A threshold out of range is invalid too.
  const none = proposeEvent(log.pageId, log.pageId, "SET", {
    path: ["governance", "thresholds", "membership"],
    value: 1.5,
  });
  log.addEvent(none);
  // Not applied before a participant approves it: a proposal nobody backs costs no state.
  equal(log.status(objectId(none)).code, "unapproved");
  log.addApproval(approve(key(0).secretKey, none));
  equal(log.status(objectId(none)).code, "invalid-state");
  // A child of a rejected event can never be accepted.
  const child = proposeEvent(log.pageId, objectId(bad), "DELETE", { path: ["meta"] });
  log.addEvent(child);
  equal(log.status(objectId(child)).code, "parent-rejected");
});

Deno.test("hostile: type names inherited by every object are not object types (unknown-type)", () => {
  for (const type of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
    throws(() => checkObject({ type, v: 1 } as never), { code: "unknown-type" } as never, type);
  }
});
