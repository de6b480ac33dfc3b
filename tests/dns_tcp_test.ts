/**
 * DNS over TCP against the real server (RFC 7766): pipelining and out-of-order answers, odd
 * framing, half-close, the idle timeout and the connection cap (oldest idle replaced).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fixtureRegistry, type RunningServer, startDjdns } from "./helpers/djdns.ts";
import { startUpstream, type TestUpstream } from "./helpers/upstream_server.ts";
import { buildQuery, concat, decode, frame, header, TcpClient } from "./helpers/raw_dns.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Delay of the test upstream: forwarded answers are slow, registry answers are not. */
const UPSTREAM_DELAY_MS = 300;

/** Starts a slow test upstream and a server over the fixture registry forwarding to it. */
async function withServer(
  extra: string[],
  body: (s: RunningServer, up: TestUpstream) => Promise<void>,
  delayMs = UPSTREAM_DELAY_MS,
): Promise<void> {
  const up = await startUpstream({
    zone: {
      "slow.example.net.": [{ type: "A", ttl: 60, data: "192.0.2.30" }],
      "late.example.net.": [{ type: "A", ttl: 60, data: "192.0.2.31" }],
    },
    delayMs,
  });
  let s: RunningServer | undefined;
  const dir = await fixtureRegistry(up.port);
  try {
    s = await startDjdns([
      "--pages",
      dir,
      "--upstream",
      `127.0.0.1:${up.port}`,
      ...extra,
    ]);
    await body(s, up);
  } finally {
    if (s) await s.stop("SIGKILL");
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads `n` replies, failing if the connection closes or stalls first. */
async function replies(c: TcpClient, n: number, timeoutMs = 3000): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const m = await c.next(Math.max(1, deadline - Date.now()));
    assert.ok(m, `got ${out.length} of ${n} replies (closed: ${c.isClosed})`);
    out.push(m);
  }
  return out;
}

/** Sends a normal query on a fresh connection and checks the answer. */
async function assertServing(port: number, why: string): Promise<void> {
  const c = await TcpClient.connect(port);
  try {
    const reply = await c.exchange(buildQuery({ id: 0x7777, name: "in.root.demo" }));
    assert.ok(reply, `no TCP answer after ${why}`);
    assert.equal(header(reply).id, 0x7777);
    assert.equal(header(reply).ancount, 1);
  } finally {
    await c.close();
  }
}

Deno.test("tcp: pipelining, framing, half-close and idle timeout (--tcp-idle 1)", async (t) => {
  await withServer(["--tcp-idle", "1"], async (s) => {
    const p = s.port;

    await t.step("pipelined queries are all answered, matched by id, fast ones first", async () => {
      const qs = [
        buildQuery({ id: 1, name: "slow.example.net" }), // forwarded: 300 ms upstream delay
        buildQuery({ id: 2, name: "In.Root.Demo" }),
        buildQuery({ id: 3, name: "mail.hype", qtype: 15 }),
        buildQuery({ id: 4, name: "nope.hype" }),
        buildQuery({ id: 5, name: "big.hype", qtype: 16 }),
      ];
      const c = await TcpClient.connect(p);
      try {
        // All five frames in one write.
        await c.write(Uint8Array.from(qs.flatMap((q) => [...frame(q)])));
        const got = await replies(c, qs.length);
        const ids = got.map((m) => header(m).id);
        assert.deepEqual([...ids].sort(), [1, 2, 3, 4, 5]);
        for (const m of got) {
          const q = qs[header(m).id - 1];
          assert.deepEqual(
            m.subarray(12, q.length),
            q.subarray(12),
            `question of id ${header(m).id}`,
          );
        }
        // The forwarded query must not hold back the registry answers queued behind it.
        assert.equal(ids[ids.length - 1], 1, `order ${ids}`);
        const byId = new Map(got.map((m) => [header(m).id, m]));
        assert.equal(header(byId.get(1)!).ancount, 1);
        assert.equal(header(byId.get(4)!).rcode, 3);
        assert.equal(header(byId.get(5)!).ancount, 3);
      } finally {
        await c.close();
      }
    });

    await t.step("frames split across writes and 100 uncached queries in flight", async () => {
      const c = await TcpClient.connect(p);
      try {
        // One frame delivered in three pieces, the length prefix itself split.
        const f = frame(buildQuery({ id: 10, name: "mail.hype", qtype: 15 }));
        // Pacing, not synchronisation: the pauses make the pieces arrive as separate reads.
        await c.write(f.subarray(0, 1));
        await sleep(30);
        await c.write(f.subarray(1, 9));
        await sleep(30);
        await c.write(f.subarray(9));
        const one = (await replies(c, 1))[0];
        assert.equal(header(one).id, 10);
        assert.equal(header(one).ancount, 1);
        // More queries than the per-connection in-flight bound (32), none of them cached.
        const many = Array.from(
          { length: 100 },
          (_, i) => frame(buildQuery({ id: 100 + i, name: `n${i}.pipe.hype` })),
        );
        await c.write(Uint8Array.from(many.flatMap((m) => [...m])));
        const got = await replies(c, 100, 5000);
        assert.deepEqual(
          got.map((m) => header(m).id).sort((a, b) => a - b),
          many.map((_, i) => 100 + i),
        );
        assert.ok(got.every((m) => header(m).rcode === 3));
      } finally {
        await c.close();
      }
    });

    await t.step("a zero length prefix gets no reply; the connection keeps working", async () => {
      const c = await TcpClient.connect(p);
      try {
        await c.write(Uint8Array.of(0, 0));
        const reply = await c.exchange(buildQuery({ id: 20, name: "in.root.demo" }));
        assert.ok(reply, `closed: ${c.isClosed}`);
        assert.equal(header(reply).id, 20, "the first reply is for the real query");
        assert.equal(await c.next(200), null, "a second reply (to the empty frame?)");
      } finally {
        await c.close();
      }
    });

    await t.step("a 65535-byte frame announced then abandoned: closed, server fine", async () => {
      // Half-close: the server sees EOF mid-frame and must close promptly (not at idle).
      const c = await TcpClient.connect(p);
      try {
        await c.write(concat(Uint8Array.of(0xff, 0xff), new Uint8Array(100)));
        const start = Date.now();
        await c.closeWrite();
        assert.ok(await c.waitClosed(900), "not closed after EOF in the middle of a frame");
        assert.ok(Date.now() - start < 900);
        assert.equal(await c.next(0), null);
      } finally {
        await c.close();
      }
      // Full close from our side.
      const d = await TcpClient.connect(p);
      await d.write(Uint8Array.of(0xff, 0xff, 1, 2, 3));
      await d.close();
      await assertServing(p, "abandoned 64 KiB frames");
    });

    await t.step("a query followed by a half-close is still answered", async () => {
      for (const name of ["late.example.net", "fresh.halfclose.hype"]) {
        const c = await TcpClient.connect(p);
        try {
          await c.send(buildQuery({ id: 30, name }));
          await c.closeWrite();
          const reply = await c.next(2000);
          assert.ok(reply, `${name}: closed without answering the query in flight`);
          assert.equal(header(reply).id, 30);
          assert.ok(await c.waitClosed(1500), "connection left open after the answer");
        } finally {
          await c.close();
        }
      }
    });

    await t.step("a half-sent frame then silence: closed after about 1 s", async () => {
      const c = await TcpClient.connect(p);
      try {
        const f = frame(buildQuery({ id: 40 }));
        const start = Date.now();
        await c.write(f.subarray(0, 10));
        assert.ok(await c.waitClosed(2500), "idle connection still open after 2.5 s");
        const took = Date.now() - start;
        assert.ok(took >= 800, `closed after ${took} ms, before the 1 s idle timeout`);
        assert.equal(await c.next(0), null);
      } finally {
        await c.close();
      }
    });

    await t.step("a connection asking every 400 ms outlives the idle timeout", async () => {
      const c = await TcpClient.connect(p);
      try {
        for (let i = 0; i < 4; i++) {
          const reply = await c.exchange(buildQuery({ id: 50 + i, name: "mail.hype", qtype: 15 }));
          assert.ok(reply, `closed after ${i} queries though never idle for 1 s`);
          assert.equal(header(reply).id, 50 + i);
          await sleep(400); // the scenario itself: a pause shorter than the idle timeout
        }
        assert.equal(c.isClosed, false);
      } finally {
        await c.close();
      }
    });
  });
});

Deno.test("tcp: --tcp-max 4: a new connection replaces the oldest idle one", async () => {
  await withServer(["--tcp-max", "4"], async (s) => {
    const p = s.port;
    const conns: TcpClient[] = [];
    try {
      // One at a time, each accept awaited before the next connect, so "the oldest" is the
      // first connected: the first four are answered (proof of accept, and idle again after);
      // each later one replaces the oldest still open, which the server then closes.
      for (let i = 0; i < 10; i++) {
        const c = await TcpClient.connect(p);
        conns.push(c);
        if (i < 4) {
          const reply = await c.exchange(buildQuery({ id: i, name: "in.root.demo" }), 3000);
          assert.equal(reply && header(reply).id, i, `connection ${i} was not answered`);
        } else {
          assert.ok(
            await conns[i - 4].waitClosed(3000),
            `connection ${i} did not replace connection ${i - 4}`,
          );
        }
      }
      // The newest four stay, and answer.
      const open = conns.flatMap((c, i) => c.isClosed ? [] : [i]);
      assert.deepEqual(open, [6, 7, 8, 9]);
      for (const i of open) {
        const reply = await conns[i].exchange(buildQuery({ id: 20 + i, name: "in.root.demo" }));
        assert.equal(reply && header(reply).id, 20 + i, `connection ${i} lost`);
      }
    } finally {
      for (const c of conns) await c.close();
    }
  });
});

Deno.test("tcp: --tcp-max 4: connections waiting for answers are not replaced", async () => {
  // The upstream takes 1.5 s: four connections each wait for a forwarded answer.
  await withServer(["--tcp-max", "4", "--upstream-timeout", "3000"], async (s, up) => {
    const p = s.port;
    const busy: TcpClient[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const c = await TcpClient.connect(p);
        busy.push(c);
        // Distinct names: identical questions in flight would share one upstream query.
        await c.send(buildQuery({ id: 10 + i, name: `n${i}.slow.example.net` }));
      }
      // All four are in flight once the upstream has them (it holds each answer 1.5 s).
      for (const deadline = Date.now() + 5000; up.queries < 4 && Date.now() < deadline;) {
        await sleep(10);
      }
      assert.equal(up.queries, 4);
      const extra = await TcpClient.connect(p);
      busy.push(extra);
      assert.ok(await extra.waitClosed(1000), "a fifth connection was kept while all were busy");
      for (const [i, c] of busy.slice(0, 4).entries()) {
        const reply = await c.next(3000);
        assert.ok(reply, `busy connection ${i} lost its answer`);
        assert.equal(header(reply).id, 10 + i);
      }
      // Now idle again: a new connection gets in.
      const again = await TcpClient.connect(p);
      busy.push(again);
      const reply = await again.exchange(buildQuery({ id: 99, name: "mail.hype", qtype: 15 }));
      assert.ok(reply, "no answer once the busy connections were idle");
      assert.equal(header(reply).id, 99);
      assert.equal(decode(reply).answers?.length, 1);
    } finally {
      for (const c of busy) await c.close();
    }
  }, 1500);
});

Deno.test("tcp: a connection waiting for a slow answer is not idle", async () => {
  // The upstream takes 1.3 s, longer than the 1 s idle timeout (and within the forwarder's).
  await withServer(["--tcp-idle", "1", "--upstream-timeout", "3000"], async (s) => {
    const c = await TcpClient.connect(s.port);
    try {
      const reply = await c.exchange(buildQuery({ id: 60, name: "slow.example.net" }), 3000);
      assert.ok(reply, "closed as idle while the answer was on its way");
      assert.equal(header(reply).ancount, 1);
      // Idle time counts from the answer: about 1 s more, then closed.
      const answered = Date.now();
      assert.ok(await c.waitClosed(2500), "not closed after the answer");
      const took = Date.now() - answered;
      assert.ok(took >= 700, `closed ${took} ms after the answer`);
    } finally {
      await c.close();
    }
  }, 1300);
});
