import assert from "node:assert/strict";
import { chromium } from "./helpers/browser.ts";
import { dig, fixtureRegistry, run, startDjdns } from "./helpers/djdns.ts";

async function metricsPort(log: () => string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const m = /metrics and status page on "?http:\/\/127\.0\.0\.1:(\d+)\//.exec(log());
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no metrics line in the log:\n${log()}`);
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

Deno.test("metrics: counts queries by type, transport and rcode; promtool accepts them", async () => {
  const pages = await fixtureRegistry();
  const server = await startDjdns(["--pages", pages, "--no-upstream", "--metrics", "127.0.0.1:0"]);
  try {
    const port = await metricsPort(server.log);
    for (let i = 0; i < 3; i++) await dig(server.port, "in.root.demo", "A");
    await dig(server.port, "in.root.demo", "MX");
    await dig(server.port, "nothere.hype", "A");
    await dig(server.port, "+tcp", "in.root.demo", "A");
    await dig(server.port, "example.com", "A"); // outside the registry, no upstream: REFUSED
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const check = await run("promtool", ["check", "metrics"], new TextEncoder().encode(text));
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.equal(value(text, 'djdns_queries_total{transport="udp",type="A"}'), 5);
    assert.equal(value(text, 'djdns_queries_total{transport="udp",type="MX"}'), 1);
    assert.equal(value(text, 'djdns_queries_total{transport="tcp",type="A"}'), 1);
    assert.equal(value(text, 'djdns_responses_total{transport="udp",rcode="NXDOMAIN"}'), 1);
    assert.equal(value(text, 'djdns_responses_total{transport="udp",rcode="REFUSED"}'), 1);
    assert.equal(value(text, "djdns_response_seconds_count"), 7);
    assert.equal(value(text, 'djdns_response_seconds_bucket{le="+Inf"}'), 7);
    assert.ok(value(text, "djdns_cache_hits_total") >= 2, "repeated question served from cache");
    assert.ok(value(text, 'djdns_pages_loaded{kind="file"}') >= 3);
    // Only GET and HEAD; unknown paths are 404.
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" })).status, 405);
    const nf = await fetch(`http://127.0.0.1:${port}/nope`);
    assert.equal(nf.status, 404);
    await nf.body?.cancel();
  } finally {
    await server.stop();
    await Deno.remove(pages, { recursive: true });
  }
});

Deno.test("status page: a browser shows the node, the page tree and escapes hostile pages", async () => {
  const pages = await fixtureRegistry();
  // A hostile page: markup in its selector, in the name of a page it links to, and in meta.
  const root = JSON.parse(await Deno.readTextFile(`${pages}/root.json`));
  root.meta.about = "<script>document.title='owned'</script>";
  root.branches.push({
    selector: "^x<script>alert(1)</script>\\.hostile$",
    records: [],
    targets: ["<img src=x onerror=alert(1)>.json"],
  });
  // A signed page this node does not hold.
  root.branches.push({
    selector: "\\.unheld$",
    records: [],
    targets: [`djdns:${"ab".repeat(32)}`],
  });
  await Deno.writeTextFile(`${pages}/root.json`, JSON.stringify(root));
  const server = await startDjdns(["--pages", pages, "--no-upstream", "--metrics", "127.0.0.1:0"]);
  try {
    const port = await metricsPort(server.log);
    await dig(server.port, "in.root.demo", "A");
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    await res.body?.cancel();
    const dom = await chromium(`http://127.0.0.1:${port}/`, ["--dump-dom"]);
    assert.match(dom, /<title>djdns status<\/title>/);
    assert.match(dom, /<h1>djdns \d+\.\d+\.\d+<\/h1>/);
    assert.match(dom, new RegExp(`serving DNS on</th><td>127\\.0\\.0\\.1:${server.port}<`));
    assert.match(dom, /<svg[^>]*aria-label="page tree"/);
    // The tree: the root, the sub-pages of the fixture, its dns:// exit, the missing page.
    for (const label of ["root.json", "tlds/hype/root.json", "dns://127.0.0.1:1"]) {
      assert.ok(dom.includes(`>${label}</text>`), `tree lacks ${label}`);
    }
    assert.match(dom, /class="node missing"><title>djdns:(ab){32} is not held by this node/);
    assert.match(dom, /class="node error"><title>private\/missing\.json: no such page file/);
    assert.match(dom, /class="node cycle"><title>back to private\/loop-a\.json/);
    // Hostile text is shown as text, never as markup.
    assert.ok(!/<img|<script/i.test(dom), "markup from a page reached the DOM");
    assert.ok(
      dom.includes("&lt;img src=x onerror=alert(1)&gt;.json"),
      "hostile name shown as text",
    );
    // And a picture, for a person to look at (kept when DJDNS_KEEP_SCREENSHOT is set).
    const shot = Deno.env.get("DJDNS_KEEP_SCREENSHOT") ?? `${pages}/status.png`;
    await chromium(`http://127.0.0.1:${port}/`, [`--screenshot=${shot}`, "--window-size=1200,900"]);
    const png = await Deno.readFile(shot);
    assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    assert.ok(png.length > 10_000, "the screenshot has content");
  } finally {
    await server.stop();
    await Deno.remove(pages, { recursive: true });
  }
});
