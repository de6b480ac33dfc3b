/** Checkpoints: a Track-2-approved chain; starting from one agrees with replaying from genesis. */
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  approve,
  approveCheckpoint,
  checkObject,
  type CheckpointLink,
  createCheckpoint,
  createPageLog,
  objectId,
  openFromCheckpoint,
  type PageLog,
  proposeEvent,
  stateHash,
  verifyCheckpointChain,
} from "../lib/page/mod.ts";
import { approvals, branch, genesisOf, key } from "./page_fixtures.ts";

/** Appends `n` accepted content events approved by keys `who`. */
function grow(log: PageLog, n: number, who: number[], tag: string): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
      branch: branch(`${tag}${i}.example`),
    });
    log.addEvent(ev);
    for (const a of approvals(ev, who)) log.addApproval(a);
    ids.push(objectId(ev));
  }
  return ids;
}

function link(log: PageLog, signers: number[], at?: string): CheckpointLink {
  const checkpoint = createCheckpoint(log, at);
  return {
    checkpoint,
    approvals: signers.map((i) => approveCheckpoint(key(i).secretKey, checkpoint)),
  };
}

Deno.test("checkpoint: a node started from a checkpoint agrees with one that replayed all", () => {
  const g = genesisOf(4);
  const full = createPageLog(g);
  grow(full, 10, [0, 1], "a");
  const cp1 = link(full, [0, 1, 2]);
  equal(full.addCheckpoint(cp1), "added");
  equal(full.addCheckpoint(cp1), "duplicate");
  // Membership changes after the first checkpoint: key 4 joins, key 3 leaves.
  const swap = proposeEvent(full.pageId, full.head(), "BATCH", {
    ops: [
      {
        handler: "SET",
        args: { path: ["governance", "participants", key(4).hex], value: { weight: 1 } },
      },
      { handler: "DELETE", args: { path: ["governance", "participants", key(3).hex] } },
    ],
  });
  full.addEvent(swap);
  for (const a of approvals(swap, [0, 1, 2])) full.addApproval(a);
  equal(full.head(), objectId(swap));
  grow(full, 5, [2, 4], "b");
  // The second checkpoint is approved under the first checkpoint's governance (keys 0..3).
  const cp2 = link(full, [0, 1, 3]);
  full.addCheckpoint(cp2);
  const tip = verifyCheckpointChain(g, [cp1, cp2]);
  deepStrictEqual(
    Object.keys(tip.governance.participants).sort(),
    [0, 1, 2, 4].map((i) => key(i).hex).sort(),
  );

  const light = openFromCheckpoint(g, [cp1, cp2], full.state());
  equal(light.head(), full.head());
  equal(light.stateHash(), full.stateHash());
  equal(light.height(light.head()), full.height(full.head()));
  // Both verify the same later events the same way, under the new participant set.
  const later = grow(full, 3, [2, 4], "c");
  for (const id of later) {
    const ev = full.events().find((e) => objectId(e) === id)!;
    light.addEvent(ev);
    for (const a of full.approvals(id)) light.addApproval(a);
  }
  equal(light.head(), full.head());
  equal(light.stateHash(), full.stateHash());
  // A removed participant's approval does not count any more.
  const ev = proposeEvent(full.pageId, full.head(), "DELETE", { path: ["branches", 0] });
  for (const l of [full, light]) l.addEvent(ev);
  throws(
    () => light.addApproval(approve(key(3).secretKey, ev)),
    { code: "not-participant" } as never,
  );
});

Deno.test("checkpoint: refused when under-approved, mis-chained, or with a wrong state", () => {
  const g = genesisOf(4);
  const full = createPageLog(g);
  grow(full, 3, [0, 1], "a");
  // 2 of 4 is below 0.70.
  throws(() => full.addCheckpoint(link(full, [0, 1])), { code: "bad-checkpoint" } as never);
  // A non-participant signer does not count (and is not needed to refuse): still 2 of 4.
  throws(() => full.addCheckpoint(link(full, [0, 1, 9])), { code: "bad-checkpoint" } as never);
  const good = link(full, [0, 1, 2]);
  // A forged checkpoint approval does not count either.
  const forged = {
    ...good,
    approvals: good.approvals.map((a, i) => i === 2 ? { ...a, key: key(3).hex } : a),
  };
  throws(() => full.addCheckpoint(forged), { code: "bad-checkpoint" } as never);
  // Signed statement about another state: the hash does not match what this node computed.
  const other = createPageLog(g);
  grow(other, 3, [2, 3], "x");
  const lie = link(other, [0, 1, 2]);
  throws(() => full.addCheckpoint(lie), { code: "not-ready" } as never);
  for (const e of other.events()) {
    full.addEvent(e);
  }
  const liar = { ...lie.checkpoint, event: full.head() };
  const signed = {
    checkpoint: liar,
    approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, liar)),
  };
  throws(() => full.addCheckpoint(signed), { code: "bad-checkpoint" } as never);
  // A light node given a state that is not the committed one.
  throws(() => openFromCheckpoint(g, [good], other.state()), { code: "bad-checkpoint" } as never);
  equal(full.checkpoints().length, 0);
  full.addCheckpoint(good);
  // A checkpoint whose previous checkpoint is not known cannot be judged yet.
  grow(full, 1, [0, 1], "b");
  const orphan = { ...createCheckpoint(full), prev: "ab".repeat(32) };
  throws(
    () =>
      full.addCheckpoint({
        checkpoint: orphan,
        approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, orphan)),
      }),
    { code: "not-ready" } as never,
  );
  equal(full.checkpoints().length, 1);
});

Deno.test("checkpoint: finality — the head chain passes through the latest checkpoint", () => {
  const g = genesisOf(5);
  const full = createPageLog(g);
  const a = proposeEvent(full.pageId, full.pageId, "ADD_BRANCH", { branch: branch("a.example") });
  const b = proposeEvent(full.pageId, full.pageId, "ADD_BRANCH", { branch: branch("b.example") });
  full.addEvent(a);
  full.addEvent(b);
  for (const x of approvals(a, [0, 1])) full.addApproval(x);
  for (const x of approvals(b, [2, 3, 4])) full.addApproval(x);
  equal(full.head(), objectId(b), "b has more power");
  throws(() => createCheckpoint(full, objectId(a)), { code: "not-ready" } as never);
  // Four of five sign a checkpoint at a (built by hand: a is not on the head chain).
  const state = full.stateAt(objectId(a))!;
  const cp = checkObject({
    type: "checkpoint",
    v: 1,
    page: full.pageId,
    prev: null,
    event: objectId(a),
    height: 1,
    stateHash: stateHash(state),
    governance: state.governance,
  }, "checkpoint");
  const signed = {
    checkpoint: cp,
    approvals: [0, 1, 2, 3].map((i) => approveCheckpoint(key(i).secretKey, cp)),
  };
  full.addCheckpoint(signed);
  equal(full.head(), objectId(a));
  equal(full.status(objectId(a)).finalized, true);
  equal(full.status(objectId(b)).status, "lost-fork");
  const light = openFromCheckpoint(g, [signed], state);
  equal(light.stateHash(), full.stateHash());
  // More approvals for b cannot move the head back past the checkpoint.
  full.addApproval(approve(key(0).secretKey, b));
  equal(full.head(), objectId(a));
});
