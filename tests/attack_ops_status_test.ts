// The status page under an outside reviewer's attacks: hostile text in every field a page or a
// peer controls (markup, SVG tricks, entities), and lists as long as a hostile registry or
// network can make them. The page must stay text, stay small, and render in a real browser.
import assert from "node:assert/strict";
import { chromium } from "./helpers/browser.ts";
import { createMetrics, createQueryCounters } from "../lib/metrics/mod.ts";
import { LIST_MAX, serveStatus, statusHtml, type StatusView } from "../lib/status/mod.ts";
import type { TreeNode } from "../lib/status/mod.ts";

const EVIL = [
  `<script>document.title='owned'</script>`,
  `"><svg onload=alert(1)>`,
  `'><foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></body></foreignObject>`,
  `]]><script>alert(1)</script><![CDATA[`,
  `&lt;script&gt;alert(1)&lt;/script&gt;`,
  `&#60;script&#62;alert(1)`,
  `<a xlink:href="javascript:alert(1)">x</a>`,
  `<style>*{background:url(//evil/)}</style>`,
  `</title><script>alert(1)</script>`,
  `\u202e<iframe src=//evil>`,
];

function hostileView(n: number): StatusView {
  const evil = (i: number) => EVIL[i % EVIL.length] + i;
  const leaf = (i: number): TreeNode => ({
    label: evil(i),
    kind: (["file", "signed", "dns", "missing", "error", "cycle"] as const)[i % 6],
    detail: evil(i + 1).repeat(20),
    children: [],
  });
  return {
    version: evil(0),
    uptimeSeconds: 1,
    identity: evil(1),
    listen: [evil(2)],
    registry: evil(3),
    pages: 1,
    pageErrors: Array.from({ length: n }, (_, i) => evil(i).repeat(50)),
    queries: { total: 0, perSecondLastMinute: 0, byRcode: { [evil(4)]: 1 } },
    cache: { hits: 0 },
    signedPages: Array.from({ length: n }, (_, i) => ({
      pageId: evil(i),
      head: evil(i + 1),
      changed: evil(i + 2),
    })),
    peers: Array.from({ length: n }, (_, i) => ({
      id: evil(i),
      address: evil(i + 3),
      score: 1,
      connected: true,
    })),
    gossip: Array.from({ length: n }, (_, i) => evil(i)),
    followed: Array.from({ length: n }, (_, i) => ({
      page: evil(i),
      head: evil(i + 1),
      root: false,
      height: 1,
      objects: 1,
      lag: 0,
    })) as unknown as StatusView["followed"],
    netCounters: Object.fromEntries(Array.from({ length: n }, (_, i) => [evil(i), i])),
    tree: { ...leaf(0), children: Array.from({ length: 30 }, (_, i) => leaf(i + 1)) },
    treeTruncated: true,
  };
}

Deno.test("attack status: 100,000 errors, peers and pages make a bounded page", () => {
  // Before: every list was printed whole (100,000 errors of 2 kB: a 200 MB page per request).
  const html = statusHtml(hostileView(100_000));
  assert.ok(html.length < 2_000_000, `page is ${html.length} bytes`);
  assert.equal(html.match(/<li>and 99900 more not shown<\/li>/g)?.length, 1);
  assert.equal(html.match(/and 99900 more not shown<\/td>/g)?.length, 4);
  assert.ok(LIST_MAX <= 100);
});

Deno.test("attack status: hostile text in every field stays text in a real browser", async () => {
  const view = hostileView(LIST_MAX + 5);
  const html = statusHtml(view);
  // No markup of a stranger's survives escaping, inside the SVG included.
  for (
    const tag of [
      "<script",
      "<foreignObject",
      "<iframe",
      "<style>*",
      "<a xlink",
      "<svg onload",
      "<![CDATA[",
    ]
  ) {
    assert.ok(!html.includes(tag), `${tag} reached the page`);
  }
  // Every & the page holds starts a character reference the escaper wrote.
  assert.deepEqual(html.match(/&(?!#\d+;)/g) ?? [], []);
  const server = serveStatus("127.0.0.1", 0, createMetrics(createQueryCounters()), () => view);
  try {
    const dom = await chromium(`http://127.0.0.1:${server.port}/`, ["--dump-dom"]);
    assert.match(dom, /<title>djdns status<\/title>/, "a script changed the title");
    assert.ok(
      !/<(script|iframe|foreignObject)\b/i.test(dom),
      "markup from a field reached the DOM",
    );
    assert.ok(dom.includes("&lt;script&gt;document.title='owned'&lt;/script&gt;"));
    // The SVG's boxes are there, its text shown as text.
    assert.equal(dom.match(/<g class="node /g)?.length, 31);
    assert.equal(dom.match(/<li>and 5 more not shown<\/li>/g)?.length, 1);
  } finally {
    await server.close();
  }
});
