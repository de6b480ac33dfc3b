/**
 * lib/sync without sockets: range-based reconciliation finds exactly the difference at a cost
 * that follows the difference, replicas classify objects from strangers, and two replicas
 * converge through the real session code over an in-memory transport.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../lib/crypto/mod.ts";
import { createPageLog, objectId, proposeEvent, type SignedObject } from "../lib/page/mod.ts";
import {
  createIdSet,
  createPeerBook,
  createReplica,
  type Diff,
  initiate,
  isDone,
  parseRequest,
  ProtocolError,
  reconcile,
  ReconcileError,
  type Replica,
  respond,
  type SyncHost,
  syncWith,
} from "../lib/sync/mod.ts";
import { approvals, branch, genesisOf, prng } from "./page_fixtures.ts";

function ids(seed: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => sha256Hex(`${seed}/${i}`));
}

function run(a: string[], b: string[]) {
  const sa = createIdSet(a), sb = createIdSet(b);
  const diff: Diff = { need: new Set(), have: new Set() };
  let out = initiate(sa);
  let rounds = 0, ranges = 0, idsSent = 0;
  const count = (m: readonly { m: string; ids?: readonly string[] }[]) => {
    ranges += m.length;
    for (const r of m) idsSent += r.ids?.length ?? 0;
  };
  for (; rounds < 40; rounds++) {
    count(out);
    const reply = reconcile(sb, JSON.parse(JSON.stringify(out)));
    count(reply);
    out = reconcile(sa, JSON.parse(JSON.stringify(reply)), diff);
    if (isDone(out)) break;
  }
  return { diff, rounds: rounds + 1, ranges, idsSent };
}

Deno.test("reconcile: finds exactly the symmetric difference", () => {
  const rand = prng(7);
  for (const [n, d] of [[0, 0], [0, 5], [10, 3], [1000, 0], [1000, 1], [5000, 40], [300, 300]]) {
    const common = ids(`c${n}`, n);
    const onlyA = ids(`a${n}${d}`, d).filter(() => rand() < 0.5);
    const onlyB = ids(`b${n}${d}`, d).filter(() => rand() < 0.7);
    const r = run([...common, ...onlyA], [...common, ...onlyB]);
    assert.deepEqual([...r.diff.have].sort(), onlyA.sort(), `have n=${n} d=${d}`);
    assert.deepEqual([...r.diff.need].sort(), onlyB.sort(), `need n=${n} d=${d}`);
  }
});

Deno.test("reconcile: cost follows the difference, not the set size", () => {
  const small = run(ids("x", 20_000), [...ids("x", 20_000), ...ids("y", 1)]);
  assert.ok(small.idsSent <= 2 * 32 + 2, `one difference in 20,000: ${small.idsSent} ids sent`);
  assert.ok(small.ranges < 200, `${small.ranges} ranges`);
  const equal = run(ids("x", 20_000), ids("x", 20_000));
  assert.equal(equal.rounds, 1);
  assert.equal(equal.idsSent, 0);
});

Deno.test("reconcile: malformed messages are refused", () => {
  const s = createIdSet(ids("m", 10));
  const bad: unknown[] = [
    null,
    [],
    [{ u: "~", m: "nope" }],
    [{ u: "abc", m: "skip" }],
    [{ u: "~", m: "fp", fp: "00", n: 1 }],
    [{ u: "~", m: "fp", fp: "0".repeat(32), n: -1 }],
    [{ u: "~", m: "ids", ids: ["zz"] }],
    [{ u: "~", m: "ids", ids: [ids("q", 1)[0], ids("q", 1)[0]] }],
    [{ u: "~", m: "skip", extra: 1 }],
    [{ u: "~", m: "skip" }, { u: "~", m: "skip" }],
    [{ u: ids("q", 1)[0], m: "skip" }],
  ];
  for (const m of bad) assert.throws(() => reconcile(s, m), ReconcileError, JSON.stringify(m));
});

/** A page with `n` accepted changes; objects in creation order. */
function history(n: number) {
  const genesis = genesisOf(1);
  const log = createPageLog(genesis);
  const objects: SignedObject[] = [];
  for (let i = 0; i < n; i++) {
    const ev = proposeEvent(log.pageId, log.head(), "ADD_BRANCH", {
      branch: branch(`n${i}.example`),
    });
    const [a] = approvals(ev, [0]);
    log.addEvent(ev);
    log.addApproval(a);
    objects.push(ev, a);
  }
  return { genesis, log, objects };
}

function host(replica: Replica, bans = createPeerBook()): SyncHost & { bad: number } {
  const h = {
    bad: 0,
    replica: (id: string) => (id === replica.pageId ? replica : undefined),
    followed: () => [replica],
    ingest(objects: readonly unknown[], source: string | undefined, _how: string) {
      const { results } = replica.ingest(objects as SignedObject[]);
      for (const r of results) {
        if (r.outcome === "invalid") {
          h.bad++;
          if (source) bans.note(source, "invalid", 0);
        }
      }
      return results;
    },
  };
  return h;
}

Deno.test("replica: classifies added, duplicate, held and invalid objects", () => {
  const { genesis, objects } = history(3);
  const r = createReplica(createPageLog(genesis), []);
  const [e0, a0, e1, a1] = objects;
  // The child before its parent, an approval before its event: held.
  const first = r.ingest([e1, a1]).results.map((x) => x.outcome);
  assert.deepEqual(first, ["held", "held"]);
  const second = r.ingest([e0, a0, e1]);
  assert.deepEqual(second.results.map((x) => x.outcome), ["added", "added", "duplicate"]);
  // The held child and its approval are stored once their parent arrived.
  assert.deepEqual(
    new Set(second.persist.map(objectId)),
    new Set([e0, a0, e1, a1].map(objectId)),
  );
  assert.equal(second.headChanged, true);
  assert.equal(r.log.head(), objectId(e1));
  assert.deepEqual(r.ingest([a0]).results.map((x) => x.outcome), ["duplicate"]);
  const forged = { ...(a1 as { sig: string }), sig: "0".repeat(128) } as unknown as SignedObject;
  const bad = r.ingest([forged, { type: "event" } as unknown as SignedObject, genesisOf(2)]);
  assert.deepEqual(bad.results.map((x) => x.outcome), ["invalid", "invalid", "invalid"]);
  assert.deepEqual(bad.persist, []);
});

Deno.test("sync session: two replicas converge, pulling and pushing only the difference", async () => {
  const { genesis, objects } = history(40);
  const a = createReplica(createPageLog(genesis), []);
  const b = createReplica(createPageLog(genesis), []);
  a.ingest(objects.slice(0, 70));
  b.ingest(objects.slice(0, 60));
  b.ingest(objects.slice(70)); // held: b has the tail but not the middle
  const ha = host(a), hb = host(b);
  const call = (req: unknown) =>
    Promise.resolve(
      JSON.parse(JSON.stringify(respond(hb, parseRequest(JSON.parse(JSON.stringify(req))), "A"))),
    );
  const report = await syncWith(ha, call, "B");
  assert.equal(a.log.head(), b.log.head());
  assert.equal(a.summary().fp, b.summary().fp);
  assert.equal(a.log.head(), objectId(objects[78]));
  assert.equal(report.pulled, 10, "b's tail: exactly what a lacked");
  assert.equal(report.pushed, 10, "a's middle: exactly what b lacked");
  assert.equal(ha.bad + hb.bad, 0);
  const again = await syncWith(ha, call, "B");
  assert.deepEqual(again, { pages: 0, rounds: 0, pulled: 0, pushed: 0, undelivered: 0 });
});

Deno.test("sync session: a peer advertising a head it does not deliver is reported", async () => {
  const { genesis, objects } = history(5);
  const a = createReplica(createPageLog(genesis), []);
  const liar = createReplica(createPageLog(genesis), []);
  liar.ingest(objects);
  const reported: string[] = [];
  const ha = { ...host(a), undelivered: (peer: string) => void reported.push(peer) };
  const hl = host(liar);
  // The liar answers summaries and reconciliation honestly but withholds every object.
  const call = (req: unknown) => {
    const r = respond(hl, parseRequest(req), "A");
    return Promise.resolve(r.t === "objs" ? { t: "objs" as const, objects: [] } : r);
  };
  const report = await syncWith(ha, call, "L");
  assert.equal(report.undelivered, 1);
  assert.deepEqual(reported, ["L"]);
  assert.equal(a.log.head(), objectId(genesis));
});

Deno.test("sync messages: parseRequest refuses junk", () => {
  const junk: unknown[] = [
    null,
    1,
    "x",
    {},
    { t: "sum" },
    { t: "sum", pages: [{}] },
    { t: "want", page: "x", ids: [] },
    { t: "want", page: "0".repeat(64), ids: new Array(1000).fill("0".repeat(64)) },
    { t: "objs", objects: new Array(10_000).fill(null) },
    { t: "fetch", page: "0".repeat(64), from: -1 },
    { t: "rec", page: "0".repeat(64), ranges: [], extra: true },
    { t: "__proto__" },
  ];
  for (const j of junk) assert.throws(() => parseRequest(j), ProtocolError, JSON.stringify(j));
});

Deno.test("peer book: invalid data lowers the score, repeats ban, bans expire and grow", () => {
  const book = createPeerBook(4);
  let banned = false;
  for (let i = 0; i < 3 && !banned; i++) banned = book.note("p", "invalid", 1000);
  assert.equal(banned, true);
  assert.ok(book.banned("p", 1001));
  const first = book.get("p")!.bannedUntil - 1000;
  assert.ok(!book.banned("p", 1000 + first + 1), "the ban expires");
  assert.equal(book.note("p", "invalid", 1000 + first + 2), true, "a repeat bans at once");
  assert.ok(book.get("p")!.bannedUntil - (1000 + first + 2) === 2 * first, "and for longer");
  for (let i = 0; i < 10; i++) book.seen(`q${i}`, i);
  assert.ok(book.list().length <= 4, "bounded");
  assert.ok(book.get("p"), "a banned peer is not evicted while banned");
});
