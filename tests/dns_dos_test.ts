/**
 * Denial of service against the real server (issue 11, items 1-3): each test sends the attack
 * and asserts the service holds. Bounds are generous (a loaded 2-core machine); the figures
 * against Unbound and dnsmasq live in BENCHMARKS.md ("DNS under attack", tools/attack_dns.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fixtureRegistry, type RunningServer, startDjdns } from "./helpers/djdns.ts";
import { startUpstream, type TestUpstream } from "./helpers/upstream_server.ts";
import { floodUdp, probeUdp, rssKb, sampleRss } from "./helpers/attack.ts";
import { buildQuery, header, UdpClient } from "./helpers/raw_dns.ts";

/** A server over the fixture registry forwarding to an upstream that swallows every query. */
async function withSwallowingUpstream(
  extra: string[],
  body: (s: RunningServer, up: TestUpstream) => Promise<void>,
): Promise<void> {
  const up = await startUpstream({ dropAll: true });
  const dir = await fixtureRegistry(up.port);
  let s: RunningServer | undefined;
  try {
    s = await startDjdns(["--pages", dir, "--upstream", `127.0.0.1:${up.port}`, ...extra]);
    await body(s, up);
  } finally {
    if (s) await s.stop("SIGKILL");
    await up.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** NXDOMAIN from the registry (`\.demo$` has no records): a fresh name is never cached. */
const isNxdomain = (reply: Uint8Array) => header(reply).rcode === 3;

/**
 * Floods `name` over UDP for 4 s while probing fresh registry names, and asserts that RSS stays
 * within `maxGrowthMb` of what it was and that the probes are answered.
 */
async function floodAndProbe(s: RunningServer, name: string, maxGrowthMb: number) {
  const pid = s.process.pid;
  const before = rssKb(pid);
  const rss = sampleRss(pid);
  const stop = new AbortController();
  const probes = probeUdp({
    port: s.port,
    make: (i) => ({ name: `probe${i}.${name.length}.demo` }),
    everyMs: 50,
    timeoutMs: 1500,
    signal: stop.signal,
    check: isNxdomain,
  });
  // ~40k packets/s: with ~4 KB per unbounded waiter, hundreds of MB within the upstream timeout.
  const sent = await floodUdp({
    port: s.port,
    spec: { name },
    durationMs: 4000,
    maxPackets: 200_000,
    rate: 40_000,
  });
  stop.abort();
  const p = await probes;
  const peak = rss.stop();
  const grewMb = (peak - before) / 1024;
  console.log(
    `flood of ${name}: ${sent} packets; RSS ${before >> 10} -> peak ${peak >> 10} MB; ` +
      `registry probes ${p.answered}/${p.sent}, median ${
        p.latencies[p.latencies.length >> 1]?.toFixed(1)
      } ms`,
  );
  assert.ok(sent > 20_000, `the flood sent only ${sent} packets`);
  assert.ok(grewMb < maxGrowthMb, `RSS grew by ${grewMb.toFixed(0)} MB under the flood`);
  assert.ok(
    p.answered >= p.sent * 0.7,
    `registry names answered ${p.answered} of ${p.sent} probes during the flood`,
  );
}

Deno.test("dos: a flood of one name at a dead upstream keeps memory flat and registry names answering", async (t) => {
  await withSwallowingUpstream([], async (s) => {
    // Warm up, so the baseline includes what the first queries allocate.
    const c = await UdpClient.open();
    for (let i = 0; i < 20; i++) {
      await c.exchange(s.port, buildQuery({ id: i, name: `warm${i}.demo` }), 2000);
    }
    await c.close();
    await t.step("a forwarded name", () => floodAndProbe(s, "flood.example.net", 100));
    await t.step(
      "a registry name whose dns:// target is dead",
      () => floodAndProbe(s, "flood.fwd.test", 100),
    );
  });
});
