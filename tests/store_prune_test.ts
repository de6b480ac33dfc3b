import assert from "node:assert/strict";
import { openStore, type StoredObject, StoreError } from "../lib/store/mod.ts";
import {
  approval,
  chain,
  checkpoint,
  child,
  evidence,
  genesis,
  headAt,
  keyOf,
  sha256Hex,
} from "./fixtures/store/objects.ts";

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "djdns-store-" });
}

function assertStoreError(fn: () => unknown, code: string, pattern?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StoreError, `expected StoreError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

function checkpointApproval(cp: StoredObject, signer: string): StoredObject {
  const bytes = new TextEncoder().encode(JSON.stringify({ checkpoint: cp.id, key: keyOf(signer) }));
  return {
    kind: "checkpoint-approval",
    id: sha256Hex(bytes),
    pageId: cp.pageId,
    parentId: cp.id,
    signer: keyOf(signer),
    bytes,
  };
}

/** g → e[0..9] with a fork f[0..1] off e[2], approvals everywhere, evidence, a checkpoint at e[5]. */
function history() {
  const g = genesis("prune");
  const e = chain(g, 10, "main");
  const f = chain(e[2], 2, "fork");
  const approvals = [...e, ...f].map((x) => approval(x, "alice"));
  const oldEvidence = evidence(g.id, e[1].id, "mallory"); // about children of e[1]: pruned
  const newEvidence = evidence(g.id, e[7].id, "mallory"); // about children of e[7]: kept
  const cp = checkpoint(e[5]);
  const cpApproval = checkpointApproval(cp, "alice");
  return { g, e, f, approvals, oldEvidence, newEvidence, cp, cpApproval };
}

Deno.test("store prune: keeps genesis, checkpoint chain, anchor and descendants; drops the rest", () => {
  const dir = tempDir();
  try {
    const h = history();
    const { g, e, f, cp } = h;
    const store = openStore(dir);
    store.putBatch({
      objects: [g, ...e, ...f, ...h.approvals, h.oldEvidence, h.newEvidence, cp, h.cpApproval],
      heads: [headAt(e[9])],
      follow: [{ pageId: g.id, following: true }],
    });
    const before = store.getPage(g.id)!;
    assert.equal(before.objects, 1 + 12 + 12 + 2 + 2);

    // The state at the anchor is needed to restart the page log from the checkpoint.
    assertStoreError(() => store.prune(g.id), "invariant", /needs the state at its event/);
    assert.equal(store.getPage(g.id)!.objects, before.objects, "nothing removed");

    const anchorState = headAt(e[5]).state;
    const r = store.prune(g.id, { anchorState });
    assert.deepEqual(r, {
      pageId: g.id,
      checkpointId: cp.id,
      anchorId: e[5].id,
      events: 5 + 2, // e[0..4] and the fork
      approvals: 7 + 1, // theirs, and the anchor's (the checkpoint certifies it)
      evidence: 1,
    });
    const kept = [g, ...e.slice(5)].map((x) => x.id);
    assert.deepEqual(store.eventsOf(g.id).map((x) => x.id), kept);
    assert.deepEqual(
      store.objectsOf(g.id, "approval").map((a) => a.parentId),
      e.slice(6).map((x) => x.id),
    );
    assert.deepEqual(store.objectsOf(g.id, "evidence"), [h.newEvidence]);
    assert.deepEqual(store.objectsOf(g.id, "checkpoint"), [cp]);
    assert.deepEqual(store.objectsOf(g.id, "checkpoint-approval"), [h.cpApproval]);
    assert.deepEqual(store.rootOf(g.id), { checkpointId: cp.id, state: anchorState });
    const after = store.getPage(g.id)!;
    assert.equal(after.headId, e[9].id);
    assert.equal(after.rootCheckpointId, cp.id);
    assert.equal(after.objects, 1 + 5 + 4 + 1 + 1 + 1);
    assert.equal(after.bytes, store.objectsOf(g.id).reduce((n, o) => n + o.bytes.length, 0));

    // History before the anchor cannot come back in; the page goes on from its head.
    assertStoreError(() => store.putBatch({ objects: [child(e[1], "late")] }), "invariant");
    store.putBatch({ objects: [child(e[9], "next")], heads: [headAt(child(e[9], "next"))] });
    // Pruning again to the root needs no state and removes nothing.
    assert.equal(store.prune(g.id).events, 0);
    store.close();

    const again = openStore(dir, { integrityCheck: "full" });
    try {
      assert.equal(again.getPage(g.id)!.rootCheckpointId, cp.id);
      assert.equal(again.eventsOf(g.id).length, 7);
      assert.deepEqual(again.checkIntegrity("full"), []);
    } finally {
      again.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store prune: refuses checkpoints off the head's history, unknown pages and checkpoints", () => {
  const dir = tempDir();
  const store = openStore(dir);
  try {
    const h = history();
    const { g, e, f } = h;
    const forkCp = checkpoint(f[1], "fork");
    store.putBatch({ objects: [g, ...e, ...f, forkCp], heads: [headAt(e[9])] });
    assertStoreError(
      () => store.prune(g.id, { checkpointId: forkCp.id, anchorState: "{}" }),
      "invariant",
      /not on the history/,
    );
    assertStoreError(
      () => store.prune(g.id, { anchorState: "{}" }),
      "not-found",
      /no checkpoint on its head's history/,
    );
    assertStoreError(
      () => store.prune(g.id, { checkpointId: h.cp.id, anchorState: "{}" }),
      "not-found",
    );
    assertStoreError(() => store.prune(genesis("nowhere").id), "not-found", /not in the store/);
    assert.equal(store.eventsOf(g.id).length, 13);
    // When the head is the anchor, its state is the anchor state.
    store.putBatch({ objects: [h.cp] });
    store.setHead(headAt(e[5]));
    assert.equal(store.prune(g.id).events, 5 + 2);
    assert.equal(store.rootOf(g.id)!.state, headAt(e[5]).state);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store prune: a checkpoint-started page and its roots", () => {
  const dir = tempDir();
  const store = openStore(dir);
  try {
    const { g, e, cp, cpApproval } = history();
    // A new node: genesis, checkpoint with approvals and state, then the events after it.
    store.putBatch({
      objects: [g, cp, cpApproval, ...e.slice(6)],
      roots: [{ pageId: g.id, checkpointId: cp.id, state: headAt(e[5]).state }],
      heads: [headAt(e[9])],
    });
    assert.equal(store.getPage(g.id)!.rootCheckpointId, cp.id);
    assertStoreError(
      () => store.putBatch({ roots: [{ pageId: g.id, checkpointId: e[3].id, state: "{}" }] }),
      "invariant",
      /not a stored checkpoint/,
    );
    assertStoreError(
      () => store.putBatch({ objects: [checkpointApproval(checkpoint(e[7]), "bob")] }),
      "invariant",
      /not a stored checkpoint of its page/,
    );
    // The anchor e[5] was never stored; pruning to the root keeps everything after it.
    const r = store.prune(g.id);
    assert.equal(r.anchorId, e[5].id);
    assert.equal(r.events, 0);
    assert.equal(store.eventsOf(g.id).length, 5);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("store prune: freed space goes back to the file system", () => {
  const dir = tempDir();
  try {
    const g = genesis("big");
    const events = chain(g, 4000, "big");
    let store = openStore(dir);
    for (let i = 0; i < events.length; i += 1000) {
      store.putBatch({ objects: [...(i === 0 ? [g] : []), ...events.slice(i, i + 1000)] });
    }
    store.putBatch({ objects: [checkpoint(events[3990])], heads: [headAt(events[3999])] });
    store.close(); // folds the log into the database file, so file sizes compare
    store = openStore(dir);
    try {
      const before = store.stats();
      assert.equal(before.walBytes, 0);
      assertStoreError(
        () => store.prune(g.id, { anchorState: "{}" }),
        "invariant",
        /the state does not hash to the state hash checkpoint .* commits to/,
      );
      const anchorState = headAt(events[3990]).state;
      assert.equal(store.prune(g.id, { anchorState }).events, 3990);
      const after = store.stats();
      assert.equal(after.events, 11);
      assert.ok(
        after.databaseBytes < before.databaseBytes / 4,
        `database ${before.databaseBytes} -> ${after.databaseBytes} bytes`,
      );
      assert.ok(after.freePages < 10, `${after.freePages} free pages left`);
      assert.equal(after.walBytes, 0, "log truncated after prune");
    } finally {
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
