/**
 * DEJE tip choice (reference digest §2.4): go-deje's tracker scenarios and compatibility cases,
 * histories that fail to apply, the published document, and bounded work on long histories.
 */
import assert from "node:assert/strict";
import {
  chooseTip,
  type DejeDocument,
  type DejeEvent,
  documentState,
  hashEvent,
  type JsonObject,
  parseDocument,
  parseEvent,
  parseJsonText,
} from "../lib/deje/mod.ts";

function event(parent: string, handler: string, args: JsonObject | null): DejeEvent {
  return parseEvent({ parent, handler, args });
}

// The tracker test fixtures of go-deje: Root sets a key, Child and Fork are competing children.
const Root = event("", "SET", { path: ["key"], value: "value" });
const ROOT = hashEvent(Root);
const Child = event(ROOT, "SET", { path: ["other key"], value: "other value" });
const CHILD = hashEvent(Child);
const Fork = event(ROOT, "SET", { path: ["fork"], value: "fork" });
const FORK = hashEvent(Fork);
const CannotGoto = event("", "SET", {}); // no path: does not apply
const CANNOT_GOTO = hashEvent(CannotGoto);
const Orphan = event("foobarbaz", "SET", {});
const ORPHAN = hashEvent(Orphan);
const UNREGISTERED = hashEvent(event("", "foo", {}));

function doc(timestamps: string[], extra: DejeEvent[] = []): DejeDocument {
  const events = new Map<string, DejeEvent>();
  for (const e of [Root, Child, Fork, CannotGoto, Orphan, ...extra]) events.set(hashEvent(e), e);
  return { events, timestamps };
}

Deno.test("deje tip: go-deje tracker scenarios", () => {
  const none = chooseTip(doc([]));
  assert.equal(none.tip, null);
  assert.deepEqual(none.state, {});
  assert.deepEqual(none.skipped, []);

  const unknown = chooseTip(doc(["xyz"]));
  assert.equal(unknown.tip, null);
  assert.deepEqual(unknown.skipped, [{ index: 0, id: "xyz", reason: "unknown event" }]);

  const one = chooseTip(doc([ROOT]));
  assert.equal(one.tip, ROOT);
  assert.deepEqual(one.state, { key: "value" });

  const progress = chooseTip(doc(["abc", ROOT, "xyz"]));
  assert.equal(progress.tip, ROOT, "failure does not impede or destroy progress");
  assert.deepEqual(progress.skipped.map((s) => s.index), [0, 2]);

  const forks = chooseTip(doc([ROOT, CHILD, FORK]));
  assert.equal(forks.tip, CHILD, "first fork wins");
  assert.deepEqual(forks.state, { key: "value", "other key": "other value" });
  assert.equal(forks.skipped.length, 1);
  assert.equal(forks.skipped[0].id, FORK);
  assert.match(forks.skipped[0].reason, /not a fast-forward of the tip/);

  const cannot = chooseTip(doc([CANNOT_GOTO]));
  assert.equal(cannot.tip, null, "an event that does not apply never becomes the tip");
  assert.match(cannot.skipped[0].reason, /does not apply: No path provided/);
});

Deno.test("deje tip: compatibility with the tip (go-deje CompatibleWithTip cases)", () => {
  // Child vs tip Root: compatible.
  assert.equal(chooseTip(doc([ROOT, CHILD])).tip, CHILD);
  // Anything known vs no tip: compatible, and its history is applied root-first.
  const child = chooseTip(doc([CHILD]));
  assert.equal(child.tip, CHILD);
  assert.deepEqual(child.state, { key: "value", "other key": "other value" });
  // Root vs tip Child: not a fast-forward.
  assert.equal(chooseTip(doc([CHILD, ROOT])).tip, CHILD);
  // Fork vs tip Child: incompatible; and the other way round.
  assert.equal(chooseTip(doc([CHILD, FORK])).tip, CHILD);
  assert.equal(chooseTip(doc([FORK, CHILD])).tip, FORK);
  assert.deepEqual(chooseTip(doc([FORK, CHILD])).state, { key: "value", fork: "fork" });
  // An unregistered event, even against no tip.
  assert.equal(chooseTip(doc([UNREGISTERED])).tip, null);
  // Orphan (unknown parent) vs tip Root, and vs no tip.
  const orphan = chooseTip(doc([ROOT, ORPHAN]));
  assert.equal(orphan.tip, ROOT);
  assert.match(orphan.skipped[0].reason, /ancestor event is unknown/);
  assert.equal(chooseTip(doc([ORPHAN])).tip, null);
  // The tip listed again changes nothing.
  const again = chooseTip(doc([ROOT, ROOT, CHILD, CHILD]));
  assert.equal(again.tip, CHILD);
  assert.deepEqual(again.skipped, []);
});

Deno.test("deje tip: a history that fails part-way is rolled back and remembered", () => {
  const Bad = event(ROOT, "DELETE", { path: [] }); // Cannot delete root node
  const BAD = hashEvent(Bad);
  const AfterBad = event(BAD, "SET", { path: ["x"], value: 1 });
  const AFTER_BAD = hashEvent(AfterBad);
  const Deeper = event(AFTER_BAD, "SET", { path: ["y"], value: 2 });
  const DEEPER = hashEvent(Deeper);
  const extra = [Bad, AfterBad, Deeper];

  const fromNone = chooseTip(doc([AFTER_BAD, ROOT], extra));
  assert.equal(fromNone.tip, ROOT);
  assert.deepEqual(fromNone.state, { key: "value" }, "Root applied once, after the rollback");
  assert.match(fromNone.skipped[0].reason, /Cannot delete root node/);

  const fromRoot = chooseTip(doc([ROOT, AFTER_BAD, DEEPER, BAD, CHILD], extra));
  assert.equal(fromRoot.tip, CHILD);
  assert.deepEqual(fromRoot.state, { key: "value", "other key": "other value" });
  assert.deepEqual(fromRoot.skipped.map((s) => s.id), [AFTER_BAD, DEEPER, BAD]);
  for (const s of fromRoot.skipped) {
    assert.match(s.reason, new RegExp(`event ${BAD.slice(0, 12)} does not apply`));
  }
});

Deno.test("deje tip: the published document's state is the Go demo page", () => {
  const text = Deno.readTextFileSync(
    new URL("./fixtures/deje/dns_roaming_initiative/document/input", import.meta.url),
  );
  const parsed = parseDocument(parseJsonText(text));
  const choice = chooseTip(parsed);
  assert.equal(choice.tip, "179b3c9565bef6647bbbfc02edf398f9ebcb953a");
  const page = choice.state as JsonObject;
  assert.deepEqual(Object.keys(page).sort(), ["branches", "meta"]);
  assert.equal((page.meta as JsonObject).about, "Roaming Initiative company DJDNS page.");
  const branches = page.branches as JsonObject[];
  assert.deepEqual(branches.map((b) => b.selector), [
    "^(gmg\\.)?ri\\.hype\\.$",
    "^orchard\\.ri\\.hype\\.$",
  ]);
  assert.deepEqual(documentState(parsed), choice.state);
  // The state is a copy: changing it leaves the document's events alone.
  (page.meta as JsonObject).about = "changed";
  assert.equal(
    ((parsed.events.get(choice.tip!)!.args!.value as JsonObject).meta as JsonObject).about,
    "Roaming Initiative company DJDNS page.",
  );
});

function chain(length: number): { events: DejeEvent[]; ids: string[] } {
  const events: DejeEvent[] = [];
  const ids: string[] = [];
  let parent = "";
  for (let i = 0; i < length; i++) {
    const e = event(parent, "SET", { path: ["n"], value: i });
    events.push(e);
    parent = hashEvent(e);
    ids.push(parent);
  }
  return { events, ids };
}

Deno.test("deje tip: a long linear history is evaluated in linear time, without recursion", () => {
  const { events, ids } = chain(20_000);
  const d: DejeDocument = { events: new Map(events.map((e, i) => [ids[i], e])), timestamps: ids };
  const t0 = performance.now();
  const choice = chooseTip(d);
  const ms = performance.now() - t0;
  assert.equal(choice.tip, ids[ids.length - 1]);
  assert.deepEqual(choice.state, { n: 19_999 });
  assert.ok(ms < 2000, `took ${ms} ms`);
  // Only the last one listed: the whole history is applied from the root.
  const last = chooseTip({ events: d.events, timestamps: [ids[ids.length - 1]] });
  assert.deepEqual(last.state, { n: 19_999 });
});

Deno.test("deje tip: pathological re-evaluation stops at the work bound with a clear error", () => {
  // A 2000-event history with many failing leaves, each listed while there is no tip: every leaf
  // replays the whole history before failing.
  const { events, ids } = chain(2000);
  const map = new Map(events.map((e, i) => [ids[i], e]));
  const leaves: string[] = [];
  for (let i = 0; i < 50; i++) {
    const leaf = event(ids[ids.length - 1], "DELETE", { path: [], n: i });
    const id = hashEvent(leaf);
    map.set(id, leaf);
    leaves.push(id);
  }
  const d: DejeDocument = { events: map, timestamps: leaves };
  assert.throws(() => chooseTip(d, { maxWork: 50_000 }), /too expensive to evaluate/);
  // With the default bound the same document is fine.
  const ok = chooseTip(d);
  assert.equal(ok.tip, null);
  assert.equal(ok.skipped.length, 50);
});
