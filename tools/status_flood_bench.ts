// The operator port under a request flood while DNS must keep answering (review-ops): a registry
// whose root page has 99,999 branches of 16 missing targets (1.6 million page entries), 64
// clients scraping /metrics as fast as they can, and UDP probes every 20 ms: answered, p50, max.
// Run: deno run -A tools/status_flood_bench.ts
import { startDjdns } from "../tests/helpers/djdns.ts";
import dgram from "node:dgram";
const dir = await Deno.makeTempDir({ prefix: "rops-" });
const branches: unknown[] = [];
for (let i = 0; i < 99_999; i++) {
  branches.push({
    selector: `^n${i}\\.t$`,
    records: [],
    targets: Array.from({ length: 16 }, (_, j) => `m${i}_${j}.json`),
  });
}
branches.push({
  selector: "^in\\.root\\.demo$",
  records: [{ domain_name: "in.root.demo", rdata: "1.2.3.4" }],
});
await Deno.writeTextFile(`${dir}/root.json`, JSON.stringify({ meta: {}, branches }));
const t0 = performance.now();
const s = await startDjdns(["--pages", dir, "--no-upstream", "--metrics", "127.0.0.1:0"], {
  timeoutMs: 180000,
});
console.log("start ms", Math.round(performance.now() - t0));
let port = 0;
for (let i = 0; i < 400 && !port; i++) {
  const m = /status page on "?http:\/\/127\.0\.0\.1:(\d+)\//.exec(s.log());
  if (m) port = Number(m[1]);
  else await new Promise((r) => setTimeout(r, 25));
}
for (const p of ["/", "/metrics"]) {
  const t = performance.now();
  const b = await (await fetch(`http://127.0.0.1:${port}${p}`)).text();
  console.log(p, b.length, "bytes", Math.round(performance.now() - t), "ms");
}
function q(id: number): Uint8Array {
  const parts = [id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const l of ["in", "root", "demo"]) parts.push(l.length, ...new TextEncoder().encode(l));
  parts.push(0, 0, 1, 0, 1);
  return new Uint8Array(parts);
}
const sock = dgram.createSocket("udp4");
const sentAt = new Map<number, number>();
const lat: number[] = [];
sock.on("message", (m: Uint8Array) => {
  const id = (m[0] << 8) | m[1];
  lat.push(performance.now() - sentAt.get(id)!);
});
await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
const probe = async () => {
  lat.length = 0;
  for (let i = 0; i < 100; i++) {
    sentAt.set(i, performance.now());
    sock.send(q(i), s.port, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 1000));
  lat.sort((a, b) => a - b);
  return `${lat.length}/100 answered, p50 ${lat[50]?.toFixed(1)} ms, max ${
    lat.at(-1)?.toFixed(1)
  } ms`;
};
console.log("idle:", await probe());
let stop = false;
const flood = Promise.all(Array.from({ length: 64 }, async () => {
  let n = 0;
  while (!stop) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      n++;
    } catch { /**/ }
  }
  return n;
}));
console.log("during /metrics flood:", await probe());
stop = true;
console.log("scrapes", (await flood).reduce((a, b) => a + b, 0));
sock.close();
await s.stop();
await Deno.remove(dir, { recursive: true });
