/**
 * The table of questions being resolved (lib/server/inflight.ts): shared resolutions, the bounds
 * on waiters per question and in total, and old questions giving way to new ones.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createInflight, DROPPED } from "../lib/server/inflight.ts";
import { createResponder } from "../lib/server/responder.ts";
import { buildQuery, header } from "./helpers/raw_dns.ts";

function deferred<T>() {
  return Promise.withResolvers<T>();
}

Deno.test("inflight: identical questions share one resolution", async () => {
  const t = createInflight<string>({ perQuestion: 4, total: 100, jostleMs: 1000 }, () => 0);
  let started = 0;
  const d = deferred<string>();
  const start = () => (started++, d.promise);
  const a = t.join("q", start)!;
  const b = t.join("q", start)!;
  assert.equal(started, 1);
  assert.equal(t.waiting, 2);
  assert.equal(t.questions, 1);
  d.resolve("answer");
  assert.deepEqual(await Promise.all([a, b]), ["answer", "answer"]);
  await Promise.resolve();
  assert.equal(t.waiting, 0);
  assert.equal(t.questions, 0);
});

Deno.test("inflight: waiters per question are bounded", () => {
  const t = createInflight<string>({ perQuestion: 3, total: 100, jostleMs: 1000 }, () => 0);
  const never = () => new Promise<string>(() => {});
  for (let i = 0; i < 3; i++) assert.ok(t.join("flood", never));
  for (let i = 0; i < 1000; i++) assert.equal(t.join("flood", never), null);
  assert.equal(t.waiting, 3);
  assert.equal(t.refused, 1000);
  // Other questions are not affected.
  assert.ok(t.join("other", never));
});

Deno.test("inflight: the total is bounded; a question older than jostleMs gives way", async () => {
  let clock = 0;
  const t = createInflight<string>({ perQuestion: 10, total: 4, jostleMs: 100 }, () => clock);
  const never = () => new Promise<string>(() => {});
  const old = [t.join("dead1", never)!, t.join("dead1", never)!, t.join("dead2", never)!];
  clock = 50;
  assert.ok(t.join("dead3", never));
  // Full, and nothing has waited 100 ms yet: refused.
  assert.equal(t.join("fresh", never), null);
  clock = 120;
  // dead1 (the oldest, 2 waiters) gives way.
  const fresh = t.join("fresh", () => Promise.resolve("ok"))!;
  assert.ok(fresh);
  assert.equal(await old[0], DROPPED);
  assert.equal(await old[1], DROPPED);
  assert.equal(await fresh, "ok");
  await Promise.resolve();
  assert.equal(t.waiting, 2); // dead2, dead3
});

Deno.test("inflight: a failed resolution rejects every waiter and frees the slots", async () => {
  const t = createInflight<string>({}, () => 0);
  const d = deferred<string>();
  const a = t.join("q", () => d.promise)!;
  const b = t.join("q", () => d.promise)!;
  d.reject(new Error("upstream down"));
  await assert.rejects(a, /upstream down/);
  await assert.rejects(b, /upstream down/);
  await Promise.resolve();
  assert.equal(t.waiting, 0);
  const c = t.join("q", () => {
    throw new Error("sync throw");
  })!;
  await assert.rejects(c, /sync throw/);
});

Deno.test("inflight: beyond the bounds the responder drops UDP queries and SERVFAILs TCP ones", async () => {
  const answer = Promise.withResolvers<void>();
  const responder = createResponder({
    // A registry name whose resolution hangs (a dead dns:// target) until the test lets it go.
    resolve: async () => {
      await answer.promise;
      return {
        registry: true,
        rcode: 3,
        authoritative: true,
        answers: [],
        authorities: [],
        trace: [],
      };
    },
    inflight: { perQuestion: 2, total: 100, jostleMs: 1000 },
  });
  const q = (id: number) => buildQuery({ id, name: "hang.demo" });
  const udp = { transport: "udp" as const, recursion: true };
  const tcp = { transport: "tcp" as const, recursion: true };
  const first = responder.handle(q(1), udp);
  const second = responder.handle(q(2), tcp);
  assert.ok(first instanceof Promise && second instanceof Promise);
  // The question has its two waiters: a third over UDP gets nothing, over TCP a SERVFAIL.
  assert.equal(await responder.handle(q(3), udp), null);
  const servfail = await responder.handle(q(4), tcp);
  assert.ok(servfail);
  assert.deepEqual([header(servfail).id, header(servfail).rcode], [4, 2]);
  assert.equal(responder.stats.dropped, 2);
  answer.resolve();
  for (const [p, id] of [[first, 1], [second, 2]] as const) {
    const r = await p;
    assert.ok(r);
    assert.deepEqual([header(r).id, header(r).rcode], [id, 3]);
  }
});

Deno.test("inflight: when every upstream slot is taken, UDP is dropped and TCP gets SERVFAIL", async () => {
  const overloaded = Object.assign(new Error("too many queries in flight"), {
    name: "ForwardError",
    kind: "overloaded",
  });
  const responder = createResponder({
    resolve: () => Promise.resolve({ registry: false, trace: [] }),
    forward: () => Promise.reject(overloaded),
  });
  const q = (id: number) => buildQuery({ id, name: "www.example.net" });
  assert.equal(await responder.handle(q(1), { transport: "udp", recursion: true }), null);
  const r = await responder.handle(q(2), { transport: "tcp", recursion: true });
  assert.ok(r);
  assert.deepEqual([header(r).id, header(r).rcode], [2, 2]);
  assert.equal(responder.stats.dropped, 2);
  assert.equal(responder.stats.errors, 0);
});
