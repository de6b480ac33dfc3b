/**
 * The status page of a node, rendered on the server as HTML with the page tree as an inline
 * SVG: no JavaScript, nothing fetched from elsewhere. Everything printed goes through
 * {@linkcode escapeHtml}: page contents, selectors, ids and error messages are written by
 * strangers. The server adds a Content-Security-Policy that forbids scripts as a second wall.
 *
 * @module
 */
import type { NetStatus } from "../node/mod.ts";
import type { TreeKind, TreeNode } from "./tree.ts";

/** Escapes text for HTML and SVG text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS: Record<TreeKind, { fill: string; stroke: string; dash?: string }> = {
  signed: { fill: "#e3f6e5", stroke: "#2e7d32" },
  file: { fill: "#e3edfb", stroke: "#1565c0" },
  dns: { fill: "#f1f1f1", stroke: "#616161" },
  missing: { fill: "#fff6e0", stroke: "#ef6c00", dash: "4 3" },
  error: { fill: "#fde7e7", stroke: "#c62828" },
  cycle: { fill: "#ffffff", stroke: "#9e9e9e", dash: "2 2" },
};

/** Words for each kind, in the legend. */
export const KIND_NAMES: Record<TreeKind, string> = {
  signed: "signed page, held and verified",
  file: "page file",
  dns: "dns:// exit (ordinary DNS server)",
  missing: "signed page not held",
  error: "page that failed to load",
  cycle: "back to a page above",
};

const BOX_W = 190;
const BOX_H = 30;
const COL = 240;
const ROW = 42;

/** Draws the tree as an SVG: one column per depth, leaves in order, parents centred. */
export function treeSvg(root: TreeNode): string {
  const placed: { n: TreeNode; x: number; y: number }[] = [];
  const edges: string[] = [];
  let leaf = 0;
  let depthMax = 0;
  const place = (n: TreeNode, depth: number): number => {
    depthMax = Math.max(depthMax, depth);
    let y: number;
    if (n.children.length === 0) {
      y = leaf++ * ROW;
    } else {
      const ys = n.children.map((c) => place(c, depth + 1));
      y = (ys[0] + ys[ys.length - 1]) / 2;
      for (const cy of ys) {
        const x1 = depth * COL + BOX_W;
        const x2 = (depth + 1) * COL;
        const mid = (x1 + x2) / 2;
        edges.push(
          `<path d="M${x1} ${y + BOX_H / 2} C${mid} ${y + BOX_H / 2} ${mid} ${cy + BOX_H / 2} ` +
            `${x2} ${cy + BOX_H / 2}" fill="none" stroke="#90a4ae"/>`,
        );
      }
    }
    placed.push({ n, x: depth * COL, y });
    return y;
  };
  place(root, 0);
  const width = (depthMax + 1) * COL;
  const height = Math.max(1, leaf) * ROW;
  const boxes = placed.map(({ n, x, y }) => {
    const c = COLORS[n.kind];
    return `<g class="node ${n.kind}"><title>${escapeHtml(clip(n.detail, 1000))}</title>` +
      `<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${c.fill}" ` +
      `stroke="${c.stroke}"${c.dash ? ` stroke-dasharray="${c.dash}"` : ""}/>` +
      `<text x="${x + 8}" y="${y + 19}" font-family="monospace" font-size="12">` +
      `${escapeHtml(clip(n.label, 26))}</text></g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="page tree" ` +
    `width="${width}" height="${height}" viewBox="-2 -2 ${width + 4} ${height + 4}">` +
    edges.join("") + boxes.join("") + `</svg>`;
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

/** What the status page shows. Optional parts are left out when the node has none. */
export interface StatusView {
  version: string;
  uptimeSeconds: number;
  /** The node's network identity (libp2p peer id), when it runs the network. */
  identity?: string;
  listen: string[];
  registry: string;
  /** Pages loaded, and those that failed. */
  pages: number;
  pageErrors: string[];
  queries: { total: number; perSecondLastMinute: number; byRcode: Record<string, number> };
  cache: { entries?: number; hits: number };
  /** Signed pages held: id, head, when it last changed. */
  signedPages: { pageId: string; head: string; changed?: string }[];
  peers?: { id: string; address: string; score?: number; banned?: boolean; connected?: boolean }[];
  /** Gossip addresses (multiaddrs), when the network runs. */
  gossip?: string[];
  /** Followed pages with their heads and lag, when the network runs. */
  followed?: NetStatus["pages"];
  /** The network's counters (accepted, ignored, rejected by reason, sync, fetch…). */
  netCounters?: Record<string, number>;
  tree: TreeNode;
  treeTruncated: boolean;
}

function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

/** Rows shown of each list (errors, pages, peers…); the page says how many more there are. */
export const LIST_MAX = 100;

// The first LIST_MAX items, rendered, and a line for the rest: a registry with a million
// broken targets made a 100 MB page on every request.
function capped<T>(items: readonly T[], render: (x: T) => string, more: (n: number) => string) {
  const shown = items.slice(0, LIST_MAX).map(render).join("");
  return items.length > LIST_MAX ? shown + more(items.length - LIST_MAX) : shown;
}

/** Renders the whole page. */
export function statusHtml(v: StatusView): string {
  const e = escapeHtml;
  const moreRows = (cols: number) => (n: number) =>
    `<tr><td colspan="${cols}">and ${n} more not shown</td></tr>`;
  const row = (k: string, val: string) => `<tr><th>${e(k)}</th><td>${val}</td></tr>`;
  const rcodes = Object.entries(v.queries.byRcode).filter(([, n]) => n > 0)
    .map(([k, n]) => `${e(k)} ${n}`).join(", ") || "none yet";
  const legend = (Object.keys(KIND_NAMES) as TreeKind[]).map((k) =>
    `<li><span class="sw" style="background:${COLORS[k].fill};border-color:${COLORS[k].stroke}">` +
    `</span>${e(KIND_NAMES[k])}</li>`
  ).join("");
  const signed = v.signedPages.length
    ? `<table class="list"><tr><th>page</th><th>head</th><th>changed</th></tr>` +
      capped(
        v.signedPages,
        (p) =>
          `<tr><td><code>${e(p.pageId)}</code></td><td><code>${e(p.head)}</code></td>` +
          `<td>${e(p.changed ?? "")}</td></tr>`,
        moreRows(3),
      ) + `</table>`
    : `<p>No signed pages held.</p>`;
  const peers = v.peers === undefined
    ? `<p>The network is not running on this node.</p>`
    : v.peers.length
    ? `<table class="list" id="peers"><tr><th>peer</th><th>address</th><th>state</th>` +
      `<th>score</th></tr>` +
      capped(
        v.peers,
        (p) =>
          `<tr><td><code>${e(p.id)}</code></td><td>${e(p.address)}</td>` +
          `<td>${p.banned ? "banned" : p.connected ? "connected" : "known"}</td>` +
          `<td>${e(String(p.score ?? ""))}</td></tr>`,
        moreRows(4),
      ) + `</table>`
    : `<p>No peers known.</p>`;
  const followed = v.followed === undefined
    ? ""
    : `<h2>Followed pages</h2>` + (v.followed.length
      ? `<table class="list" id="followed"><tr><th>page</th><th>head</th><th>height</th>` +
        `<th>objects</th><th>lag</th></tr>` +
        capped(
          v.followed,
          (p) =>
            `<tr><td><code>${e(p.page)}</code>${p.root ? " (root)" : ""}</td>` +
            `<td><code>${e(p.head)}</code></td><td>${e(String(p.height))}</td>` +
            `<td>${e(String(p.objects))}</td><td>${e(String(p.lag))}</td></tr>`,
          moreRows(5),
        ) + `</table>`
      : `<p>No pages followed.</p>`);
  const counters = v.netCounters === undefined
    ? ""
    : `<h2>Network counters</h2><table class="list" id="counters">` +
      capped(
        Object.entries(v.netCounters).sort(([a], [b]) => a < b ? -1 : 1),
        ([k, n]) => `<tr><th>${e(k)}</th><td>${e(String(n))}</td></tr>`,
        moreRows(2),
      ) + `</table>`;
  const errors = v.pageErrors.length
    ? `<ul class="errors">${
      capped(v.pageErrors, (x) =>
        `<li>${e(clip(x, 1000))}</li>`, (n) =>
        `<li>and ${n} more not shown</li>`)
    }</ul>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>djdns status</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:80em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
th{text-align:left;padding-right:1em;font-weight:600}td,th{padding:.15em .6em .15em 0}
code{font-size:.85em;word-break:break-all}.tree{overflow:auto;border:1px solid #ddd;padding:.5em}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1.2em;font-size:.9em}
.sw{display:inline-block;width:1em;height:.8em;border:1px solid;margin-right:.4em}
.errors{color:#c62828}.list{border-collapse:collapse}.list td{border-top:1px solid #eee}
</style></head><body>
<h1>djdns ${e(v.version)}</h1>
<table>
${
    row(
      "identity",
      v.identity ? `<code>${e(v.identity)}</code>` : "no network identity (network off)",
    )
  }
${row("up for", e(duration(v.uptimeSeconds)))}
${row("serving DNS on", e(v.listen.join(", ")))}
${row("registry", e(v.registry))}
${row("pages loaded", `${v.pages}${v.pageErrors.length ? `, ${v.pageErrors.length} failed` : ""}`)}
${
    row(
      "queries",
      `${v.queries.total} (${v.queries.perSecondLastMinute.toFixed(1)}/s over the last minute)`,
    )
  }
${row("responses", rcodes)}
${
    row(
      "cache",
      `${v.cache.hits} hits${v.cache.entries === undefined ? "" : `, ${v.cache.entries} entries`}`,
    )
  }
</table>
${errors}
<h2>Page tree</h2>
<ul class="legend">${legend}</ul>
<div class="tree">${treeSvg(v.tree)}</div>
${v.treeTruncated ? "<p>The tree is larger than shown (limits: 200 nodes, depth 8).</p>" : ""}
<h2>Signed pages held</h2>
${signed}
${followed}
<h2>Peers</h2>
${
    v.gossip?.length
      ? `<p>Gossip on ${
        v.gossip.slice(0, LIST_MAX).map((a) => `<code>${e(a)}</code>`).join(", ")
      }</p>`
      : ""
  }
${peers}
${counters}
<p><a href="/metrics">Prometheus metrics</a></p>
</body></html>
`;
}
