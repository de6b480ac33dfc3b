/**
 * SIGTERM is a stop, not a crash: queries the server has already received are answered before
 * it exits (within the grace period), new ones are not taken, and the exit status is 0.
 */
import assert from "node:assert/strict";
import { dig, fixtureRegistry, startDjdns } from "./helpers/djdns.ts";
import { startUpstream } from "./helpers/upstream_server.ts";

Deno.test("SIGTERM: queries in flight (UDP and TCP) are answered, then exit 0", async () => {
  // The page's dns:// target answers after 700 ms: the queries are in flight when SIGTERM comes.
  const up = await startUpstream({
    zone: {
      "x.fwd.test.": [{ type: "A", ttl: 300, data: "192.0.2.7" }],
      "y.fwd.test.": [{ type: "A", ttl: 300, data: "192.0.2.8" }],
    },
    delayMs: 700,
  });
  const pages = await fixtureRegistry(up.port);
  const server = await startDjdns(["--pages", pages, "--no-upstream"]);
  try {
    const udp = dig(server.port, "+short", "x.fwd.test", "A");
    // Another name over TCP: the same question would join the UDP one's resolution.
    const tcp = dig(server.port, "+tcp", "+short", "y.fwd.test", "A");
    // Both queries have reached the upstream (through djdns) before the signal.
    for (const end = Date.now() + 5000; up.queries < 2 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(up.queries, 2, "both queries reached the upstream");
    const stopped = performance.now();
    const status = server.stop("SIGTERM");
    const [u, t] = await Promise.all([udp, tcp]);
    assert.equal(u.stdout.trim(), "192.0.2.7", `UDP answer lost on SIGTERM: ${u.stdout}`);
    assert.equal(t.stdout.trim(), "192.0.2.8", `TCP answer lost on SIGTERM: ${t.stdout}`);
    assert.equal((await status).code, 0);
    // Bounded: the grace period is 2.5 s.
    assert.ok(performance.now() - stopped < 6000);
    assert.match(server.log(), /SIGTERM/);
  } finally {
    await server.stop();
    await up.close();
    await Deno.remove(pages, { recursive: true });
  }
});
