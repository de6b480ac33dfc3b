import assert from "node:assert/strict";
import {
  approve,
  approveCheckpoint,
  canonicalize,
  type CheckpointLink,
  createCheckpoint,
  createPageLog,
  objectId,
  openFromCheckpoint,
  type PageEvent,
  type PageLog,
  proposeEvent,
} from "../lib/page/mod.ts";
import {
  fromStoredObject,
  loadPageLog,
  openStore,
  pageLogBatch,
  prunePage,
  type Store,
  toStoredObject,
} from "../lib/store/mod.ts";
import { approvals, branch, genesisOf, key } from "./page_fixtures.ts";

function add(log: PageLog, ev: PageEvent, who: number[]): string {
  log.addEvent(ev);
  for (const a of approvals(ev, who)) log.addApproval(a);
  return objectId(ev);
}

function grow(log: PageLog, n: number, who: number[], tag: string): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(add(
      log,
      proposeEvent(log.pageId, log.head(), "ADD_BRANCH", { branch: branch(`${tag}${i}.example`) }),
      who,
    ));
  }
  return ids;
}

/**
 * A page exercising what the verifier accepts: content and membership changes, a delegation, an
 * accepted fork, a pending event, an equivocation (evidence), a checkpoint and events after it.
 */
function busyPage(): { log: PageLog; cp: CheckpointLink; pending: string } {
  const log = createPageLog(genesisOf(4, { nonce: "store round trip" }));
  grow(log, 4, [0, 1], "a");
  add(
    log,
    proposeEvent(log.pageId, log.head(), "SET_DELEGATIONS", {
      participant: key(3).hex,
      delegations: { [key(0).hex]: 1 },
    }),
    [3],
  );
  // Two disjoint groups accept conflicting children (0.34 allows it); fork choice decides.
  const base = log.head();
  add(log, proposeEvent(log.pageId, base, "ADD_BRANCH", { branch: branch("x.example") }), [0]);
  add(log, proposeEvent(log.pageId, base, "ADD_BRANCH", { branch: branch("y.example") }), [1, 2]);
  grow(log, 2, [0, 1], "b");
  // Key 2 approves two children of one parent: equivocation, kept as evidence.
  const p = log.head();
  const z1 = proposeEvent(log.pageId, p, "ADD_BRANCH", { branch: branch("z1.example") });
  const z2 = proposeEvent(log.pageId, p, "ADD_BRANCH", { branch: branch("z2.example") });
  log.addEvent(z1);
  log.addEvent(z2);
  log.addApproval(approve(key(2).secretKey, z1));
  log.addApproval(approve(key(2).secretKey, z2));
  assert.ok(log.evidence().length > 0, "equivocation detected");
  add(log, proposeEvent(log.pageId, p, "ADD_BRANCH", { branch: branch("c.example") }), [0, 1]);
  // Membership: key 4 joins (Track 2).
  add(
    log,
    proposeEvent(log.pageId, log.head(), "SET", {
      path: ["governance", "participants", key(4).hex],
      value: { weight: 1 },
    }),
    [0, 1, 2],
  );
  const checkpoint = createCheckpoint(log);
  const cp = {
    checkpoint,
    approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, checkpoint)),
  };
  assert.equal(log.addCheckpoint(cp), "added");
  grow(log, 3, [1, 4], "d");
  const pending = add(
    log,
    proposeEvent(log.pageId, log.head(), "ADD_BRANCH", { branch: branch("pending.example") }),
    [4],
  );
  assert.equal(log.status(pending).status, "pending");
  return { log, cp, pending };
}

function assertSameLog(got: PageLog, want: PageLog, what: string) {
  assert.equal(got.head(), want.head(), `${what}: head`);
  assert.equal(got.stateHash(), want.stateHash(), `${what}: state hash`);
  assert.equal(canonicalize(got.state()), canonicalize(want.state()), `${what}: state`);
  // A pruned log starts its chain at the root checkpoint: compare the common suffix.
  const g = got.headChain();
  assert.deepEqual(g, want.headChain().slice(-g.length), `${what}: head chain`);
  // The first id is the log's root (genesis or checkpoint event), which has no vote of its own.
  for (const id of g.slice(1)) {
    assert.deepEqual(got.status(id), want.status(id), `${what}: status of ${id}`);
  }
}

function assertStoredHead(store: Store, log: PageLog) {
  const page = store.getPage(log.pageId)!;
  assert.equal(page.headId, log.head());
  assert.equal(page.stateHash, log.stateHash());
  assert.equal(page.state, canonicalize(log.state()));
}

Deno.test("store round trip: a verified page log is stored and reloaded to the same head and state", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  try {
    const { log, pending } = busyPage();
    let store = openStore(dir);
    const batch = pageLogBatch(log);
    store.putBatch({ ...batch, follow: [{ pageId: log.pageId, following: true }] });
    store.close();

    store = openStore(dir);
    try {
      // The materialized head and state are read back as written, without recomputing.
      assertStoredHead(store, log);
      // Every row decodes to an object with the same bytes and id.
      for (const row of store.objectsOf(log.pageId)) {
        assert.deepEqual(toStoredObject(fromStoredObject(row)), row);
      }
      assert.equal(store.objectsOf(log.pageId).length, batch.objects!.length);
      assert.equal(store.stats().evidence, log.evidence().length);
      // Replaying what is stored gives the same verdicts.
      const reloaded = loadPageLog(store, log.pageId);
      assertSameLog(reloaded, log, "reloaded");
      assert.equal(reloaded.status(pending).status, "pending");
      assert.deepEqual(
        reloaded.evidence().map(objectId).sort(),
        log.evidence().map(objectId).sort(),
      );

      // Pruning to the checkpoint keeps a log that still reloads to the same head.
      const r = prunePage(store, log.pageId);
      assert.ok(r.events > 0 && r.approvals > 0, JSON.stringify(r));
      const pruned = loadPageLog(store, log.pageId);
      assertSameLog(pruned, log, "pruned");

      // The page goes on: a new event verified by the full log is stored incrementally.
      const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
        branch: branch("new.example"),
      });
      log.addEvent(ev);
      const apps = approvals(ev, [1, 4]);
      for (const a of apps) log.addApproval(a);
      store.putBatch({
        objects: [ev, ...apps].map(toStoredObject),
        heads: [{
          pageId: log.pageId,
          headId: log.head(),
          state: canonicalize(log.state()),
          stateHash: log.stateHash(),
        }],
      });
    } finally {
      store.close();
    }
    store = openStore(dir);
    try {
      assertStoredHead(store, log);
      assertSameLog(loadPageLog(store, log.pageId), log, "after prune and growth");
    } finally {
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store round trip: a node started from a checkpoint stores and reloads its root", () => {
  const dir = Deno.makeTempDirSync({ prefix: "djdns-store-" });
  try {
    const { log, cp } = busyPage();
    const atCp = log.stateAt(cp.checkpoint.event)!;
    const light = openFromCheckpoint(log.genesis, [cp], atCp);
    for (const e of log.events()) {
      const id = objectId(e);
      if (log.height(id) !== undefined && log.height(id)! > cp.checkpoint.height) {
        light.addEvent(e);
        for (const a of log.approvals(id)) light.addApproval(a);
      }
    }
    assert.equal(light.head(), log.head());
    let store = openStore(dir);
    store.putBatch(
      pageLogBatch(light, { checkpointId: objectId(cp.checkpoint), state: canonicalize(atCp) }),
    );
    store.close();
    store = openStore(dir);
    try {
      assertStoredHead(store, log);
      assert.equal(store.getPage(log.pageId)!.rootCheckpointId, objectId(cp.checkpoint));
      assertSameLog(loadPageLog(store, log.pageId), log, "light reload");
    } finally {
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
