/**
 * Units of the moderator tools without processes: CHANGE forms against a state (branch placement,
 * records, governance, missing objects), delegation percents, and what a tool does with the
 * objects a node hands it (`--node`): a lying node's forged, foreign or unapproved objects never
 * become the head the tool signs on.
 */
import assert from "node:assert/strict";
import {
  applyEvent,
  approve,
  createGenesis,
  createPageLog,
  objectId,
  type PageState,
  proposeEvent,
} from "../lib/page/mod.ts";
import { buildChange, literalName } from "../lib/cli/change.ts";
import { verifiedLog } from "../lib/cli/pagedata.ts";
import { delegationArg } from "../lib/cli/propose.ts";
import { key } from "./page_fixtures.ts";

const a = key(1);
const b = key(2);

function state(branches: unknown[] = []): PageState {
  return createGenesis({
    participants: { [a.hex]: { weight: 1 }, [b.hex]: { weight: 1 } },
    branches: branches as never,
    nonce: "unit",
  }).state;
}

function apply(s: PageState, words: string[], ttl?: string): PageState {
  const c = buildChange(s, words, ttl);
  return applyEvent(s, proposeEvent("0".repeat(64), "0".repeat(64), c.handler, c.args)).state;
}

Deno.test("CHANGE forms: placement, records, removal, governance, missing objects", () => {
  // A catch-all branch first: the new exact branch goes before it, so the name is answered.
  let s = state([{ selector: ".*", targets: ["dns://192.0.2.53/"] }]);
  s = apply(s, ["add-record", "WWW.Example.Test.", "A", "192.0.2.1"], "60");
  assert.equal(literalName(s.branches[0].selector), "www.example.test");
  assert.deepEqual(s.branches[0].records, [
    { domain_name: "www.example.test", rtype: "A", rdata: "192.0.2.1", rttl: 60 },
  ]);
  // Into the same branch; a duplicate (another spelling of the same data) is refused.
  s = apply(s, ["add-record", "www.example.test", "aaaa", "2001:DB8::1"]);
  assert.equal((s.branches[0].records as unknown[]).length, 2);
  assert.throws(
    () => buildChange(s, ["add-record", "www.example.test", "AAAA", "2001:db8:0::1"]),
    /already has/,
  );
  // Removing the last record of a branch removes the branch.
  s = apply(s, ["remove-record", "www.example.test", "A", "192.0.2.1"]);
  assert.equal(s.branches.length, 2);
  s = apply(s, ["remove-record", "www.example.test", "AAAA", "2001:db8::1"]);
  assert.equal(s.branches.length, 1);
  // Delegation: a subtree selector before the catch-all.
  s = apply(s, ["delegate", "sub.example.test", "ab".repeat(32)]);
  assert.equal(s.branches[0].selector, "(^|\\.)sub\\.example\\.test$");
  assert.deepEqual(s.branches[0].targets, [`djdns:${"ab".repeat(32)}`]);
  // set on a path whose objects are missing creates them.
  s = apply(s, ["set", "meta.contact", '"ops@example.test"']);
  assert.equal(s.meta?.contact, "ops@example.test");
  // Governance.
  const c = key(3).hex;
  s = apply(s, ["add-participant", `${c}:5`]);
  assert.equal(s.governance.participants[c].weight, 5);
  s = apply(s, ["set-weight", c, "2"]);
  assert.equal(s.governance.participants[c].weight, 2);
  s = apply(s, ["set-threshold", "membership", "0.8"]);
  assert.equal(s.governance.thresholds.membership, 0.8);
  s = apply(s, ["remove-participant", c]);
  assert.equal(s.governance.participants[c], undefined);
  // Bad arguments.
  for (
    const words of [
      ["add-record", "a..b", "A", "192.0.2.1"],
      ["add-record", "x.test", "MX", "mail"],
      ["set-threshold", "content", "0.3333333"],
      ["set-threshold", "content", "1.5"],
      ["add-participant", "zz"],
      ["delete", ""],
      ["set", "a", "{"],
    ]
  ) assert.throws(() => buildChange(s, words), Error, words.join(" "));
});

Deno.test("delegation percents are exact ppm", () => {
  assert.deepEqual(delegationArg(`${b.hex}=12.5`, a.hex), [b.hex, 0.125]);
  assert.deepEqual(delegationArg(`${b.hex}=33.3333`, a.hex), [b.hex, 0.333333]);
  assert.deepEqual(delegationArg(`${b.hex}=100%`, a.hex), [b.hex, 1]);
  assert.throws(() => delegationArg(`${b.hex}=33.33333`, a.hex));
  assert.throws(() => delegationArg(`${b.hex}=0`, a.hex));
  assert.throws(() => delegationArg(`${a.hex}=10`, a.hex), /itself/);
});

Deno.test("a lying node's objects: forged, foreign and unapproved objects never make the head", () => {
  const genesis = createGenesis({
    participants: { [a.hex]: { weight: 1 }, [b.hex]: { weight: 1 } },
    nonce: "liar",
  });
  const page = objectId(genesis);
  const good = proposeEvent(page, page, "SET", { path: ["meta"], value: { about: "ok" } });
  const goodApprovals = [approve(a.secretKey, good), approve(b.secretKey, good)];
  // Honest objects: the head is the approved event.
  const honest = verifiedLog(page, [genesis, good, ...goodApprovals]).log;
  assert.equal(honest.head(), objectId(good));

  // An event with no approval, offered as if accepted: the head stays at the genesis.
  const evil = proposeEvent(page, page, "SET", { path: ["meta"], value: { about: "evil" } });
  assert.equal(verifiedLog(page, [genesis, evil]).log.head(), page);
  // A forged approval (b's key, a's signature): refused, the whole set with it.
  const forged = { ...approve(a.secretKey, evil), key: b.hex };
  assert.throws(() => verifiedLog(page, [genesis, evil, forged]), /signature/);
  // Another page's genesis under this id: refused.
  const other = createGenesis({ participants: { [a.hex]: { weight: 1 } }, nonce: "other" });
  assert.throws(() => verifiedLog(page, [other]), /no genesis with that id/);
  // A changed event (same approvals): its approvals are for another id; it is not accepted.
  const changed = { ...good, args: { path: ["meta"], value: { about: "changed" } } };
  const log = verifiedLog(page, [genesis, changed as never]).log;
  assert.equal(log.head(), page);
  assert.equal(verifiedLog(page, [genesis, changed as never, ...goodApprovals]).log.head(), page);
  // An approval of a non-participant: refused.
  const stranger = approve(key(9).secretKey, good);
  assert.throws(() => verifiedLog(page, [genesis, good, stranger]), /participant/);
  // The honest log is unaffected by what others sent.
  assert.equal(createPageLog(genesis).head(), page);
});
