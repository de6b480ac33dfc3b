/**
 * A node whose trust anchor carries a checkpoint chain starts from the newest checkpoint (no
 * older history), stores it, takes later changes from a peer that holds the whole history, and
 * reopens from its store at the same head.
 */
import assert from "node:assert/strict";
import { openPageSet } from "../lib/node/pages.ts";
import {
  approve,
  approveCheckpoint,
  createCheckpoint,
  createGenesis,
  createPageLog,
  objectId,
  proposeEvent,
  type SignedObject,
} from "../lib/page/mod.ts";
import { openStore } from "../lib/store/mod.ts";
import { createReplica, parseRequest, parseResponse, respond, syncWith } from "../lib/sync/mod.ts";
import { branch, key } from "./page_fixtures.ts";

Deno.test("checkpoint start: a node opens from the anchor's newest checkpoint and catches up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "djdns-cpstart-" });
  const genesis = createGenesis({
    participants: { [key(1).hex]: { weight: 1 } },
    branches: [branch("www.cp.test")],
  });
  const page = objectId(genesis);
  const full = createPageLog(genesis);
  const history: SignedObject[] = [];
  const step = (name: string) => {
    const ev = proposeEvent(page, full.head(), "ADD_BRANCH", { branch: branch(name) });
    const a = approve(key(1).secretKey, ev);
    full.addEvent(ev);
    full.addApproval(a);
    history.push(ev, a);
    return ev;
  };
  step("one.cp.test");
  const two = step("two.cp.test");
  const cp = createCheckpoint(full, objectId(two));
  const cpa = approveCheckpoint(key(1).secretKey, cp);
  full.addCheckpoint({ checkpoint: cp, approvals: [cpa] });
  const anchor = {
    page,
    genesis,
    checkpoints: [{ checkpoint: cp, approvals: [cpa] }],
    state: full.stateAt(objectId(two))!,
  };
  const three = step("three.cp.test");
  // The peer holding everything.
  const peer = createReplica(full, [...history, cp, cpa]);
  const peerHost = {
    replica: (id: string) => (id === page ? peer : undefined),
    followed: () => [peer],
    ingest: () => [],
  };
  const open = (store: ReturnType<typeof openStore>) =>
    openPageSet({
      store,
      anchor,
      follow: "used",
      unusedMs: 60_000,
      fetchDeadlineMs: 1000,
      now: () => 0,
      onChange: () => {},
      log: () => {},
    });
  let store = openStore(dir);
  try {
    let ps = open(store);
    const r = ps.replica(page)!;
    assert.equal(r.log.head(), objectId(two), "started at the checkpoint, without history");
    assert.equal(r.log.height(r.log.head()), 2);
    const call = (req: unknown) =>
      Promise.resolve(parseResponse(JSON.parse(JSON.stringify(
        respond(peerHost, parseRequest(JSON.parse(JSON.stringify(req))), "new"),
      ))));
    const first = await syncWith(ps, call, "peer");
    assert.equal(r.log.head(), objectId(three), "caught up past the checkpoint");
    // The history before the checkpoint was offered once; it is held, not asked for again.
    const again = await syncWith(ps, call, "peer");
    assert.equal(again.pulled, 0, `pulled again: ${again.pulled} (first session ${first.pulled})`);
    store.close();
    store = openStore(dir);
    ps = open(store);
    assert.equal(ps.replica(page)!.log.head(), objectId(three), "reopened from the store");
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
