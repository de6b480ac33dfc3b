import assert from "node:assert/strict";
import type { DecodedPacket } from "dns-packet";
import { question } from "../lib/dns/question.ts";
import { createForwarder, ForwardError, type Upstream } from "../lib/forwarder/mod.ts";
import {
  type BadReply,
  SPOOFED_ADDRESS,
  startUpstream,
  type TestUpstream,
  type Zone,
} from "./helpers/upstream_server.ts";
import { ignoring, needs } from "./helpers/preconditions.ts";

const ZONE: Zone = {
  "www.example.test.": [{ type: "A", ttl: 120, data: "192.0.2.10" }],
  "alias.example.test.": [{ type: "CNAME", ttl: 60, data: "www.example.test" }],
};

const TIMEOUT_MS = 200;

const at = (u: TestUpstream): Upstream => ({ host: u.host, port: u.port });
const rcodeOf = (packet: unknown) => (packet as { rcode: string }).rcode;
const addresses = (packet: DecodedPacket) =>
  (packet.answers ?? []).flatMap((a) => a.type === "A" ? [a.data] : []);

async function rejection(promise: Promise<unknown>): Promise<ForwardError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ForwardError, `expected ForwardError, got ${err}`);
    return err;
  }
  assert.fail("expected the query to fail");
}

Deno.test("forwarder: answers from one upstream with RD and EDNS0", async () => {
  const up = await startUpstream({ zone: ZONE });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS });
  try {
    const result = await fwd.query(question("WWW.example.test.", "A", "IN"));
    assert.deepEqual(addresses(result.packet), ["192.0.2.10"]);
    assert.equal(rcodeOf(result.packet), "NOERROR");
    assert.equal(result.transport, "udp");
    assert.deepEqual(result.upstream, at(up));
    assert.ok(result.bytes.length > 12);
    const query = up.lastQuery!;
    assert.equal(query.flag_rd, true);
    const opt = query.additionals?.find((r) => r.type === "OPT") as
      | { udpPayloadSize: number; flag_do: boolean }
      | undefined;
    assert.equal(opt?.udpPayloadSize, 1232);
    assert.equal(opt?.flag_do, false);

    await fwd.query(question("www.example.test", "A", "IN"), {
      dnssecOk: true,
      recursionDesired: false,
    });
    assert.equal(up.lastQuery!.flag_rd, false);
    const opt2 = up.lastQuery!.additionals?.find((r) => r.type === "OPT") as { flag_do: boolean };
    assert.equal(opt2.flag_do, true);
    assert.equal(up.lastQuery!.flag_cd, false);

    await fwd.query(question("www.example.test", "A", "IN"), { checkingDisabled: true });
    assert.equal(up.lastQuery!.flag_cd, true);
  } finally {
    await fwd.close();
    await up.close();
  }
});

Deno.test("forwarder: fresh id and source port for every query", async () => {
  const up = await startUpstream({ zone: ZONE });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS });
  try {
    const ids = new Set<number>();
    const ports = new Set<number>();
    for (let i = 0; i < 8; i++) {
      await fwd.query(question("www.example.test", "A", "IN"));
      ids.add(up.lastQuery!.id!);
      ports.add(up.lastClient!.port);
    }
    // 8 draws from ~64k values: one repeat is possible but rare (p < 0.001); a fixed value is not.
    assert.ok(ids.size >= 7, `ids not random: ${[...ids]}`);
    assert.ok(ports.size >= 7, `source ports not random: ${[...ports]}`);
  } finally {
    await fwd.close();
    await up.close();
  }
});

Deno.test("forwarder: NXDOMAIN and NODATA are final answers, not failures", async () => {
  const first = await startUpstream({ zone: ZONE });
  const second = await startUpstream({ zone: ZONE });
  const fwd = createForwarder({ upstreams: [at(first), at(second)], timeoutMs: TIMEOUT_MS });
  try {
    const nx = await fwd.query(question("missing.example.test", "A", "IN"));
    assert.equal(rcodeOf(nx.packet), "NXDOMAIN");
    assert.equal(nx.packet.authorities?.[0]?.type, "SOA");
    const nodata = await fwd.query(question("www.example.test", "AAAA", "IN"));
    assert.equal(rcodeOf(nodata.packet), "NOERROR");
    assert.equal(nodata.packet.answers?.length, 0);
    const cname = await fwd.query(question("alias.example.test", "A", "IN"));
    assert.deepEqual(cname.packet.answers?.map((a) => a.type), ["CNAME", "A"]);
    assert.equal(second.queries, 0);
  } finally {
    await fwd.close();
    await Promise.all([first.close(), second.close()]);
  }
});

Deno.test("forwarder: fails over when the first upstream drops the query", async () => {
  const dead = await startUpstream({ zone: ZONE, dropAll: true });
  const live = await startUpstream({ zone: ZONE });
  const fwd = createForwarder({ upstreams: [at(dead), at(live)], timeoutMs: TIMEOUT_MS });
  try {
    const result = await fwd.query(question("www.example.test", "A", "IN"));
    assert.deepEqual(result.upstream, at(live));
    assert.equal(dead.queries, 1);
    // The failed upstream now ranks behind the one that answered.
    await fwd.query(question("www.example.test", "A", "IN"));
    assert.equal(dead.queries, 1);
    assert.equal(live.queries, 2);
  } finally {
    await fwd.close();
    await Promise.all([dead.close(), live.close()]);
  }
});

for (const rcode of ["SERVFAIL", "REFUSED"]) {
  Deno.test(`forwarder: fails over on ${rcode}`, async () => {
    const bad = await startUpstream({ zone: ZONE, rcode });
    const good = await startUpstream({ zone: ZONE });
    const fwd = createForwarder({ upstreams: [at(bad), at(good)], timeoutMs: TIMEOUT_MS });
    try {
      const started = performance.now();
      const result = await fwd.query(question("www.example.test", "A", "IN"));
      assert.deepEqual(result.upstream, at(good));
      assert.deepEqual(addresses(result.packet), ["192.0.2.10"]);
      assert.equal(bad.queries, 1);
      assert.ok(performance.now() - started < TIMEOUT_MS, "rcode failover must not wait");
    } finally {
      await fwd.close();
      await Promise.all([bad.close(), good.close()]);
    }
  });
}

Deno.test("forwarder: rcode failure on every upstream names them in the error", async () => {
  const a = await startUpstream({ rcode: "SERVFAIL" });
  const b = await startUpstream({ rcode: "REFUSED" });
  const fwd = createForwarder({ upstreams: [at(a), at(b)], timeoutMs: TIMEOUT_MS, attempts: 2 });
  try {
    const err = await rejection(fwd.query(question("www.example.test", "A", "IN")));
    assert.equal(err.kind, "exhausted");
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${a.port}/udp \\(SERVFAIL\\)`));
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${b.port}/udp \\(REFUSED\\)`));
  } finally {
    await fwd.close();
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("forwarder: timeout error when every upstream is dead, attempts rotate", async () => {
  const a = await startUpstream({ dropAll: true });
  const b = await startUpstream({ dropAll: true });
  const fwd = createForwarder({ upstreams: [at(a), at(b)], timeoutMs: 150, attempts: 3 });
  try {
    const started = performance.now();
    const err = await rejection(fwd.query(question("www.example.test", "A", "IN")));
    const elapsed = performance.now() - started;
    assert.equal(err.kind, "exhausted");
    assert.equal(err.tries.length, 3);
    assert.deepEqual(err.tries.map((t) => t.reason), ["timeout", "timeout", "timeout"]);
    assert.match(err.message, new RegExp(`:${a.port}/udp \\(timeout\\)`));
    assert.match(err.message, new RegExp(`:${b.port}/udp \\(timeout\\)`));
    assert.deepEqual([a.queries, b.queries], [2, 1]);
    assert.ok(elapsed >= 400 && elapsed < 3000, `took ${elapsed} ms`);
  } finally {
    await fwd.close();
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("forwarder: spoofed and malformed replies are ignored, the real one accepted", async () => {
  const badReplies: BadReply[] = [
    "wrong-id",
    "wrong-question",
    "wrong-type",
    "not-response",
    "wrong-source",
    "garbage",
  ];
  const up = await startUpstream({ zone: ZONE, badReplies, delayMs: 60 });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS, attempts: 1 });
  try {
    const result = await fwd.query(question("www.example.test", "A", "IN"));
    // All six arrived 60 ms before the real reply, each carrying SPOOFED_ADDRESS.
    assert.equal(up.badRepliesSent, badReplies.length);
    assert.deepEqual(addresses(result.packet), ["192.0.2.10"]);
  } finally {
    await fwd.close();
    await up.close();
  }
});

Deno.test("forwarder: control: a forged reply that passes every check is taken", async () => {
  // What the spoofing tests guard against, shown to happen: if this stopped taking the forged
  // answer, the bogus replies would no longer be reaching the forwarder and those tests would
  // prove nothing.
  const up = await startUpstream({ zone: ZONE, badReplies: ["forged"], badRepliesOnly: true });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS, attempts: 1 });
  try {
    const result = await fwd.query(question("www.example.test", "A", "IN"));
    assert.deepEqual(addresses(result.packet), [SPOOFED_ADDRESS]);
  } finally {
    await fwd.close();
    await up.close();
  }
});

const BOGUS = [
  "wrong-id",
  "wrong-question",
  "wrong-type",
  "not-response",
  "wrong-source",
  "garbage",
] as const;
for (const kind of BOGUS) {
  Deno.test(`forwarder: only a ${kind} reply ends in a timeout`, async () => {
    const up = await startUpstream({ zone: ZONE, badReplies: [kind], badRepliesOnly: true });
    const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: 150, attempts: 1 });
    try {
      const err = await rejection(fwd.query(question("www.example.test", "A", "IN")));
      // The bogus reply (carrying SPOOFED_ADDRESS) went to the forwarder's socket while it
      // waited; taking it would have resolved the query (see the control test above).
      assert.equal(up.badRepliesSent, 1);
      assert.equal(up.lastClient?.transport, "udp");
      assert.deepEqual(err.tries.map((t) => t.reason), ["timeout"]);
    } finally {
      await fwd.close();
      await up.close();
    }
  });
}

Deno.test("forwarder: question name matched case-insensitively (0x20)", async () => {
  const up = await startUpstream({ zone: ZONE, upcaseQuestion: true });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS, attempts: 1 });
  try {
    const result = await fwd.query(question("www.Example.test", "A", "IN"));
    assert.equal(result.packet.questions?.[0].name, "WWW.EXAMPLE.TEST");
  } finally {
    await fwd.close();
    await up.close();
  }
});

Deno.test("forwarder: TC=1 over UDP is retried over TCP on the same upstream", async () => {
  const up = await startUpstream({ zone: ZONE, truncateUdp: true });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS, attempts: 1 });
  try {
    const result = await fwd.query(question("www.example.test", "A", "IN"));
    assert.equal(result.transport, "tcp");
    assert.equal(result.packet.flag_tc, false);
    assert.deepEqual(addresses(result.packet), ["192.0.2.10"]);
    assert.deepEqual([up.udpQueries, up.tcpQueries], [1, 1]);
  } finally {
    await fwd.close();
    await up.close();
  }
});

Deno.test("forwarder: an answer too large for 1232 bytes arrives whole over TCP", async () => {
  const big = Array.from({ length: 40 }, (_, i) => ({
    type: "TXT",
    ttl: 60,
    data: `record ${i} ${"x".repeat(60)}`,
  }));
  const up = await startUpstream({ zone: { "big.example.test": big } });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS, attempts: 1 });
  try {
    const result = await fwd.query(question("big.example.test", "TXT", "IN"));
    assert.equal(result.transport, "tcp");
    assert.equal(result.packet.answers?.length, 40);
    assert.ok(result.bytes.length > 1232);
  } finally {
    await fwd.close();
    await up.close();
  }
});

const IPV6 = "forwarder: IPv6 upstream on ::1, over UDP and after TC=1 over TCP";
Deno.test({ name: IPV6, ignore: ignoring(IPV6, await needs.ipv6()) }, async () => {
  const up = await startUpstream({ host: "::1", zone: ZONE });
  const truncating = await startUpstream({ host: "::1", zone: ZONE, truncateUdp: true });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS, attempts: 1 });
  try {
    const result = await fwd.query(question("www.example.test", "A", "IN"));
    assert.deepEqual(addresses(result.packet), ["192.0.2.10"]);
    assert.equal(result.upstream.host, "::1");
    assert.equal(result.transport, "udp");
    const viaTcp = await fwd.query(question("www.example.test", "A", "IN"), {
      upstreams: [at(truncating)],
    });
    assert.deepEqual(addresses(viaTcp.packet), ["192.0.2.10"]);
    assert.equal(viaTcp.transport, "tcp");
  } finally {
    await fwd.close();
    await Promise.all([up.close(), truncating.close()]);
  }
});

Deno.test("forwarder: per-query upstreams override the configured ones", async () => {
  const configured = await startUpstream({ zone: ZONE });
  const target = await startUpstream({
    zone: { "www.example.test": [{ type: "A", data: "192.0.2.99" }] },
  });
  const fwd = createForwarder({ upstreams: [at(configured)], timeoutMs: TIMEOUT_MS });
  try {
    const result = await fwd.query(question("www.example.test", "A", "IN"), {
      upstreams: [at(target)],
    });
    assert.deepEqual(addresses(result.packet), ["192.0.2.99"]);
    assert.equal(configured.queries, 0);
  } finally {
    await fwd.close();
    await Promise.all([configured.close(), target.close()]);
  }
});

Deno.test("forwarder: in-flight queries are bounded, excess rejected at once", async () => {
  const up = await startUpstream({ zone: ZONE, delayMs: 100 });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: 400, maxInFlight: 2 });
  try {
    const first = fwd.query(question("www.example.test", "A", "IN"));
    const second = fwd.query(question("www.example.test", "A", "IN"));
    const started = performance.now();
    const err = await rejection(fwd.query(question("www.example.test", "A", "IN")));
    assert.equal(err.kind, "overloaded");
    assert.ok(performance.now() - started < 50, "overload must be rejected at once");
    await Promise.all([first, second]);
    const after = await fwd.query(question("www.example.test", "A", "IN"));
    assert.deepEqual(addresses(after.packet), ["192.0.2.10"]);
  } finally {
    await fwd.close();
    await up.close();
  }
});

Deno.test("forwarder: by default at most 256 queries are in flight, the next rejected at once", async () => {
  // A flood of fresh names at a dead upstream must not hold more sockets than this.
  const up = await startUpstream({ dropAll: true });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: 10_000 });
  const pending: Promise<ForwardError>[] = [];
  try {
    for (let i = 0; i < 256; i++) {
      pending.push(rejection(fwd.query(question(`n${i}.example.test`, "A", "IN"))));
    }
    const err = await rejection(fwd.query(question("one-more.example.test", "A", "IN")));
    assert.equal(err.kind, "overloaded");
    assert.match(err.message, /\(256\)/);
  } finally {
    await fwd.close();
    await up.close();
  }
  for (const e of await Promise.all(pending)) assert.equal(e.kind, "closed");
});

Deno.test("forwarder: close() rejects pending queries and later ones", async () => {
  const up = await startUpstream({ dropAll: true });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: 5_000 });
  try {
    const pending = rejection(fwd.query(question("www.example.test", "A", "IN")));
    // Close while the query is really out: once the upstream has received it.
    for (const deadline = Date.now() + 5000; up.queries === 0 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(up.queries, 1);
    const started = performance.now();
    await fwd.close();
    assert.equal((await pending).kind, "closed");
    assert.ok(performance.now() - started < 500);
    assert.equal(
      (await rejection(fwd.query(question("www.example.test", "A", "IN")))).kind,
      "closed",
    );
  } finally {
    await up.close();
  }
});

Deno.test("forwarder: invalid names, types and upstreams are rejected without sending", async () => {
  const up = await startUpstream({ zone: ZONE });
  const fwd = createForwarder({ upstreams: [at(up)], timeoutMs: TIMEOUT_MS });
  try {
    // Names and types that cannot be encoded never make a question (lib/dns/question.ts).
    const long = `${"a".repeat(64)}.test`;
    assert.throws(() => question(long, "A", "IN"), RangeError);
    assert.throws(() => question("a..test", "A", "IN"), RangeError);
    assert.throws(() => question("a.test", "NOPE", "IN"), RangeError);
    assert.throws(() => question("a.test", "A", "NOPE"), RangeError);
    assert.throws(() => question("a.test", 0, "IN"), RangeError);
    const named = { upstreams: [{ host: "localhost", port: up.port }] };
    assert.equal(
      (await rejection(fwd.query(question("a.test", "A", "IN"), named))).kind,
      "invalid",
    );
    assert.throws(() => createForwarder({ upstreams: [{ host: "dns.example", port: 53 }] }));
    assert.throws(() => createForwarder({ upstreams: [{ host: "::1", port: 0 }] }));
    assert.equal(up.queries, 0);
    // Numeric and TYPEnnn types reach the upstream as such.
    const result = await fwd.query(question("www.example.test", 65280, "IN"));
    assert.equal(result.packet.questions?.[0].type, "UNKNOWN_65280");
    await fwd.query(question("www.example.test", "TYPE65280", 1));
    assert.equal(up.queries, 2);
  } finally {
    await fwd.close();
    await up.close();
  }
});
