/** DEJE SET/DELETE semantics (reference digest §2.1), errors, bounds and undo. */
import assert from "node:assert/strict";
import {
  type ApplyContext,
  applyEvent,
  DejeError,
  type JsonValue,
  MAX_ARRAY_GAP,
  MAX_DEPTH,
  parseEvent,
  serializeValue,
  type StateBox,
} from "../lib/deje/mod.ts";

const ctx = (): ApplyContext => ({ budget: { units: 1_000_000 }, undo: [] });

function apply(state: JsonValue, handler: string, args: unknown): JsonValue {
  const box: StateBox = { root: structuredClone(state) };
  applyEvent(box, parseEvent({ parent: "", handler, args }), ctx());
  return box.root;
}

function fails(state: JsonValue, handler: string, args: unknown, pattern: RegExp) {
  const box: StateBox = { root: structuredClone(state) };
  const before = serializeValue(box.root, "compact");
  assert.throws(
    () => applyEvent(box, parseEvent({ parent: "", handler, args }), ctx()),
    (e: unknown) => e instanceof DejeError && pattern.test(e.message),
    `${handler} ${JSON.stringify(args)} should fail with ${pattern}`,
  );
  assert.equal(serializeValue(box.root, "compact"), before, "state unchanged by a failed event");
}

const S: JsonValue = { a: { b: 1 }, list: [10, 20], s: "str", n: null };

Deno.test("deje SET: empty path replaces the state, any value", () => {
  assert.deepEqual(apply(S, "SET", { path: [], value: [1, 2] }), [1, 2]);
  assert.deepEqual(apply(S, "SET", { path: [], value: "x" }), "x");
  assert.deepEqual(apply(S, "SET", { path: [], value: null }), null);
});

Deno.test("deje SET: object keys and array indexes", () => {
  assert.deepEqual(apply({}, "SET", { path: ["k"], value: 1 }), { k: 1 });
  assert.deepEqual(apply(S, "SET", { path: ["a", "b"], value: 2 }), { ...S, a: { b: 2 } });
  assert.deepEqual(apply(S, "SET", { path: ["a", "c"], value: [] }), { ...S, a: { b: 1, c: [] } });
  assert.deepEqual(apply(S, "SET", { path: ["list", 1], value: 21 }), { ...S, list: [10, 21] });
  assert.deepEqual(apply(S, "SET", { path: ["list", 1.9], value: 21 }), { ...S, list: [10, 21] });
  assert.deepEqual(apply(S, "SET", { path: ["list", 2], value: 30 }), { ...S, list: [10, 20, 30] });
  // Past the end: the gap is null.
  assert.deepEqual(
    apply(S, "SET", { path: ["list", 4], value: 50 }),
    { ...S, list: [10, 20, null, null, 50] },
  );
  assert.deepEqual(apply([[0]], "SET", { path: [0, 0], value: 1 }), [[1]]);
});

Deno.test("deje SET: errors", () => {
  fails(S, "SET", { path: ["x", "y"], value: 1 }, /path\[0\]: key 'x' not present/);
  fails(S, "SET", { path: ["list", 5, "x"], value: 1 }, /path\[1\]: index 5 not present/);
  fails(S, "SET", { path: ["s", "x"], value: 1 }, /path\[1\]: string has no children/);
  fails(S, "SET", { path: ["n", "x"], value: 1 }, /path\[1\]: null has no children/);
  fails(S, "SET", { path: ["s", "x", "y"], value: 1 }, /path\[1\]: cannot descend into string/);
  fails(S, "SET", { path: [0], value: 1 }, /path\[0\]: object key must be a string, not number/);
  fails(S, "SET", { path: ["list", "0"], value: 1 }, /array index must be a number, not string/);
  fails(S, "SET", { path: ["list", -1], value: 1 }, /array index -1 is negative/);
  fails(S, "SET", { path: ["list", true], value: 1 }, /array index must be a number/);
  fails(S, "SET", { path: ["list", 2 + MAX_ARRAY_GAP + 1], value: 1 }, /past the end/);
  fails(S, "SET", { path: ["k"] }, /No value provided/);
  fails(S, "SET", { value: 1 }, /No path provided/);
  fails(S, "SET", null, /No path provided/);
  fails(S, "SET", { path: "k", value: 1 }, /Bad path value/);
  fails(S, "SET", { path: [{}], value: 1 }, /object key must be a string, not an object/);
});

Deno.test("deje SET: the state may not nest deeper than MAX_DEPTH", () => {
  let deep: JsonValue = 0;
  for (let i = 0; i < 200; i++) deep = [deep];
  const box: StateBox = { root: {} };
  const c = ctx();
  applyEvent(box, parseEvent({ handler: "SET", args: { path: ["a"], value: deep } }), c);
  // Walk down 100 levels and try to hang another 200 there.
  const path: JsonValue[] = ["a", ...new Array(100).fill(0)];
  assert.throws(
    () => applyEvent(box, parseEvent({ handler: "SET", args: { path, value: deep } }), c),
    new RegExp(`more than ${MAX_DEPTH} deep`),
  );
});

Deno.test("deje DELETE: semantics and errors", () => {
  const { a: _a, ...withoutA } = S as Record<string, JsonValue>;
  assert.deepEqual(apply(S, "DELETE", { path: ["a"] }), withoutA);
  assert.deepEqual(apply(S, "DELETE", { path: ["missing"] }), S, "missing key: no-op");
  assert.deepEqual(apply(S, "DELETE", { path: ["list", 0] }), { ...S, list: [20] }, "shifts down");
  assert.deepEqual(apply(S, "DELETE", { path: ["list", 9] }), S, "past the end: no-op");
  assert.deepEqual(apply(S, "DELETE", { path: ["a", "b"] }), { ...S, a: {} });
  fails(S, "DELETE", { path: [] }, /Cannot delete root node/);
  fails(S, "DELETE", {}, /No path provided/);
  fails(S, "DELETE", { path: ["x", "y"] }, /key 'x' not present/);
  fails(S, "DELETE", { path: ["s", "x"] }, /string has no children/);
  fails(S, "DELETE", { path: ["list", "x"] }, /array index must be a number/);
});

Deno.test("deje: handlers other than SET and DELETE are refused", () => {
  fails(S, "foo", { path: [], value: 1 }, /Custom events are not supported yet \(handler 'foo'\)/);
  fails(S, "set", { path: [], value: 1 }, /Custom events are not supported yet/);
  fails(S, "", {}, /Custom events are not supported yet/);
});

Deno.test("deje SET: values are copied, so later edits never change the event", () => {
  const ev = parseEvent({ handler: "SET", args: { path: [], value: { inner: { x: 1 } } } });
  const box: StateBox = { root: {} };
  const c = ctx();
  applyEvent(box, ev, c);
  applyEvent(box, parseEvent({ handler: "SET", args: { path: ["inner", "x"], value: 2 } }), c);
  assert.deepEqual(box.root, { inner: { x: 2 } });
  assert.deepEqual(ev.args, { path: [], value: { inner: { x: 1 } } });
});

Deno.test("deje: the undo log restores the exact previous state", () => {
  const start: JsonValue = { a: { b: 1 }, list: [1, 2, 3], keep: "k" };
  const box: StateBox = { root: structuredClone(start) };
  const c = ctx();
  const steps: [string, unknown][] = [
    ["SET", { path: ["a", "c"], value: { d: [1] } }],
    ["SET", { path: ["a", "b"], value: 9 }],
    ["DELETE", { path: ["list", 1] }],
    ["SET", { path: ["list", 6], value: "far" }],
    ["SET", { path: ["list", 0], value: 0 }],
    ["DELETE", { path: ["keep"] }],
    ["SET", { path: ["__proto__"], value: { polluted: true } }],
    ["SET", { path: [], value: "replaced" }],
  ];
  for (const [handler, args] of steps) applyEvent(box, parseEvent({ handler, args }), c);
  assert.equal(box.root, "replaced");
  for (let i = c.undo.length - 1; i >= 0; i--) c.undo[i]();
  assert.deepEqual(box.root, start);
  assert.equal(serializeValue(box.root, "compact"), serializeValue(start, "compact"));
});

Deno.test("deje SET: __proto__ is an ordinary key", () => {
  const out = apply({}, "SET", { path: ["__proto__"], value: { polluted: true } });
  assert.equal(serializeValue(out, "compact"), '{"__proto__":{"polluted":true}}');
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("deje: copying stops when the work budget runs out", () => {
  const box: StateBox = { root: {} };
  const c: ApplyContext = { budget: { units: 10 }, undo: [] };
  const value = new Array(20).fill(1);
  assert.throws(
    () => applyEvent(box, parseEvent({ handler: "SET", args: { path: ["a"], value } }), c),
    /too expensive/,
  );
  assert.deepEqual(box.root, {});
});
