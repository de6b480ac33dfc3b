/**
 * Convergence: any set of events, approvals and evidence, delivered in any order, in any batches,
 * with duplicates, gives the same head, state and statuses — and the same as a from-scratch
 * reference evaluation of the rules. Seeded: a failure names the seed that reproduces it.
 * PAGE_PROPERTY_RUNS raises the number of histories for long runs.
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import {
  applyEvent,
  type Approval,
  approve,
  countPower,
  createPageLog,
  type Evidence,
  evidenceOf,
  type Genesis,
  objectId,
  type PageEvent,
  type PageLog,
  type PageState,
  proposeEvent,
  SignedPageError,
  stateHash,
} from "../lib/page/mod.ts";
import { voteTable } from "../lib/page/governance.ts";
import { branch, genesisOf, key, pick, prng, shuffle } from "./page_fixtures.ts";

type Obj = PageEvent | Approval | Evidence;

interface History {
  genesis: Genesis;
  events: PageEvent[];
  approvals: Approval[];
  evidence: Evidence[];
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
    const who = pick(rand, n + 1); // n = the outsider key 9
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
        path: ["governance", "participants", key(pick(rand, n + 1) === n ? 9 : who % n).hex],
        value: { weight: pick(rand, 4) },
      });
    } else if (r < 0.97) {
      ev = proposeEvent(page, parent, "SET", { path: ["meta"], value: { about: `m${i}` } });
    } else {
      // Applies to nothing valid: a bad selector.
      ev = proposeEvent(page, parent, "ADD_BRANCH", { branch: { selector: "(", records: [] } });
    }
    events.push(ev);
    ids.push(objectId(ev));
    for (let k = 0; k < n; k++) {
      // Honest keys approve one child per parent; now and then one equivocates.
      const claim = `${k}/${parent}`;
      if (rand() < 0.8 && (!voted.has(claim) || rand() < 0.08)) {
        voted.add(claim);
        approvals.push(approve(key(k).secretKey, ev));
      }
    }
    if (rand() < 0.1) approvals.push(approve(key(9).secretKey, ev));
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
  return { genesis, events, approvals, evidence };
}

function deliver(log: PageLog, o: Obj): void {
  try {
    if (o.type === "event") log.addEvent(o);
    else if (o.type === "approval") log.addApproval(o);
    else log.addEvidence(o);
  } catch (e) {
    // Refusals that depend on what is already known (an outsider's approval after its event).
    if (!(e instanceof SignedPageError) || e.code !== "not-participant") throw e;
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
  };
}

/** The rules evaluated from scratch over the whole set, independently of the engine. */
function reference(h: History) {
  const page = objectId(h.genesis);
  const byId = new Map(h.events.map((e) => [objectId(e), e]));
  const claims = new Map<string, Set<string>>();
  for (const a of [...h.approvals, ...h.evidence.flatMap((e) => [e.first, e.second])]) {
    const c = `${a.parent}/${a.key}`;
    if (!claims.has(c)) claims.set(c, new Set());
    claims.get(c)!.add(a.event);
  }
  const excludedAt = (parent: string) =>
    new Set(
      [...claims].filter(([c, s]) => c.startsWith(parent) && s.size > 1).map(([c]) => c.slice(65)),
    );
  const approvers = (id: string, parent: string) =>
    new Set(
      [...h.approvals, ...h.evidence.flatMap((e) => [e.first, e.second])]
        .filter((a) => a.event === id && a.parent === parent).map((a) => a.key),
    );
  const memo = new Map<string, { state?: PageState; accepted: boolean; power: number }>();
  const evalNode = (id: string): { state?: PageState; accepted: boolean; power: number } => {
    if (id === page) return { state: h.genesis.state, accepted: true, power: 0 };
    const hit = memo.get(id);
    if (hit) return hit;
    const e = byId.get(id);
    let out: { state?: PageState; accepted: boolean; power: number } = {
      accepted: false,
      power: 0,
    };
    const p = e && (e.parent === page || byId.has(e.parent)) ? evalNode(e.parent) : undefined;
    if (e && p?.state) {
      try {
        const { state, track } = applyEvent(p.state, e);
        const table = voteTable(p.state.governance);
        const eq = excludedAt(e.parent);
        const ap = approvers(id, e.parent);
        const power = countPower(table, ap, eq);
        const need = track.kind === "content" ? table.contentPpm : table.membershipPpm;
        const enough = power >= need * table.totalWeight ||
          (track.kind === "delegation" && ap.has(track.delegator) && !eq.has(track.delegator));
        out = { state, accepted: p.accepted && enough, power };
      } catch (err) {
        if (!(err instanceof SignedPageError)) throw err;
      }
    }
    memo.set(id, out);
    return out;
  };
  const chain = [page];
  for (;;) {
    const last = chain[chain.length - 1];
    const kids = h.events.map(objectId).filter((id, i, all) =>
      all.indexOf(id) === i && byId.get(id)!.parent === last && evalNode(id).accepted
    );
    if (kids.length === 0) break;
    kids.sort((a, b) => evalNode(b).power - evalNode(a).power || (a < b ? -1 : 1));
    chain.push(kids[0]);
  }
  const head = chain[chain.length - 1];
  return { head, chain, hash: stateHash(evalNode(head).state!) };
}

Deno.test("convergence: random histories, orders, batches and duplicates agree (seeded)", () => {
  const runs = Number(Deno.env.get("PAGE_PROPERTY_RUNS") ?? 25);
  for (let seed = 1; seed <= runs; seed++) {
    const h = randomHistory(seed);
    const all: Obj[] = [...h.events, ...h.approvals, ...h.evidence];
    const ref = reference(h);
    let first: ReturnType<typeof outcome> | undefined;
    const rand = prng(seed * 7919);
    for (let order = 0; order < 4; order++) {
      const log = createPageLog(h.genesis);
      // Shuffled, ~25 % duplicated, in random batches with reads in between.
      const stream = shuffle(rand, [...all, ...all.filter(() => rand() < 0.25)]);
      for (const o of stream) {
        deliver(log, o);
        if (rand() < 0.1) log.head();
      }
      const got = outcome(log, h);
      equal(got.head, ref.head, `seed ${seed} order ${order}: head differs from reference`);
      deepStrictEqual(got.chain, ref.chain, `seed ${seed} order ${order}: chain`);
      equal(got.hash, ref.hash, `seed ${seed} order ${order}: state hash`);
      if (first === undefined) first = got;
      else deepStrictEqual(got, first, `seed ${seed} order ${order}: differs from order 0`);
    }
  }
});
