/**
 * Benchmarks of the signed-page model (docs/PROTOCOL.md): canonical encoding, ids, approval
 * verification, accepting an event on a 100-participant page with delegation, and replaying a
 * 10,000-event history — next to the raw Ed25519 verify rates (node:crypto, WebCrypto) measured
 * in the same run. Run:
 *
 *   npx -y deno@2.9.6 bench --allow-all --v8-flags=--enable-experimental-regexp-engine tools/page_bench.ts
 *
 * The replay's cost is judged against the signature verifications it needs: the same 20,000
 * (key, message, signature) triples verified by node:crypto directly (one prepared KeyObject per
 * key, as lib/crypto keeps). Both are timed in the `replay` group (Deno prints their ratio in its
 * summary), and the last benchmark times them in alternating pairs and prints the ratios, which
 * is steadier on a shared machine than two runs minutes apart.
 *
 * @module
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from "node:crypto";
import { Buffer } from "node:buffer";
import { publicKeyOf, sha256, sha256Hex, verify } from "../lib/crypto/mod.ts";
import {
  type Approval,
  approvalMessage,
  approve,
  canonicalize,
  createGenesis,
  createPageLog,
  type Genesis,
  type JsonObject,
  objectId,
  type PageEvent,
  type Participant,
  proposeEvent,
  verifyApproval,
} from "../lib/page/mod.ts";

const enc = new TextEncoder();
function keyOf(i: number) {
  const secretKey = sha256(enc.encode(`djdns bench key ${i}`));
  return { secretKey, hex: publicKeyOf(secretKey).toHex() };
}

function branches(n: number): JsonObject[] {
  return Array.from({ length: n }, (_, i) => ({
    // Half regexps (compiled by the linear engine), half literal names, like real pages.
    selector: i % 2 === 0 ? `(.*\\.|^)b${i}\\.example$` : `^b${i}\\.example$`,
    targets: [],
    records: [{ domain_name: `b${i}.example`, rtype: "A", rdata: "192.0.2.1" }],
  }));
}

// --- small objects --------------------------------------------------------------------------
const k0 = keyOf(0);
const small = createGenesis({ participants: { [k0.hex]: { weight: 1 } }, branches: branches(4) });
const event = proposeEvent(objectId(small), objectId(small), "ADD_RECORD", {
  branch: 1,
  record: { domain_name: "b1.example", rtype: "AAAA", rdata: "2001:db8::1", rttl: 600 },
});
const approval = approve(k0.secretKey, event);
const msg = approvalMessage(approval.page, approval.parent, approval.event);
const sig = new Uint8Array(Uint8Array.fromHex(approval.sig));
const pub = Uint8Array.fromHex(approval.key);
const webKey = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);

Deno.bench("raw Ed25519 verify, WebCrypto (crypto.subtle)", { group: "verify" }, async () => {
  await crypto.subtle.verify("Ed25519", webKey, sig, new Uint8Array(msg));
});
Deno.bench(
  "raw Ed25519 verify, node:crypto (lib/crypto)",
  { group: "verify", baseline: true },
  () => {
    verify(pub, msg, sig);
  },
);
Deno.bench(
  "verify one approval (verifyApproval: hex decode, message, verify)",
  { group: "verify" },
  () => {
    verifyApproval(approval);
  },
);
Deno.bench("canonical encode of an event (RFC 8785)", () => {
  canonicalize(event);
});
Deno.bench("id of an event (canonical encode + SHA-256, as objectId computes it)", () => {
  sha256Hex(canonicalize(event));
});

// --- accept one event on a 100-participant page with delegation -----------------------------
const keys100 = Array.from({ length: 100 }, (_, i) => keyOf(i));
const participants: Record<string, Participant> = {};
keys100.forEach((k, i) => {
  // Every third participant hands its power to two others (one of them a delegator too).
  participants[k.hex] = i % 3 === 0
    ? {
      weight: 1 + (i % 5),
      delegations: { [keys100[(i + 1) % 100].hex]: 0.5, [keys100[(i + 3) % 100].hex]: 0.25 },
    }
    : { weight: 1 + (i % 5) };
});
const page100 = createGenesis({ participants, branches: branches(20) });
const pid100 = objectId(page100);
// Approvers: participants 1, 2, 4, 5, … (not the delegators) until the 0.34 threshold is passed.
const approvers100 = keys100.filter((_, i) => i % 3 !== 0).slice(0, 30);
let round = 0;
Deno.bench("accept an event: 100 participants, delegation, 30 approvals (verify included)", (b) => {
  const ev = proposeEvent(pid100, pid100, "SET", {
    path: ["meta"],
    value: { about: `round ${round++}` },
  });
  const sigs = approvers100.map((k) => approve(k.secretKey, ev));
  const log = createPageLog(page100);
  b.start();
  log.addEvent(ev);
  for (const a of sigs) log.addApproval(a);
  if (log.head() !== objectId(ev)) throw new Error("not accepted");
  b.end();
});

// --- replay 10,000 events --------------------------------------------------------------------
const EVENTS = 10_000;
const keys3 = [keyOf(0), keyOf(1), keyOf(2)];
const p3: Record<string, Participant> = {};
for (const k of keys3) p3[k.hex] = { weight: 1 };
const page3: Genesis = createGenesis({ participants: p3, branches: branches(50) });
const pid3 = objectId(page3);
const history: Array<{ event: PageEvent; approvals: Approval[] }> = [];
let parent = pid3;
for (let i = 0; i < EVENTS; i++) {
  const b = (i * 7) % 50;
  const ev = proposeEvent(pid3, parent, "SET", {
    path: ["branches", b, "records"],
    value: [{ domain_name: `b${b}.example`, rtype: "A", rdata: `198.51.${i >> 8}.${i & 255}` }],
  });
  // 2 of 3 approve: 20,000 signatures to verify.
  history.push({
    event: ev,
    approvals: [approve(keys3[i % 3].secretKey, ev), approve(keys3[(i + 1) % 3].secretKey, ev)],
  });
  parent = objectId(ev);
}
// Fresh object copies per run, so no id computed by a previous run is reused.
const fresh = () => structuredClone(history);

/** Replays `input` into a new log: the time of the replay, in ms. */
function replay(input: typeof history): number {
  const t = performance.now();
  const log = createPageLog(page3);
  for (const h of input) {
    log.addEvent(h.event);
    for (const a of h.approvals) log.addApproval(a);
  }
  if (log.head() !== parent) throw new Error("replay did not reach the head");
  return performance.now() - t;
}

// The verifications the replay needs: every approval's (key, message, signature), verified with
// node:crypto directly, keys parsed beforehand (lib/crypto caches them per key too).
const SPKI_PREFIX = Uint8Array.fromHex("302a300506032b6570032100");
const keyObjects = new Map<string, KeyObject>();
const triples = history.flatMap((h) => h.approvals).map((a) => {
  let key = keyObjects.get(a.key);
  if (key === undefined) {
    const der = Buffer.concat([SPKI_PREFIX, Uint8Array.fromHex(a.key)]);
    keyObjects.set(a.key, key = createPublicKey({ key: der, format: "der", type: "spki" }));
  }
  return {
    key,
    message: approvalMessage(a.page, a.parent, a.event),
    signature: Uint8Array.fromHex(a.sig),
  };
});

/** Verifies every triple: the time, in ms. */
function rawVerifies(): number {
  const t = performance.now();
  for (const x of triples) {
    if (!nodeVerify(null, x.message, x.key, x.signature)) throw new Error("bad signature");
  }
  return performance.now() - t;
}

Deno.bench("replay 10,000 events (20,000 approvals) into a new log", {
  group: "replay",
  n: 3,
  warmup: 1,
}, (b) => {
  const input = fresh();
  b.start();
  replay(input);
  b.end();
});
Deno.bench(
  "20,000 raw node:crypto verifies of the same (key, message, signature) triples",
  { group: "replay", baseline: true, n: 3, warmup: 1 },
  (b) => {
    b.start();
    rawVerifies();
    b.end();
  },
);
Deno.bench("append 1 event (+2 approvals) to a 10,000-event log", (b) => {
  const log = appendLog;
  const h = next();
  b.start();
  log.addEvent(h.event);
  for (const a of h.approvals) log.addApproval(a);
  log.head();
  b.end();
});

const appendLog = createPageLog(page3);
for (const h of history) {
  appendLog.addEvent(h.event);
  for (const a of h.approvals) appendLog.addApproval(a);
}
let tip = appendLog.head();
let extra = 0;
function next() {
  const ev = proposeEvent(pid3, tip, "SET", { path: ["meta"], value: { about: `x${extra++}` } });
  tip = objectId(ev);
  return {
    event: ev,
    approvals: [approve(keys3[0].secretKey, ev), approve(keys3[1].secretKey, ev)],
  };
}

Deno.bench(
  "replay ÷ raw verifies, 3 alternating pairs (ratios printed)",
  { n: 1, warmup: 0 },
  () => {
    const ratios: number[] = [];
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) {
      const input = fresh();
      const r = replay(input);
      const v = rawVerifies();
      ratios.push(r / v);
      lines.push(`${r.toFixed(0)} ms / ${v.toFixed(0)} ms = ${(r / v).toFixed(2)}`);
    }
    const median = ratios.sort((x, y) => x - y)[1];
    console.log(`replay / raw verifies: ${lines.join(", ")}; median ${median.toFixed(2)}`);
  },
);
