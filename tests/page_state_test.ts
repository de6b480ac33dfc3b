/** Page states, governance validation, JSON path operations, handlers and tracks. */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import {
  applyEvent,
  approve,
  canonicalize,
  createGenesis,
  createPageLog,
  type JsonObject,
  objectId,
  type PageState,
  proposeEvent,
  SignedPageError,
  stateSize,
  validateGovernance,
  validateState,
} from "../lib/page/mod.ts";
import { applyOp } from "../lib/page/path.ts";
import { branch, genesisOf, key } from "./page_fixtures.ts";

function refuses(fn: () => unknown, code: string, where: string) {
  throws(fn, (e: unknown) => {
    if (!(e instanceof SignedPageError)) throw e;
    equal(e.code, code, e.message);
    ok(e.message.includes(where), `"${e.message}" should name ${where}`);
    return true;
  });
}

const K0 = key(0).hex;
const gov = (participants: unknown, thresholds: unknown = { content: 0.34, membership: 0.7 }) => ({
  participants,
  thresholds,
});

Deno.test("state: genesis defaults the thresholds to 0.34 and 0.70", () => {
  const g = createGenesis({ participants: { [K0]: { weight: 1 } } });
  deepStrictEqual(g.state.governance.thresholds, { content: 0.34, membership: 0.7 });
  deepStrictEqual(g.state.branches, []);
  ok(Object.isFrozen(g.state.governance));
});

Deno.test("state: governance validation names what and where", () => {
  refuses(() => validateGovernance(gov({})), "invalid-state", "at least one participant");
  refuses(() => validateGovernance(gov({ [K0]: { weight: 0 } })), "invalid-state", "total weight");
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1.5 } })),
    "invalid-state",
    `${K0}.weight`,
  );
  refuses(
    () => validateGovernance(gov({ ABC: { weight: 1 } })),
    "invalid-state",
    "64 lowercase hex",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1, role: "x" } })),
    "invalid-state",
    "'role'",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1 } }, { content: 0, membership: 0.7 })),
    "invalid-state",
    "thresholds.content",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1 } }, { content: 0.34, membership: 1.01 })),
    "invalid-state",
    "thresholds.membership",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1 } }, { content: 1 / 3, membership: 0.7 })),
    "invalid-state",
    "multiple of 0.000001",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1 } }, { content: 0.34 })),
    "invalid-state",
    "thresholds.membership",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1, delegations: { [K0]: 1 } } })),
    "invalid-state",
    "itself",
  );
  refuses(
    () =>
      validateGovernance(
        gov({ [K0]: { weight: 1, delegations: { [key(1).hex]: 0.6, [key(2).hex]: 0.5 } } }),
      ),
    "invalid-state",
    "more than 1",
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1, name: "evil\nline" } })),
    "invalid-state",
    `${K0}.name`,
  );
  refuses(
    () => validateGovernance(gov({ [K0]: { weight: 1, endpoints: Array(9).fill("udp://x:1") } })),
    "invalid-state",
    "endpoints",
  );
  // Delegating to a key that is not a participant is allowed (the power is lost).
  validateGovernance(
    gov({ [K0]: { weight: 1, delegations: { [key(7).hex]: 1 }, endpoints: ["udp://[::1]:5300"] } }),
  );
  // Threshold exactly 1 is allowed.
  validateGovernance(gov({ [K0]: { weight: 1 } }, { content: 1, membership: 1 }));
});

Deno.test("state: whole-state validation covers meta, branches (registry parser) and fields", () => {
  const ok1 = genesisOf(1).state;
  refuses(() => validateState({ ...ok1, extra: 1 }), "invalid-state", "'extra'");
  refuses(() => validateState({ ...ok1, meta: { about: 5 } }), "invalid-state", "meta.about");
  refuses(() => validateState({ ...ok1, branches: {} }), "invalid-state", "branches");
  refuses(
    () =>
      validateState({ ...ok1, branches: [branch("a.example"), { selector: "(a", records: [] }] }),
    "invalid-state",
    "branch 1",
  );
  refuses(
    () =>
      validateState({
        ...ok1,
        branches: [{ selector: "x", records: [{ rtype: "A", rdata: "nope" }] }],
      }),
    "invalid-state",
    "record 0",
  );
  refuses(
    () => validateState({ ...ok1, branches: [{ selector: "x", targets: ["djdns:XYZ"] }] }),
    "invalid-state",
    "page id",
  );
  // Unknown branch keys (comment, users) are kept, as the original format allows.
  const s = validateState({ ...ok1, branches: [{ ...branch("c.example"), comment: "kept" }] });
  equal(s.branches[0].comment, "kept");
});

Deno.test("path: SET and DELETE follow DEJE; insert; errors name the step", () => {
  const doc = Object.freeze({ a: Object.freeze([1, 2, 3]), b: Object.freeze({ c: 1 }) });
  deepStrictEqual(applyOp(doc, { op: "set", path: ["a", 3], value: 4 }), {
    a: [1, 2, 3, 4],
    b: { c: 1 },
  });
  deepStrictEqual(applyOp(doc, { op: "delete", path: ["a", 0] }), { a: [2, 3], b: { c: 1 } });
  deepStrictEqual(applyOp(doc, { op: "insert", path: ["a", 1], value: 9 }), {
    a: [1, 9, 2, 3],
    b: { c: 1 },
  });
  deepStrictEqual(applyOp(doc, { op: "set", path: [], value: 7 }), 7);
  equal(
    applyOp(doc, { op: "delete", path: ["b", "zz"] }),
    doc,
    "deleting a missing key is a no-op",
  );
  const shared = applyOp(doc, { op: "set", path: ["b", "c"], value: 2 }) as typeof doc;
  equal(shared.a, doc.a, "untouched subtrees are shared");
  deepStrictEqual(doc, { a: [1, 2, 3], b: { c: 1 } }, "input unchanged");
  refuses(
    () => applyOp(doc, { op: "set", path: ["a", 5], value: 0 }),
    "apply-failed",
    "past the end",
  );
  refuses(
    () => applyOp(doc, { op: "set", path: ["x", "y"], value: 0 }),
    "apply-failed",
    "no field 'x'",
  );
  refuses(
    () => applyOp(doc, { op: "set", path: ["b", "c", "d"], value: 0 }),
    "apply-failed",
    "scalar",
  );
  refuses(
    () => applyOp(doc, { op: "set", path: ["a", "k"], value: 0 }),
    "apply-failed",
    "not an index",
  );
  refuses(() => applyOp(doc, { op: "delete", path: [] }), "apply-failed", "root");
});

Deno.test("handlers: convenience handlers and the tracks they fall on", () => {
  const g = genesisOf(2);
  const page = "ab".repeat(32);
  const parent = "cd".repeat(32);
  const run = (handler: Parameters<typeof proposeEvent>[2], args: unknown) =>
    applyEvent(g.state, proposeEvent(page, parent, handler, args as never));
  const rec = { domain_name: "a.example", rtype: "AAAA", rdata: "2001:db8::1" };
  let r = run("ADD_RECORD", { branch: 0, record: rec });
  deepStrictEqual(r.state.branches[0].records, [
    ...(g.state.branches[0].records as unknown[]),
    rec,
  ]);
  deepStrictEqual(r.track, { kind: "content" });
  r = run("REMOVE_RECORD", { branch: 0, index: 0 });
  deepStrictEqual(r.state.branches[0].records, []);
  r = run("ADD_BRANCH", { branch: branch("z.example"), index: 0 });
  equal(r.state.branches[0].selector, "^z\\.example$");
  r = run("REMOVE_BRANCH", { index: 0 });
  equal(r.state.branches.length, 0);
  r = run("SET", { path: ["governance", "thresholds", "content"], value: 0.5 });
  deepStrictEqual(r.track, { kind: "membership" });
  r = run("SET", { path: [], value: g.state });
  deepStrictEqual(r.track, { kind: "membership" });
  r = run("SET_DELEGATIONS", { participant: key(1).hex, delegations: { [key(0).hex]: 0.25 } });
  deepStrictEqual(r.track, { kind: "delegation", delegator: key(1).hex });
  // Delegations of a key that is not a participant cannot be set.
  refuses(
    () => run("SET_DELEGATIONS", { participant: key(5).hex, delegations: { [key(0).hex]: 1 } }),
    "apply-failed",
    "no field",
  );
  refuses(
    () => run("BATCH", { ops: [{ handler: "BATCH", args: { ops: [] } }] }),
    "malformed",
    "nest",
  );
  refuses(() => run("ADD_RECORD", { branch: 0 }), "malformed", "missing field 'record'");
  refuses(() => run("LINK_PAGE", { selector: "x", page: "nope" }), "malformed", "args.page");
  // A BATCH is atomic: one failing op leaves nothing applied.
  const ops: JsonObject[] = [
    { handler: "ADD_BRANCH", args: { branch: branch("q.example") } },
    { handler: "REMOVE_BRANCH", args: { index: 9 } },
  ];
  refuses(() => run("BATCH", { ops }), "apply-failed", "ops[1]");
  // In a log: the approved, failing batch is rejected and the state after it is its parent's,
  // without the branch its first operation added.
  const log = createPageLog(g);
  const hashBefore = log.stateHash();
  const batch = proposeEvent(log.pageId, log.pageId, "BATCH", { ops });
  log.addEvent(batch);
  log.addApproval(approve(key(0).secretKey, batch));
  equal(log.status(objectId(batch)).code, "apply-failed");
  equal(log.stateAt(objectId(batch)), undefined, "no state after a failed batch");
  equal(log.head(), log.pageId);
  equal(log.stateHash(), hashBefore);
  const after: PageState = log.state();
  deepStrictEqual(after.branches.map((b) => b.selector), ["^a\\.example$"]);
  // A good batch after it applies both operations on the unchanged state.
  const good = proposeEvent(log.pageId, log.pageId, "BATCH", { ops: [ops[0]] });
  log.addEvent(good);
  log.addApproval(approve(key(1).secretKey, good));
  equal(log.head(), objectId(good));
  equal(log.state().branches.length, 2);
});

Deno.test("state: stateSize is the UTF-8 length of the canonical JSON (MAX_STATE_BYTES is checked)", () => {
  const state = validateState({
    meta: { about: "é → 𝄞 and ascii" },
    governance: {
      participants: { [K0]: { weight: 1, name: "ünïcode" } },
      thresholds: { content: 0.34, membership: 0.7 },
    },
    branches: [],
  });
  equal(stateSize(state), new TextEncoder().encode(canonicalize(state)).length);
});
