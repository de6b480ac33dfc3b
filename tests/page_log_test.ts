/** The page log: acceptance, tracks, fork choice, equivocation, statuses, persistence. */
import { deepStrictEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import {
  approve,
  createPageLog,
  decodeObject,
  encodeObject,
  evidenceOf,
  objectId,
  proposeEvent,
  stateBranches,
} from "../lib/page/mod.ts";
import { approvals, branch, genesisOf, key } from "./page_fixtures.ts";

Deno.test("log: genesis is the accepted root; its id is the page id", () => {
  const g = genesisOf(2);
  const log = createPageLog(g);
  equal(log.pageId, objectId(g));
  equal(log.head(), log.pageId);
  equal(log.status(log.pageId).status, "accepted");
  deepStrictEqual(log.headChain(), [log.pageId]);
  equal(log.state(), g.state);
  equal(log.status("00".repeat(32)).status, "unknown");
});

Deno.test("log: a content change is accepted exactly at the 0.34 threshold", () => {
  // Weights 34 + 66: 34/100 reaches 0.34 exactly (no float drift); 33 would not.
  const log = createPageLog(genesisOf(2, { weights: [34, 66] }));
  const ev = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("b.example") });
  log.addEvent(ev);
  log.addApproval(approve(key(0).secretKey, ev));
  equal(log.status(objectId(ev)).status, "accepted");
  equal(log.status(objectId(ev)).power, 34_000_000);
  equal(log.status(objectId(ev)).needed, 34_000_000);

  const log2 = createPageLog(genesisOf(2, { weights: [33, 67] }));
  const ev2 = proposeEvent(log2.pageId, log2.pageId, "ADD_BRANCH", { branch: branch("b.example") });
  log2.addEvent(ev2);
  log2.addApproval(approve(key(0).secretKey, ev2));
  equal(log2.status(objectId(ev2)).status, "pending");
  // 0.1 + 0.2 style thresholds: 0.3 of weights 1+2 (total 3, needs 0.9): weight 1 is enough.
  const log3 = createPageLog(genesisOf(2, { weights: [1, 2], content: 0.3 }));
  const ev3 = proposeEvent(log3.pageId, log3.pageId, "DELETE", { path: ["branches", 0] });
  log3.addEvent(ev3);
  log3.addApproval(approve(key(0).secretKey, ev3));
  equal(log3.status(objectId(ev3)).status, "accepted");
  equal(log3.state().branches.length, 0);
});

Deno.test("log: approvals before their event, and events before their parent, are held", () => {
  const log = createPageLog(genesisOf(3));
  const e1 = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("b.example") });
  const e2 = proposeEvent(log.pageId, objectId(e1), "ADD_BRANCH", { branch: branch("c.example") });
  for (const a of approvals(e2, [1, 2])) log.addApproval(a);
  log.addEvent(e2);
  equal(log.status(objectId(e2)).code, "missing-parent");
  log.addEvent(e1);
  equal(log.status(objectId(e2)).code, "parent-pending");
  for (const a of approvals(e1, [0, 2])) log.addApproval(a);
  equal(log.head(), objectId(e2));
  deepStrictEqual(log.headChain(), [log.pageId, objectId(e1), objectId(e2)]);
  equal(log.height(objectId(e2)), 2);
  deepStrictEqual(stateBranches(log.state()).map((b) => b.selector.source), [
    "^a\\.example$",
    "^b\\.example$",
    "^c\\.example$",
  ]);
});

Deno.test("log: Track 2 (membership) needs 0.70; the new participant votes from the next event", () => {
  const log = createPageLog(genesisOf(4));
  const add = proposeEvent(log.pageId, log.pageId, "SET", {
    path: ["governance", "participants", key(5).hex],
    value: { weight: 4, name: "five" },
  });
  log.addEvent(add);
  for (const a of approvals(add, [0, 1])) log.addApproval(a);
  equal(log.status(objectId(add)).status, "pending");
  log.addApproval(approve(key(2).secretKey, add)); // 3 of 4 = 0.75 ≥ 0.70
  equal(log.head(), objectId(add));
  // Now total weight 8: key 5 alone (4/8 = 0.5) reaches the content threshold.
  const ev = proposeEvent(log.pageId, objectId(add), "ADD_BRANCH", { branch: branch("z.example") });
  log.addEvent(ev);
  log.addApproval(approve(key(5).secretKey, ev));
  equal(log.head(), objectId(ev));
});

Deno.test("log: a delegation change needs only the delegator (its own track)", () => {
  const log = createPageLog(genesisOf(3));
  const d = proposeEvent(log.pageId, log.pageId, "SET_DELEGATIONS", {
    participant: key(0).hex,
    delegations: { [key(1).hex]: 1 },
  });
  log.addEvent(d);
  log.addApproval(approve(key(1).secretKey, d));
  equal(log.status(objectId(d)).status, "pending", "the delegate cannot set it");
  log.addApproval(approve(key(0).secretKey, d));
  deepStrictEqual(log.status(objectId(d)).track, { kind: "delegation", delegator: key(0).hex });
  equal(log.head(), objectId(d));
  // Key 1 now carries 2 of 3: enough for content on its own.
  const ev = proposeEvent(log.pageId, objectId(d), "DELETE", { path: ["branches", 0] });
  log.addEvent(ev);
  log.addApproval(approve(key(1).secretKey, ev));
  equal(log.status(objectId(ev)).power, 2_000_000);
  equal(log.head(), objectId(ev));
  // Revocation: an empty delegation map removes it, again on key 0's own track.
  const r = proposeEvent(log.pageId, objectId(ev), "SET_DELEGATIONS", {
    participant: key(0).hex,
    delegations: {},
  });
  log.addEvent(r);
  log.addApproval(approve(key(0).secretKey, r));
  equal(log.head(), objectId(r));
  equal(log.state().governance.participants[key(0).hex].delegations, undefined);
  // Touching someone else's delegations together with one's own is Track 2.
  const both = proposeEvent(log.pageId, objectId(r), "BATCH", {
    ops: [
      {
        handler: "SET_DELEGATIONS",
        args: { participant: key(0).hex, delegations: { [key(2).hex]: 1 } },
      },
      {
        handler: "SET_DELEGATIONS",
        args: { participant: key(1).hex, delegations: { [key(2).hex]: 1 } },
      },
    ],
  });
  log.addEvent(both);
  log.addApproval(approve(key(0).secretKey, both));
  deepStrictEqual(log.status(objectId(both)).track, { kind: "membership" });
  equal(log.status(objectId(both)).status, "pending", "key 0 alone is not the 0.70 needed");
});

Deno.test("log: fork choice takes the child with most power, then the lowest id", () => {
  // Five participants, content 0.34 → 2 approvals each: two disjoint accepted children.
  const log = createPageLog(genesisOf(5, { weights: [1, 1, 1, 1, 1] }));
  const a = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("a1.example") });
  const b = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("b1.example") });
  log.addEvent(a);
  log.addEvent(b);
  for (const x of approvals(a, [0, 1])) log.addApproval(x);
  for (const x of approvals(b, [2, 3])) log.addApproval(x);
  const [low, high] = objectId(a) < objectId(b) ? [a, b] : [b, a];
  equal(log.head(), objectId(low), "equal power: lowest id wins");
  equal(log.status(objectId(high)).status, "lost-fork");
  // A child of the losing fork is accepted but lost too.
  const c = proposeEvent(log.pageId, objectId(high), "DELETE", { path: ["branches", 0] });
  log.addEvent(c);
  for (const x of approvals(c, [0, 1])) log.addApproval(x);
  equal(log.status(objectId(c)).status, "lost-fork");
  // One more approval for the higher id: it now has most power and becomes the head chain.
  log.addApproval(approve(key(4).secretKey, high));
  deepStrictEqual(log.headChain(), [log.pageId, objectId(high), objectId(c)]);
  equal(log.status(objectId(low)).status, "lost-fork");
});

Deno.test("log: equivocation is detected, gossiped as evidence, and excluded at that parent", () => {
  const g = genesisOf(5);
  const log = createPageLog(g);
  const a = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("a1.example") });
  const b = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("b1.example") });
  log.addEvent(a);
  log.addEvent(b);
  for (const x of approvals(a, [0, 1])) log.addApproval(x);
  equal(log.head(), objectId(a));
  // Key 1 also approves b: equivocation. Its power now counts for neither a nor b.
  log.addApproval(approve(key(1).secretKey, b));
  log.addApproval(approve(key(2).secretKey, b));
  deepStrictEqual(log.equivocators(log.pageId), [key(1).hex]);
  equal(log.status(objectId(a)).status, "pending");
  equal(log.status(objectId(b)).status, "pending");
  equal(log.head(), log.pageId);
  const [ev] = log.evidence();
  equal(ev.first.key, key(1).hex);
  ok(ev.first.event < ev.second.event);
  // Another node that only saw a's approvals accepts a — until the evidence reaches it.
  const other = createPageLog(g);
  other.addEvent(a);
  for (const x of approvals(a, [0, 1])) other.addApproval(x);
  equal(other.head(), objectId(a));
  equal(other.addEvidence(decodeObject(encodeObject(ev), "evidence")), "added");
  equal(other.addEvidence(ev), "duplicate");
  equal(other.head(), other.pageId);
  deepStrictEqual(other.equivocators(other.pageId), [key(1).hex]);
  // Honest approvals still decide: keys 3 and 4 approve a → accepted again without key 1.
  for (const l of [log, other]) for (const x of approvals(a, [3, 4])) l.addApproval(x);
  equal(log.head(), objectId(a));
  equal(other.head(), objectId(a));
  equal(log.status(objectId(a)).power, 3_000_000);
});

Deno.test("log: power delegated through an equivocator is lost at that parent", () => {
  const g = genesisOf(4, { extra: { 3: { delegations: { [key(1).hex]: 1 } } } });
  const log = createPageLog(g);
  const a = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("a1.example") });
  const b = proposeEvent(log.pageId, log.pageId, "ADD_BRANCH", { branch: branch("b1.example") });
  log.addEvent(a);
  log.addEvent(b);
  log.addApproval(approve(key(1).secretKey, a));
  equal(log.status(objectId(a)).power, 2_000_000, "own power plus key 3's");
  log.addApproval(approve(key(1).secretKey, b));
  equal(log.status(objectId(a)).power, 0);
  equal(log.status(objectId(b)).power, 0);
});

Deno.test("log: rejected statuses say why; approvals of non-participants are refused or dropped", () => {
  const log = createPageLog(genesisOf(2));
  const bad = proposeEvent(log.pageId, log.pageId, "DELETE", { path: ["branches", 7] });
  // An outsider's approval of an unknown event under a known parent: refused at once (the
  // parent's state says who votes there), nothing held.
  throws(() => log.addApproval(approve(key(9).secretKey, bad)), { code: "not-participant" });
  equal(log.approvals(objectId(bad)).length, 0);
  equal(log.addApproval(approve(key(0).secretKey, bad)), "held");
  equal(log.addEvent(bad), "added");
  const s = log.status(objectId(bad));
  equal(s.status, "rejected");
  equal(s.code, "apply-failed");
  ok(s.reason!.includes("no element 7"), s.reason ?? "");
  // Under a parent whose state is not known yet, an outsider's approval is held, then dropped.
  const good = proposeEvent(log.pageId, log.pageId, "DELETE", { path: ["branches", 0] });
  const child = proposeEvent(log.pageId, objectId(good), "DELETE", { path: ["meta"] });
  equal(log.addApproval(approve(key(9).secretKey, child)), "held");
  equal(log.addEvent(child), "held", "its parent is not known");
  equal(log.approvals(objectId(child)).length, 1);
  log.addEvent(good);
  log.addApproval(approve(key(1).secretKey, good));
  equal(log.head(), objectId(good));
  equal(log.status(objectId(child)).power ?? 0, 0);
  equal(log.approvals(objectId(child)).length, 0);
  equal(log.held().approvals, 0);
});

Deno.test("log: everything persisted as bytes reloads to the same head and state hash", () => {
  const log = createPageLog(genesisOf(3));
  let parent = log.pageId;
  for (let i = 0; i < 20; i++) {
    const ev = proposeEvent(log.pageId, parent, "ADD_RECORD", {
      branch: 0,
      record: { domain_name: "a.example", rtype: "A", rdata: `192.0.2.${i + 2}` },
    });
    log.addEvent(ev);
    for (const a of approvals(ev, [i % 3, (i + 1) % 3])) log.addApproval(a);
    parent = objectId(ev);
  }
  equal(log.head(), parent);
  const bytes = [
    ...log.events().map(encodeObject),
    ...log.events().flatMap((e) => log.approvals(objectId(e)).map(encodeObject)),
  ];
  const reloaded = createPageLog(decodeObject(encodeObject(log.genesis), "genesis"));
  for (const b of bytes.reverse()) {
    const o = decodeObject(b);
    if (o.type === "event") reloaded.addEvent(o);
    else if (o.type === "approval") reloaded.addApproval(o);
  }
  equal(reloaded.head(), log.head());
  equal(reloaded.stateHash(), log.stateHash());
  equal(log.state().branches[0].records !== undefined, true);
  equal((log.state().branches[0].records as unknown[]).length, 21);
});

Deno.test("log: appending an event does not recompute earlier states", () => {
  const log = createPageLog(genesisOf(1));
  let parent = log.pageId;
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const ev = proposeEvent(log.pageId, parent, "SET", {
      path: ["meta"],
      value: { about: `v${i}` },
    });
    log.addEvent(ev);
    log.addApproval(approve(key(0).secretKey, ev));
    parent = objectId(ev);
    ids.push(parent);
    equal(log.head(), parent);
  }
  const before = ids.map((id) => log.stateAt(id));
  const ev = proposeEvent(log.pageId, parent, "DELETE", { path: ["meta"] });
  log.addEvent(ev);
  log.addApproval(approve(key(0).secretKey, ev));
  equal(log.head(), objectId(ev));
  // Same objects, not recomputed copies; and the branches list is shared, not copied.
  ids.forEach((id, i) => equal(log.stateAt(id), before[i]));
  equal(log.state().branches, before[0]!.branches);
  notEqual(log.stateHash(), "");
});

Deno.test("log: evidenceOf orders the two approvals", () => {
  const log = createPageLog(genesisOf(2));
  const a = proposeEvent(log.pageId, log.pageId, "DELETE", { path: ["meta"] });
  const b = proposeEvent(log.pageId, log.pageId, "DELETE", { path: ["branches", 0] });
  const [x, y] = [approve(key(0).secretKey, a), approve(key(0).secretKey, b)];
  deepStrictEqual(evidenceOf(x, y), evidenceOf(y, x));
});
