/**
 * Verifier hardening (issue 7): each case an attacker could use to split honest nodes or to make
 * a node work or hold without bound, sent as the attack, with the outcome every node must reach.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { sign } from "../lib/crypto/mod.ts";
import {
  addApprover,
  applyEvent,
  type Approval,
  approvalMessage,
  approve,
  approveCheckpoint,
  checkObject,
  type Checkpoint,
  type CheckpointLink,
  countPower,
  createCheckpoint,
  createPageLog,
  evidenceOf,
  type Governance,
  HELD_EVENT_UNIT,
  MAX_HELD_APPROVALS,
  MAX_HELD_EVENT_BYTES,
  MAX_HELD_EVENTS,
  objectId,
  openFromCheckpoint,
  type PageEvent,
  type PageLog,
  type PowerWork,
  proposeEvent,
  SignedPageError,
  stateHash,
  validateState,
} from "../lib/page/mod.ts";
import { createClaimTable } from "../lib/page/equivocation.ts";
import { voteTable } from "../lib/page/governance.ts";
import { approvals, branch, genesisOf, key, pick, prng, referencePower } from "./page_fixtures.ts";

/** An approval by key `i` of `event`, signed for any `parent` (the real one or not). */
function claim(i: number, page: string, parent: string, event: string): Approval {
  const msg = approvalMessage(page, parent, event);
  return checkObject({
    type: "approval",
    v: 1,
    page,
    parent,
    event,
    key: key(i).hex,
    sig: sign(key(i).secretKey, msg).toHex(),
  }, "approval");
}

function content(log: PageLog, parent: string, name: string): PageEvent {
  return proposeEvent(log.pageId, parent, "ADD_BRANCH", { branch: branch(name) });
}

/** Delivers objects; refusals that only say "this cannot count" are the expected answers. */
function deliver(log: PageLog, objects: Array<PageEvent | Approval>): void {
  for (const o of objects) {
    try {
      if (o.type === "event") log.addEvent(o);
      else log.addApproval(o);
    } catch (e) {
      if (!(e instanceof SignedPageError) || e.code !== "event-mismatch") throw e;
    }
  }
}

Deno.test("verifier #1: a wrong-parent twin of an early approval does not hide the real one", () => {
  // Three participants of weight 1: content needs 2 approvals (0.34 × 3 = 1.02).
  const g = genesisOf(3);
  const page = objectId(g);
  const e = proposeEvent(page, page, "ADD_BRANCH", { branch: branch("b.example") });
  const real = approve(key(0).secretKey, e);
  const twin = claim(0, page, "ab".repeat(32), objectId(e)); // same event, made-up parent
  const other = approve(key(1).secretKey, e);
  const heads: string[] = [];
  for (const order of [[real, twin], [twin, real]]) {
    const log = createPageLog(g);
    // Both arrive before their event: each is its own held claim, not a duplicate of the other.
    for (const a of order) equal(log.addApproval(a), "held");
    equal(log.addApproval(order[0]), "duplicate");
    log.addEvent(e);
    log.addApproval(other);
    heads.push(log.head());
    equal(log.status(objectId(e)).power, 2_000_000);
  }
  deepStrictEqual(heads, [objectId(e), objectId(e)]);
});

/** A page with an accepted first event `c1`, a checkpoint at it, and a full and a light node. */
function checkpointed() {
  const g = genesisOf(4);
  const full = createPageLog(g);
  const c1 = content(full, full.pageId, "c1.example");
  full.addEvent(c1);
  for (const a of approvals(c1, [0, 1])) full.addApproval(a);
  const cp = createCheckpoint(full);
  const link: CheckpointLink = {
    checkpoint: cp,
    approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, cp)),
  };
  full.addCheckpoint(link);
  const light = openFromCheckpoint(g, [link], full.state());
  return { g, full, light, c1: objectId(c1), link };
}

Deno.test("verifier #2: a claim naming the log's root counts for equivocation on every node", () => {
  const { full, light, c1 } = checkpointed();
  // x follows the checkpoint; key 0 approves e (a child of x) and also signs a claim that names
  // the checkpoint's event (the light node's root) under x: it equivocated at x.
  const x = content(full, c1, "x.example");
  const e = content(full, objectId(x), "e.example");
  const objects = [
    x,
    ...approvals(x, [0, 1]),
    e,
    approve(key(0).secretKey, e),
    approve(key(1).secretKey, e),
    claim(0, full.pageId, objectId(x), c1),
  ];
  for (const log of [full, light]) {
    deliver(log, objects);
    deepStrictEqual(log.equivocators(objectId(x)), [key(0).hex]);
    equal(log.status(objectId(e)).power, 1_000_000, "key 0 counts for no child of x");
    equal(log.head(), objectId(x));
  }
  // The same with a claim naming the genesis (a root on both): the evidence built from the two
  // approvals changes something, on both.
  const y = content(full, objectId(x), "y.example");
  const fresh = [
    createPageLog(full.genesis),
    openFromCheckpoint(full.genesis, full.checkpoints().slice(0, 1), full.stateAt(c1)),
  ];
  for (const log of fresh) {
    deliver(log, [
      ...(log === fresh[0] ? [full.events()[0], ...full.approvals(c1)] : []),
      x,
      ...approvals(x, [0, 1]),
      y,
      ...approvals(y, [2, 3]),
    ]);
    equal(log.head(), objectId(y));
    const ev = evidenceOf(
      approve(key(2).secretKey, y),
      claim(2, full.pageId, objectId(x), full.pageId),
    );
    equal(log.addEvidence(ev), "added");
    deepStrictEqual(log.equivocators(objectId(x)), [key(2).hex]);
    equal(log.head(), objectId(x));
    equal(log.addEvidence(ev), "duplicate");
  }
});

/** Two checkpoints extending the same `prev` (none), each signed by 3 of 4: keys 1 and 2 signed both. */
function conflicting() {
  const g = genesisOf(4);
  const base = createPageLog(g);
  const a = content(base, base.pageId, "a.example");
  const b = content(base, base.pageId, "b.example");
  base.addEvent(a);
  base.addEvent(b);
  for (const x of approvals(a, [0, 1])) base.addApproval(x);
  for (const x of approvals(b, [2, 3])) base.addApproval(x);
  const at = (ev: PageEvent): Checkpoint => {
    const s = base.stateAt(objectId(ev))!;
    return checkObject({
      type: "checkpoint",
      v: 1,
      page: base.pageId,
      prev: null,
      event: objectId(ev),
      height: 1,
      stateHash: stateHash(s),
      governance: s.governance,
    }, "checkpoint");
  };
  const signed = (cp: Checkpoint, who: number[]): CheckpointLink => ({
    checkpoint: cp,
    approvals: who.map((i) => approveCheckpoint(key(i).secretKey, cp)),
  });
  const ca = signed(at(a), [0, 1, 2]);
  const cb = signed(at(b), [1, 2, 3]);
  const objects = [a, b, ...approvals(a, [0, 1]), ...approvals(b, [2, 3])];
  return { g, a, b, ca, cb, objects, base };
}

Deno.test("verifier #3: conflicting checkpoints end the same on every node, whatever the order", () => {
  const { g, ca, cb, objects } = conflicting();
  const results = [];
  for (const order of [[ca, cb], [cb, ca]]) {
    const log = createPageLog(g);
    deliver(log, objects);
    equal(log.addCheckpoint(order[0]), "added");
    equal(log.checkpoints().length, 1, "alone, a checkpoint is final");
    equal(
      log.head(),
      objectId(order[0].checkpoint.event === objectId(objects[0]) ? objects[0] : objects[1]),
    );
    // The conflicting one is added too (gossip must spread it): keys 1 and 2 signed both, so
    // both fall below the threshold and neither is final.
    equal(log.addCheckpoint(order[1]), "added");
    results.push({
      chain: log.checkpoints().map((l) => objectId(l.checkpoint)),
      head: log.head(),
      evidence: log.checkpointEvidence().map((e) => e.first.key).sort(),
    });
  }
  deepStrictEqual(results[0], results[1]);
  deepStrictEqual(results[0].chain, []);
  deepStrictEqual(results[0].evidence, [key(1).hex, key(2).hex].sort());
  // A node that holds the first checkpoint and the evidence, before the second checkpoint.
  const first = createPageLog(g);
  deliver(first, objects);
  first.addCheckpoint(ca);
  const full = createPageLog(g);
  deliver(full, objects);
  full.addCheckpoint(ca);
  full.addCheckpoint(cb);
  for (const ev of full.checkpointEvidence()) equal(first.addCheckpointEvidence(ev), "held");
  equal(first.held().checkpointApprovals, 2);
  equal(first.checkpoints().length, 1);
  first.addCheckpoint({ checkpoint: cb.checkpoint, approvals: cb.approvals.slice(2) }); // key 3 + the held 1, 2
  equal(first.checkpoints().length, 0);
  equal(first.head(), results[0].head);
});

Deno.test("verifier #4: an approval that does not count is ignored, not a reason to refuse a link", () => {
  const g = genesisOf(4);
  const log = createPageLog(g);
  const e = content(log, log.pageId, "e.example");
  log.addEvent(e);
  for (const a of approvals(e, [0, 1])) log.addApproval(a);
  log.head();
  const cp = createCheckpoint(log);
  const other = { ...cp, height: 2 } as Checkpoint;
  const link: CheckpointLink = {
    checkpoint: cp,
    approvals: [
      ...[0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, cp)),
      approveCheckpoint(key(9).secretKey, cp), // not a participant
      approveCheckpoint(key(3).secretKey, checkObject(other, "checkpoint")), // another checkpoint
      { ...approveCheckpoint(key(3).secretKey, cp), sig: "00".repeat(64) }, // bad signature
    ],
  };
  equal(log.addCheckpoint(link), "added");
  equal(log.checkpoints().length, 1);
  // What counts must still be enough.
  const log2 = createPageLog(g);
  log2.addEvent(e);
  for (const a of approvals(e, [0, 1])) log2.addApproval(a);
  throws(
    () => log2.addCheckpoint({ checkpoint: cp, approvals: link.approvals.slice(1) }),
    { code: "bad-checkpoint" } as never,
  );
});

Deno.test("verifier #5: addCheckpoint does not depend on head() having been called", () => {
  const g = genesisOf(4);
  const a = createPageLog(g);
  const e = content(a, a.pageId, "e.example");
  a.addEvent(e);
  for (const x of approvals(e, [0, 1])) a.addApproval(x);
  const cp = createCheckpoint(a);
  const link = {
    checkpoint: cp,
    approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, cp)),
  };
  // A fresh log fed the same objects, never asked for its head before the checkpoint.
  const b = createPageLog(g);
  b.addEvent(e);
  for (const x of approvals(e, [0, 1])) b.addApproval(x);
  equal(b.addCheckpoint(link), "added");
  // Checkpoint events need no approvals held: a checkpoint covers them.
  const c = createPageLog(g);
  c.addEvent(e);
  equal(c.addCheckpoint(link), "added");
  equal(c.head(), objectId(e));
});

Deno.test("verifier #5: an id always describes the bytes, whatever the caller froze", () => {
  const page = "ab".repeat(32);
  const args = { path: ["meta"], value: { about: "one" } };
  const ev = Object.freeze({ type: "event", v: 1, page, parent: page, handler: "SET", args });
  const before = objectId(ev as PageEvent);
  args.value.about = "two"; // the caller froze the event, not its arguments
  const after = objectId(ev as PageEvent);
  equal(after === before, false, "an unchecked object's id is not cached");
  // Checking freezes everything in it, frozen shell or not: its id can no longer go stale.
  const checked = checkObject(ev, "event");
  ok(Object.isFrozen(checked.args) && Object.isFrozen((checked.args as typeof args).value));
  equal(objectId(checked), after);
});

/** A governance of `n` participants of weight 1, each delegating 1/8 to 8 others (seeded). */
function delegatingPage(n: number, seed = 1): Governance {
  const rand = prng(seed);
  const keys = Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, "0"));
  const participants: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const to = new Set<string>();
    while (to.size < 8) {
      const j = pick(rand, n);
      if (j !== i) to.add(keys[j]);
    }
    participants[keys[i]] = {
      weight: 1,
      delegations: Object.fromEntries([...to].map((k) => [k, 0.125])),
    };
  }
  return { participants, thresholds: { content: 0.34, membership: 0.7 } } as Governance;
}

Deno.test("verifier #6: counting walks only delegators that can reach an approver", () => {
  const g = delegatingPage(12_000);
  const table = voteTable(g);
  const keys = Object.keys(g.participants);
  const none: PowerWork = { steps: 0 };
  equal(countPower(table, new Set(), new Set(), none), 0);
  equal(none.steps, 0, "no approvals, no work");
  const one: PowerWork = { steps: 0 };
  const approver = new Set([keys[17]]);
  const p = countPower(table, approver, new Set(), one);
  ok(one.steps > 0 && one.steps < 50_000, `one approval: ${one.steps} steps`);
  // The old count walked every delegator's 4-hop tree: 12,000 × up to 4,680 edges.
  ok(one.steps < 12_000 * 100, "far below a walk of the whole page");
  const inc: PowerWork = { steps: 0 };
  equal(addApprover(table, new Set(), new Set(), keys[17], inc), p, "incremental = full");
  ok(inc.steps < 50_000, `incremental: ${inc.steps} steps`);
  // A second approval, incrementally, matches a full recount.
  const both = new Set([keys[17], keys[4242]]);
  equal(
    p + addApprover(table, approver, new Set(), keys[4242]),
    countPower(table, both, new Set()),
  );
});

Deno.test("verifier #6: the counts agree with the plain reference on random graphs", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = prng(seed);
    const n = 4 + pick(rand, 10);
    const keys = Array.from({ length: n + 2 }, (_, i) => key(i).hex);
    const participants: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const d: Record<string, number> = {};
      let left = 1_000_000;
      for (let j = 0; j < pick(rand, 5); j++) {
        const to = keys[pick(rand, n + 2)]; // sometimes a non-participant
        const f = Math.min(left, 1 + pick(rand, 700_000));
        if (to === keys[i] || d[to] !== undefined || f <= 0) continue;
        d[to] = f / 1e6;
        left -= f;
      }
      participants[keys[i]] = Object.keys(d).length > 0
        ? { weight: 1 + pick(rand, 5), delegations: d }
        : { weight: pick(rand, 4) };
    }
    const g = { participants, thresholds: { content: 0.34, membership: 0.7 } } as Governance;
    const table = voteTable(g);
    const excluded = new Set(keys.filter(() => rand() < 0.15));
    const order = keys.filter(() => rand() < 0.6);
    const approvers = new Set<string>();
    let incremental = 0;
    for (const k of order) {
      incremental += addApprover(table, approvers, excluded, k);
      approvers.add(k);
      const want = referencePower(g, approvers, excluded);
      equal(countPower(table, approvers, excluded), want, `seed ${seed}: full count`);
      equal(incremental, want, `seed ${seed}: incremental count`);
    }
  }
});

Deno.test("verifier #7: many claims by one key under one parent keep only the two lowest", () => {
  const log = createPageLog(genesisOf(2));
  const page = log.pageId;
  const ids: string[] = [];
  const rand = prng(7);
  const claims: Approval[] = [];
  for (let i = 0; i < 300; i++) {
    const ev = content(log, page, `k${i}.example`);
    ids.push(objectId(ev));
    claims.push(approve(key(0).secretKey, ev));
  }
  for (const a of claims.sort(() => rand() - 0.5)) log.addApproval(a);
  ids.sort();
  const [ev] = log.evidence();
  deepStrictEqual([ev.first.event, ev.second.event], [ids[0], ids[1]]);
  deepStrictEqual(log.equivocators(page), [key(0).hex]);
});

Deno.test("verifier #8: an honest orphan event gets in after 100,000 junk orphans", () => {
  const log = createPageLog(genesisOf(3));
  const rand = prng(8);
  for (let i = 0; i < 100_000; i++) {
    const parent = Math.floor(rand() * 2 ** 52).toString(16).padStart(64, "0");
    equal(
      log.addEvent(proposeEvent(log.pageId, parent, "DELETE", { path: ["meta"] }), {
        source: "junk",
      }),
      "held",
    );
  }
  ok(log.held().events <= MAX_HELD_EVENTS, `held ${log.held().events}`);
  const e1 = content(log, log.pageId, "e1.example");
  const e2 = content(log, objectId(e1), "e2.example");
  equal(log.addEvent(e2, { source: "honest" }), "held");
  for (let i = 0; i < 10_000; i++) {
    const parent = Math.floor(rand() * 2 ** 52).toString(16).padStart(64, "0");
    log.addEvent(proposeEvent(log.pageId, parent, "DELETE", { path: ["meta"] }), {
      source: "junk",
    });
  }
  log.addEvent(e1, { source: "honest" });
  for (const a of [...approvals(e1, [0, 1]), ...approvals(e2, [1, 2])]) log.addApproval(a);
  equal(log.head(), objectId(e2));
});

Deno.test("verifier #8: honest early approvals get in after a flood of junk held approvals", () => {
  const log = createPageLog(genesisOf(3));
  const junkKey = 9; // a self-made key: no participant
  const flood = MAX_HELD_APPROVALS + 500;
  for (let i = 0; i < flood; i++) {
    const event = (i + 1).toString(16).padStart(63, "0") + "e";
    // Under an unknown parent the signer cannot be judged: held, charged to the source.
    const a = claim(junkKey, log.pageId, "cd".repeat(32), event);
    equal(log.addApproval(a, { source: "junk" }), "held");
  }
  ok(log.held().approvals <= MAX_HELD_APPROVALS);
  const e = content(log, log.pageId, "e.example");
  for (const a of approvals(e, [0, 1])) equal(log.addApproval(a, { source: "honest" }), "held");
  log.addEvent(e, { source: "honest" });
  equal(log.head(), objectId(e));
});

Deno.test("verifier #8: refused outsiders' approvals keep nothing; unapproved events cost no state", () => {
  const log = createPageLog(genesisOf(3));
  const d = content(log, log.pageId, "d.example");
  log.addEvent(d);
  for (const a of approvals(d, [0, 1])) log.addApproval(a);
  const e = content(log, objectId(d), "e.example");
  log.addEvent(e);
  for (let i = 0; i < 2000; i++) {
    // An outsider's claims under a parent whose state is known, matching or not: refused,
    // nothing kept.
    const parent = i % 2 === 0 ? log.pageId : objectId(d);
    throws(() => log.addApproval(claim(9, log.pageId, parent, objectId(e))));
  }
  equal(log.held().approvals, 0);
  equal(log.evidence().length, 0);
  // Events nobody entitled to vote approved are not applied (no state) and stay bounded.
  for (let i = 0; i < MAX_HELD_EVENTS + 100; i++) {
    log.addEvent(
      proposeEvent(log.pageId, log.pageId, "SET", { path: ["meta"], value: { about: `${i}` } }),
      { source: "junk" },
    );
  }
  ok(log.held().events <= MAX_HELD_EVENTS);
  // Large junk events are charged by size: the held bytes stay bounded.
  for (let i = 0; i < 100; i++) {
    const about = `${i} `.padEnd(60_000, "x");
    log.addEvent(
      proposeEvent(log.pageId, log.pageId, "SET", { path: ["meta"], value: { about } }),
      { source: "junk" },
    );
  }
  ok(log.held().events * HELD_EVENT_UNIT <= MAX_HELD_EVENT_BYTES + HELD_EVENT_UNIT);
  equal(log.status(objectId(e)).code, "unapproved");
  equal(log.stateAt(objectId(e)), undefined);
  log.addApproval(approve(key(0).secretKey, e));
  log.addApproval(approve(key(1).secretKey, e));
  equal(log.head(), objectId(e), "an honest event is still accepted after the flood");
});

Deno.test("verifier #9: a membership change re-validates only the participants it changed", () => {
  // Participants whose `name` counts its reads: governance validation reads every name it checks.
  let reads = 0;
  const participants: Record<string, unknown> = {};
  for (let i = 0; i < 1000; i++) {
    const entry = { weight: 1 };
    Object.defineProperty(entry, "name", {
      enumerable: true,
      get: () => (reads++, `p${i}`),
    });
    participants[i.toString(16).padStart(64, "0")] = entry;
  }
  const state = validateState({
    governance: { participants, thresholds: { content: 0.34, membership: 0.7 } },
    branches: [],
  });
  reads = 0;
  const page = "ab".repeat(32);
  const add = proposeEvent(page, page, "SET", {
    path: ["governance", "participants", key(0).hex],
    value: { weight: 3, name: "new" },
  });
  const { state: next } = applyEvent(state, add);
  equal(Object.keys(next.governance.participants).length, 1001);
  ok(reads <= 1, `names read again: ${reads}`);
});

Deno.test("verifier #9: the vote table after a membership change is derived, equal to a fresh one", () => {
  const gov = delegatingPage(2000, 9);
  const state = validateState({ governance: gov, branches: [] });
  const keys = Object.keys(gov.participants);
  const before = voteTable(state.governance);
  const page = "ab".repeat(32);
  const change = proposeEvent(page, page, "BATCH", {
    ops: [
      // A new participant delegating to an old one, one removed, one re-weighted and
      // re-delegated, and a threshold.
      {
        handler: "SET",
        args: {
          path: ["governance", "participants", key(0).hex],
          value: { weight: 5, delegations: { [keys[3]]: 0.5 } },
        },
      },
      { handler: "DELETE", args: { path: ["governance", "participants", keys[7]] } },
      {
        handler: "SET",
        args: {
          path: ["governance", "participants", keys[11]],
          value: { weight: 2, delegations: { [keys[7]]: 0.25, [key(0).hex]: 0.75 } },
        },
      },
      { handler: "SET", args: { path: ["governance", "thresholds", "content"], value: 0.5 } },
    ],
  });
  const next = applyEvent(state, change).state;
  const derived = voteTable(next.governance);
  const fresh = voteTable(structuredClone(next.governance));
  const norm = (t: typeof derived) => ({
    totalWeight: t.totalWeight,
    contentPpm: t.contentPpm,
    membershipPpm: t.membershipPpm,
    power: [...t.power].sort(),
    delegations: [...t.delegations].sort(),
    delegators: [...t.delegators].map(([k, v]) => [k, [...v].sort()]).sort(),
  });
  deepStrictEqual(norm(derived), norm(fresh));
  equal(derived.totalWeight, before.totalWeight - 1 + 5 + 1);
  // And it counts the same as the plain reference.
  const approvers = new Set([keys[3], keys[12], key(0).hex]);
  equal(
    countPower(derived, approvers, new Set()),
    referencePower(next.governance, approvers, new Set()),
  );
});

Deno.test("verifier #3: two checkpoints valid without equivocators: most power, then lowest id", () => {
  // Key 0 delegates all to key 3; key 3 weighs 2 (total 5, membership 0.6 → 3 needed). Keys
  // 0, 1, 2 sign one checkpoint (3 of power); key 3 alone signs the other (2 + key 0's 1): both
  // valid, nobody signed both. Every node must still pick the same one.
  const g = genesisOf(4, {
    weights: [1, 1, 1, 2],
    membership: 0.6,
    extra: { 0: { delegations: { [key(3).hex]: 1 } } },
  });
  const base = createPageLog(g);
  const a = content(base, base.pageId, "a.example");
  const b = content(base, base.pageId, "b.example");
  const objects = [a, b, ...approvals(a, [0, 1]), ...approvals(b, [3])];
  deliver(base, objects);
  const at = (ev: PageEvent): Checkpoint => {
    const s = base.stateAt(objectId(ev))!;
    return checkObject({
      type: "checkpoint",
      v: 1,
      page: base.pageId,
      prev: null,
      event: objectId(ev),
      height: 1,
      stateHash: stateHash(s),
      governance: s.governance,
    }, "checkpoint");
  };
  const ca = {
    checkpoint: at(a),
    approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, at(a))),
  };
  const cb = { checkpoint: at(b), approvals: [approveCheckpoint(key(3).secretKey, at(b))] };
  const lowest = [objectId(ca.checkpoint), objectId(cb.checkpoint)].sort()[0];
  for (const order of [[ca, cb], [cb, ca]]) {
    const log = createPageLog(g);
    deliver(log, objects);
    for (const l of order) equal(log.addCheckpoint(l), "added");
    deepStrictEqual(log.checkpoints().map((l) => objectId(l.checkpoint)), [lowest]);
    deepStrictEqual(log.checkpointEvidence(), []);
    const final = log.checkpoints()[0].checkpoint.event;
    equal(log.head(), final);
  }
});

Deno.test("verifier #7: the claim table keeps two claims per (parent, key), updated in place", () => {
  const table = createClaimTable(() => true);
  const page = "ab".repeat(32);
  const fake = (i: number): Approval => ({
    type: "approval",
    v: 1,
    page,
    parent: page,
    event: (i * 7919 % 8000).toString(16).padStart(64, "0"),
    key: key(0).hex,
    sig: "00".repeat(64),
  });
  let equivocated = 0;
  for (let i = 0; i < 8000; i++) if (table.record(fake(i)).equivocated) equivocated++;
  equal(equivocated, 1, "becomes an equivocator once");
  const c = table.at(page)!.byKey.get(key(0).hex)!;
  deepStrictEqual(
    [c.first.event, c.second!.event],
    [0, 1].map((i) => i.toString(16).padStart(64, "0")),
  );
  equal(table.at(page)!.version, 1, "one change of the excluded set, not one per claim");
});
