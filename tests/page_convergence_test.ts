/**
 * Convergence: any set of events, approvals, evidence and checkpoints, delivered in any order, in
 * any batches, with duplicates and with outsiders' junk mixed in, gives the same head, state,
 * statuses and evidence on every log — and the same head and state as a from-scratch reference
 * evaluation of the rules. Seeded: a failure names the seed that reproduces it.
 * PAGE_PROPERTY_RUNS raises the number of histories for long runs.
 *
 * What the reference shares with the engine, and what it does not: it computes states with the
 * engine's `applyEvent` (state transitions are tested on their own in page_state_test.ts), and
 * everything else on its own, directly from docs/PROTOCOL.md: vote power (`referencePower`: every
 * simple delegation path walked, in BigInt), equivocation (every signed claim, wherever it
 * points), acceptance, checkpoint choice (§9) and fork choice — no vote table, no incremental
 * counting, no pools.
 *
 * The histories hold the attacks of issue 7: approvals signed for a wrong or made-up parent,
 * claims that name the genesis, equivocation across tracks, conflicting checkpoints signed by
 * overlapping keys, approvals by outsiders, and junk orphan events from another source.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { sign } from "../lib/crypto/mod.ts";
import {
  applyEvent,
  type Approval,
  approvalMessage,
  approve,
  approveCheckpoint,
  checkObject,
  type CheckpointLink,
  createPageLog,
  type Evidence,
  evidenceOf,
  type Genesis,
  type Governance,
  objectId,
  openFromCheckpoint,
  type PageEvent,
  type PageLog,
  type PageState,
  proposeEvent,
  SignedPageError,
  stateHash,
} from "../lib/page/mod.ts";
import { branch, genesisOf, key, pick, prng, referencePower, shuffle } from "./page_fixtures.ts";

type Obj = PageEvent | Approval | Evidence | CheckpointLink;

interface History {
  genesis: Genesis;
  events: PageEvent[];
  approvals: Approval[];
  evidence: Evidence[];
  checkpoints: CheckpointLink[];
  /** Outsiders' objects: orphan events with made-up parents, sent by another source. */
  junk: PageEvent[];
}

const OUTSIDER = 9;

function claim(i: number, page: string, parent: string, event: string): Approval {
  return checkObject({
    type: "approval",
    v: 1,
    page,
    parent,
    event,
    key: key(i).hex,
    sig: sign(key(i).secretKey, approvalMessage(page, parent, event)).toHex(),
  }, "approval");
}

function randomHistory(seed: number): History {
  const rand = prng(seed);
  const n = 3 + pick(rand, 4);
  const extra: Record<number, { delegations: Record<string, number> }> = {};
  if (rand() < 0.5) extra[0] = { delegations: { [key(1).hex]: 0.5, [key(2).hex]: 0.25 } };
  if (rand() < 0.3) extra[1] = { delegations: { [key(0).hex]: 1 } };
  const genesis = genesisOf(n, {
    weights: Array.from({ length: n }, () => 1 + pick(rand, 3)),
    extra,
    nonce: `seed ${seed}`,
  });
  const page = objectId(genesis);
  const ids = [page];
  const events: PageEvent[] = [];
  const approvals: Approval[] = [];
  const count = 10 + pick(rand, 20);
  const voted = new Set<string>();
  for (let i = 0; i < count; i++) {
    // Mostly extend recent events; sometimes fork from an older one.
    const f = rand();
    const back = f < 0.6 ? 0 : f < 0.85 ? 1 : pick(rand, ids.length);
    const parent = ids[Math.max(0, ids.length - 1 - back)];
    const who = pick(rand, n + 1);
    const r = rand();
    let ev: PageEvent;
    if (r < 0.4) {
      ev = proposeEvent(page, parent, "ADD_BRANCH", { branch: branch(`h${i}.example`) });
    } else if (r < 0.6) {
      ev = proposeEvent(page, parent, "ADD_RECORD", {
        branch: 0,
        record: { rtype: "A", rdata: `198.51.100.${i}` },
      });
    } else if (r < 0.65) {
      ev = proposeEvent(page, parent, "DELETE", { path: ["branches", pick(rand, 3)] });
    } else if (r < 0.75) {
      ev = proposeEvent(page, parent, "SET_DELEGATIONS", {
        participant: key(who % n).hex,
        delegations: rand() < 0.3 ? {} : { [key((who + 1) % n).hex]: 0.5 },
      });
    } else if (r < 0.82) {
      ev = proposeEvent(page, parent, "SET", {
        path: ["governance", "participants", key(pick(rand, n + 1) === n ? OUTSIDER : who % n).hex],
        value: { weight: pick(rand, 4) },
      });
    } else if (r < 0.97) {
      ev = proposeEvent(page, parent, "SET", { path: ["meta"], value: { about: `m${i}` } });
    } else {
      // Applies to nothing valid: a bad selector.
      ev = proposeEvent(page, parent, "ADD_BRANCH", { branch: { selector: "(", records: [] } });
    }
    events.push(ev);
    const id = objectId(ev);
    ids.push(id);
    for (let k = 0; k < n; k++) {
      // Honest keys approve one child per parent; now and then one equivocates (on whatever
      // track the two children are: equivocation crosses tracks).
      const c = `${k}/${parent}`;
      if (rand() < 0.8 && (!voted.has(c) || rand() < 0.08)) {
        voted.add(c);
        approvals.push(approve(key(k).secretKey, ev));
      }
      // A claim signed for a wrong parent: another event, or a made-up id.
      if (rand() < 0.03) {
        const wrong = rand() < 0.5 ? ids[pick(rand, ids.length)] : "ab".repeat(32);
        if (wrong !== parent) approvals.push(claim(k, page, wrong, id));
      }
      // A claim naming the genesis (the root) as its event.
      if (rand() < 0.02) approvals.push(claim(k, page, ids[pick(rand, ids.length)], page));
    }
    if (rand() < 0.1) approvals.push(approve(key(OUTSIDER).secretKey, ev));
    if (rand() < 0.05) approvals.push(claim(OUTSIDER, page, ids[pick(rand, ids.length)], id));
  }
  // Evidence objects for some equivocations (the log also derives them from approvals).
  const evidence: Evidence[] = [];
  const byClaim = new Map<string, Approval>();
  for (const a of approvals) {
    const c = `${a.parent}/${a.key}`;
    const prev = byClaim.get(c);
    if (prev && prev.event !== a.event && rand() < 0.5) evidence.push(evidenceOf(prev, a));
    else byClaim.set(c, a);
  }
  const h: History = { genesis, events, approvals, evidence, checkpoints: [], junk: [] };
  h.checkpoints = randomCheckpoints(h, rand);
  for (let i = 0; i < 5 + pick(rand, 30); i++) {
    const parent = Math.floor(rand() * 2 ** 52).toString(16).padStart(64, "0");
    h.junk.push(proposeEvent(page, parent, "SET", { path: ["meta"], value: { about: `j${i}` } }));
  }
  return h;
}

/**
 * Zero, one or two first checkpoints (prev null) at events that apply, each signed by a random
 * set of genesis participants reaching the membership threshold: two of them usually share
 * signers (conflicting checkpoints).
 */
function randomCheckpoints(h: History, rand: () => number): CheckpointLink[] {
  const r = rand();
  const how = r < 0.4 ? 0 : r < 0.75 ? 1 : 2;
  const gov = h.genesis.state.governance;
  const keys = Object.keys(gov.participants);
  const applied = evaluateStates(h);
  const usable = h.events.map(objectId).filter((id) => applied.get(id)?.state !== undefined);
  const out: CheckpointLink[] = [];
  for (let c = 0; c < how && usable.length > 0; c++) {
    const at = usable[pick(rand, usable.length)];
    const { state, depth } = applied.get(at)!;
    const cp = checkObject({
      type: "checkpoint",
      v: 1,
      page: objectId(h.genesis),
      prev: null,
      event: at,
      height: depth,
      stateHash: stateHash(state!),
      governance: state!.governance,
    }, "checkpoint");
    const signers = shuffle(rand, keys);
    while (signers.length > 1 && enough(gov, new Set(signers.slice(1)), new Set())) signers.shift();
    if (!enough(gov, new Set(signers), new Set())) continue;
    const who = signers.map((k) => keys.indexOf(k));
    out.push({
      checkpoint: cp,
      approvals: who.map((i) => approveCheckpoint(key(i).secretKey, cp)),
    });
  }
  return out;
}

/** The state (if it applies) and height of every event, ignoring votes. */
function evaluateStates(h: History): Map<string, { state?: PageState; depth: number }> {
  const page = objectId(h.genesis);
  const byId = new Map(h.events.map((e) => [objectId(e), e]));
  const memo = new Map<string, { state?: PageState; depth: number }>();
  const at = (id: string): { state?: PageState; depth: number } | undefined => {
    if (id === page) return { state: h.genesis.state, depth: 0 };
    if (memo.has(id)) return memo.get(id);
    const e = byId.get(id);
    const p = e ? at(e.parent) : undefined;
    if (!e || !p) return undefined;
    let state: PageState | undefined;
    if (p.state) {
      try {
        state = applyEvent(p.state, e).state;
      } catch (err) {
        if (!(err instanceof SignedPageError)) throw err;
      }
    }
    const out = { state, depth: p.depth + 1 };
    memo.set(id, out);
    return out;
  };
  for (const id of byId.keys()) at(id);
  return memo;
}

function totalPpm(g: Governance, which: "content" | "membership"): number {
  let total = 0;
  for (const p of Object.values(g.participants)) total += p.weight;
  return Math.round(g.thresholds[which] * 1e6) * total;
}

function enough(g: Governance, approvers: Set<string>, excluded: Set<string>): boolean {
  return referencePower(g, approvers, excluded) >= totalPpm(g, "membership");
}

/** The rules evaluated from scratch over the whole set (see the module doc for what it shares). */
function reference(h: History) {
  const page = objectId(h.genesis);
  const byId = new Map(h.events.map((e) => [objectId(e), e]));
  const signed = [...h.approvals, ...h.evidence.flatMap((e) => [e.first, e.second])];
  // Every signed claim counts for equivocation, wherever it points.
  const claims = new Map<string, Set<string>>();
  for (const a of signed) {
    const c = `${a.parent}/${a.key}`;
    if (!claims.has(c)) claims.set(c, new Set());
    claims.get(c)!.add(a.event);
  }
  const excludedAt = (parent: string) =>
    new Set(
      [...claims].filter(([c, s]) => c.startsWith(parent) && s.size > 1).map(([c]) => c.slice(65)),
    );
  const approvers = (id: string, parent: string) =>
    new Set(signed.filter((a) => a.event === id && a.parent === parent).map((a) => a.key));
  const states = evaluateStates(h);
  // Checkpoints (§9): of the first checkpoints, keys that signed two count for none; the one with
  // most power reaching the membership threshold, then the lowest id, is final.
  const gov = h.genesis.state.governance;
  const byCp = new Map<string, Set<string>>();
  for (const l of h.checkpoints) {
    const s = byCp.get(objectId(l.checkpoint)) ?? new Set();
    for (const a of l.approvals) s.add(a.key);
    byCp.set(objectId(l.checkpoint), s);
  }
  const seen = new Map<string, number>();
  for (const s of byCp.values()) for (const k of s) seen.set(k, (seen.get(k) ?? 0) + 1);
  const cpEq = new Set([...seen].filter(([, c]) => c > 1).map(([k]) => k));
  let final: { id: string; power: number; event: string } | undefined;
  for (const l of h.checkpoints) {
    const id = objectId(l.checkpoint);
    const ap = new Set([...byCp.get(id)!].filter((k) => !cpEq.has(k)));
    if (!enough(gov, ap, cpEq)) continue;
    const power = referencePower(gov, ap, cpEq);
    if (!final || power > final.power || power === final.power && id < final.id) {
      final = { id, power, event: l.checkpoint.event };
    }
  }
  const finalized = new Set<string>();
  for (let e = final?.event; e !== undefined && e !== page; e = byId.get(e)!.parent) {
    finalized.add(e);
  }
  const memo = new Map<string, { accepted: boolean; power: number }>();
  const evalNode = (id: string): { accepted: boolean; power: number } => {
    if (id === page) return { accepted: true, power: 0 };
    const hit = memo.get(id);
    if (hit) return hit;
    const e = byId.get(id)!;
    const s = states.get(id);
    let out = { accepted: false, power: 0 };
    const p = states.get(e.parent)?.state ?? (e.parent === page ? h.genesis.state : undefined);
    if (s?.state && p) {
      const { track } = applyEvent(p, e);
      const eq = excludedAt(e.parent);
      const ap = approvers(id, e.parent);
      const power = referencePower(p.governance, ap, eq);
      const need = totalPpm(p.governance, track.kind === "content" ? "content" : "membership");
      const ok = power >= need ||
        (track.kind === "delegation" && ap.has(track.delegator) && !eq.has(track.delegator));
      out = { accepted: evalNode(e.parent).accepted && (ok || finalized.has(id)), power };
    }
    memo.set(id, out);
    return out;
  };
  const chain = [page];
  for (;;) {
    const last = chain[chain.length - 1];
    const kids = [...byId.keys()].filter((id) =>
      byId.get(id)!.parent === last && evalNode(id).accepted
    );
    if (kids.length === 0) break;
    kids.sort((a, b) =>
      Number(finalized.has(b)) - Number(finalized.has(a)) ||
      evalNode(b).power - evalNode(a).power || (a < b ? -1 : 1)
    );
    chain.push(kids[0]);
  }
  const head = chain[chain.length - 1];
  const headState = head === page ? h.genesis.state : states.get(head)!.state!;
  return { head, chain, hash: stateHash(headState), final: final?.id };
}

const TOLERATED = new Set(["not-participant", "event-mismatch"]);

/**
 * Delivers a stream; answers that say "cannot count" are expected. Checkpoints that cannot be
 * judged yet (`not-ready`) are retried at the end, as a node retries them.
 */
function deliver(log: PageLog, stream: Obj[], rand: () => number, junk: Set<PageEvent>): void {
  const later: CheckpointLink[] = [];
  for (const o of stream) {
    try {
      if ("checkpoint" in o) {
        try {
          log.addCheckpoint(o);
        } catch (e) {
          // A partial link below the threshold is refused (and changes nothing).
          if (e instanceof SignedPageError && e.code === "bad-checkpoint") continue;
          if (!(e instanceof SignedPageError) || e.code !== "not-ready") throw e;
          later.push(o);
        }
      } else if (o.type === "event") {
        log.addEvent(o, { source: junk.has(o) ? "junk" : "honest" });
      } else if (o.type === "approval") log.addApproval(o, { source: "honest" });
      else log.addEvidence(o, { source: "honest" });
    } catch (e) {
      if (!(e instanceof SignedPageError) || !TOLERATED.has(e.code)) throw e;
    }
    if (rand() < 0.1) log.head();
  }
  for (const l of later) {
    try {
      log.addCheckpoint(l);
    } catch (e) {
      if (!(e instanceof SignedPageError) || e.code !== "bad-checkpoint") throw e;
    }
  }
}

function outcome(log: PageLog, h: History) {
  return {
    head: log.head(),
    hash: log.stateHash(),
    chain: log.headChain(),
    status: h.events.map((e) => {
      const s = log.status(objectId(e));
      return [s.status, s.code, s.power];
    }),
    evidence: log.evidence().map(objectId).sort(),
    checkpoints: log.checkpoints().map((l) => objectId(l.checkpoint)),
    checkpointEvidence: log.checkpointEvidence().map(objectId).sort(),
  };
}

function streamOf(h: History, rand: () => number): Obj[] {
  const all: Obj[] = [...h.events, ...h.approvals, ...h.evidence, ...h.checkpoints, ...h.junk];
  // Shuffled, ~25 % duplicated; a checkpoint is sometimes split into two partial links.
  const split = h.checkpoints.flatMap((l) =>
    rand() < 0.5
      ? []
      : [{ checkpoint: l.checkpoint, approvals: l.approvals.filter(() => rand() < 0.5) }]
  );
  return shuffle(rand, [...all, ...split, ...all.filter(() => rand() < 0.25)]);
}

Deno.test("convergence: hostile histories, any order, batches and duplicates, agree (seeded)", () => {
  const runs = Number(Deno.env.get("PAGE_PROPERTY_RUNS") ?? 30);
  for (let seed = 1; seed <= runs; seed++) {
    const h = randomHistory(seed);
    const ref = reference(h);
    const junk = new Set(h.junk);
    let first: ReturnType<typeof outcome> | undefined;
    const rand = prng(seed * 7919);
    for (let order = 0; order < 4; order++) {
      const log = createPageLog(h.genesis);
      deliver(log, streamOf(h, rand), rand, junk);
      const got = outcome(log, h);
      equal(got.head, ref.head, `seed ${seed} order ${order}: head differs from reference`);
      deepStrictEqual(got.chain, ref.chain, `seed ${seed} order ${order}: chain`);
      equal(got.hash, ref.hash, `seed ${seed} order ${order}: state hash`);
      deepStrictEqual(got.checkpoints, ref.final ? [ref.final] : [], `seed ${seed}: checkpoint`);
      if (first === undefined) first = got;
      else deepStrictEqual(got, first, `seed ${seed} order ${order}: differs from order 0`);
    }
  }
});

Deno.test("differential: a node started from a checkpoint agrees with a full node", () => {
  const runs = Number(Deno.env.get("PAGE_PROPERTY_RUNS") ?? 30);
  let compared = 0;
  for (let seed = 1; seed <= runs * 3 && compared < runs; seed++) {
    const h = randomHistory(1000 + seed);
    const ref = reference(h);
    if (ref.final === undefined) continue; // needs a final checkpoint to start from
    compared++;
    const rand = prng(seed * 104729);
    const full = createPageLog(h.genesis);
    deliver(full, streamOf(h, rand), rand, new Set(h.junk));
    const link = full.checkpoints()[0];
    const root = link.checkpoint.event;
    const light = openFromCheckpoint(h.genesis, [link], full.stateAt(root));
    // The light node gets every object too (what lies before its root stays unlinked, bounded).
    const stream = streamOf(h, rand).filter((o) => !("checkpoint" in o));
    deliver(light, stream, rand, new Set(h.junk));
    equal(light.head(), full.head(), `seed ${seed}: head`);
    equal(light.stateHash(), full.stateHash(), `seed ${seed}: state hash`);
    deepStrictEqual(light.headChain(), full.headChain().slice(full.headChain().indexOf(root)));
    // Every event after the root: same status, same power, same equivocators at it.
    const after = full.headChain().slice(full.headChain().indexOf(root));
    const later = h.events.map(objectId).filter((id) => {
      for (let e = id;;) {
        if (e === root) return id !== root;
        const ev = h.events.find((x) => objectId(x) === e);
        if (!ev) return false;
        e = ev.parent;
      }
    });
    for (const id of later) {
      const [a, b] = [light.status(id), full.status(id)];
      deepStrictEqual(
        [a.status, a.code, a.power],
        [b.status, b.code, b.power],
        `seed ${seed}: status of ${id}`,
      );
      deepStrictEqual(light.equivocators(id), full.equivocators(id), `seed ${seed}: at ${id}`);
    }
    for (const id of after) deepStrictEqual(light.equivocators(id), full.equivocators(id));
  }
  equal(compared > 0, true, "no history had a final checkpoint");
});
