/** Chain of trust: anchors and sub-pages linked by djdns:<page-id> targets. */
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  approve,
  approveCheckpoint,
  createCheckpoint,
  createPageLog,
  linkedPageIds,
  links,
  objectId,
  openAnchor,
  openSubPage,
  proposeEvent,
} from "../lib/page/mod.ts";
import { approvals, branch, genesisOf, key } from "./page_fixtures.ts";

Deno.test("trust: an anchor opens only the anchored genesis", () => {
  const g = genesisOf(2);
  const log = openAnchor({ page: objectId(g), genesis: g });
  equal(log.pageId, objectId(g));
  throws(
    () => openAnchor({ page: objectId(g), genesis: genesisOf(2, { nonce: "impostor" }) }),
    { code: "not-linked" } as never,
  );
});

Deno.test("trust: an anchor may pin a checkpoint (and then needs its state)", () => {
  const g = genesisOf(3);
  const full = createPageLog(g);
  const ev = proposeEvent(full.pageId, full.pageId, "ADD_BRANCH", { branch: branch("b.example") });
  full.addEvent(ev);
  for (const a of approvals(ev, [0, 1])) full.addApproval(a);
  const checkpoint = createCheckpoint(full);
  const link = {
    checkpoint,
    approvals: [0, 1, 2].map((i) => approveCheckpoint(key(i).secretKey, checkpoint)),
  };
  const log = openAnchor({
    page: full.pageId,
    genesis: g,
    checkpoints: [link],
    state: full.state(),
  });
  equal(log.stateHash(), full.stateHash());
  throws(() => openAnchor({ page: full.pageId, genesis: g, checkpoints: [link] }), {
    code: "bad-checkpoint",
  } as never);
});

Deno.test("trust: a sub-page opens only when the verified parent links to it", () => {
  const root = createPageLog(genesisOf(2, { nonce: "root" }));
  const subGenesis = genesisOf(2, { nonce: "sub", branches: [branch("x.sub.example")] });
  const subId = objectId(subGenesis);
  throws(() => openSubPage(root, subGenesis), { code: "not-linked" } as never);
  // A proposed but not yet accepted link is not enough.
  const linkEv = proposeEvent(root.pageId, root.pageId, "LINK_PAGE", {
    selector: "\\.sub\\.example$",
    page: subId,
    index: 0,
  });
  root.addEvent(linkEv);
  throws(() => openSubPage(root, subGenesis), { code: "not-linked" } as never);
  root.addApproval(approve(key(0).secretKey, linkEv));
  deepStrictEqual(linkedPageIds(root.state()), [subId]);
  deepStrictEqual(root.state().branches[0], {
    selector: "\\.sub\\.example$",
    targets: [`djdns:${subId}`],
    records: [],
  });
  const sub = openSubPage(root, subGenesis);
  equal(sub.pageId, subId);
  equal(links(root.state(), subId), true);
  // Another genesis cannot pose as the linked one.
  throws(() => openSubPage(root, genesisOf(2, { nonce: "fake" })), { code: "not-linked" } as never);
  // Unlinking: the sub-page is no longer reachable from the new head.
  const unlink = proposeEvent(root.pageId, root.head(), "REMOVE_BRANCH", { index: 0 });
  root.addEvent(unlink);
  root.addApproval(approve(key(1).secretKey, unlink));
  equal(links(root.state(), subId), false);
});
