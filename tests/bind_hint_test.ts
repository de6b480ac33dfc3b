import assert from "node:assert/strict";
import dgram from "node:dgram";
import { bindHint } from "../lib/cli/bind_hint.ts";
import { djdnsTaskArgs, run } from "./helpers/djdns.ts";

const inUse = Object.assign(new Error("bind EADDRINUSE 0.0.0.0:53"), { code: "EADDRINUSE" });

Deno.test("bind hints: resolved stub on 53, other holders, capabilities, foreign address", () => {
  const stub = { resolvedStub: () => true };
  const noStub = { resolvedStub: () => false };
  const r = bindHint(inUse, "0.0.0.0", 53, stub);
  assert.match(r[0], /another program already serves port 53 on 0\.0\.0\.0 .*ss -lunpt/);
  assert.match(r[1], /systemd-resolved's stub .*DNSStubListener=no/);
  assert.match(bindHint(inUse, "0.0.0.0", 53, noStub)[1], /choose another port/);
  // The stub is only a suspect on port 53.
  assert.match(bindHint(inUse, "127.0.0.1", 5300, stub)[1], /--listen 127\.0\.0\.1:PORT/);
  const denied = Object.assign(new Error("bind EACCES 0.0.0.0:53"), { code: "EACCES" });
  assert.match(bindHint(denied, "0.0.0.0", 53, stub)[0], /CAP_NET_BIND_SERVICE/);
  assert.match(bindHint(new Error("bind EADDRNOTAVAIL x"), "192.0.2.1", 53)[0], /not an address/);
  assert.deepEqual(bindHint(new Error("something else"), "127.0.0.1", 53), []);
});

Deno.test("run: a port already taken exits 1 naming the address and what to do", async () => {
  const holder = dgram.createSocket("udp4");
  await new Promise<void>((r) => holder.bind(0, "127.0.0.1", r));
  const port = holder.address().port;
  try {
    const r = await run(Deno.execPath(), [
      ...await djdnsTaskArgs(),
      "run",
      "--listen",
      `127.0.0.1:${port}`,
      "--no-upstream",
      "--pages",
      new URL("./fixtures/registry/", import.meta.url).pathname,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    assert.match(r.stderr, new RegExp(`another program already serves port ${port}`));
  } finally {
    holder.close();
  }
});

Deno.test("run: a port whose TCP side is taken exits 1 with the same hints, not a crash", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (holder.addr as Deno.NetAddr).port;
  try {
    const r = await run(Deno.execPath(), [
      ...await djdnsTaskArgs(),
      "run",
      "--listen",
      `127.0.0.1:${port}`,
      "--no-upstream",
      "--pages",
      new URL("./fixtures/registry/", import.meta.url).pathname,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(tcp\\): `));
    assert.match(r.stderr, new RegExp(`another program already serves port ${port}`));
    assert.doesNotMatch(r.stderr, /Uncaught/);
  } finally {
    holder.close();
  }
});
