/**
 * Makes the public **testnet** trust anchor and its bundled history from the testnet keys,
 * whose secrets are published in `testnet/keys/` so that anyone can experiment with changes:
 *
 *   deno run --allow-read=testnet --allow-write=lib/anchor \
 *     --v8-flags=--enable-experimental-regexp-engine tools/make_testnet_anchor.ts [OUT-DIR]
 *
 * Writes `lib/anchor/testnet_anchor.json` (the anchor file: the root page's genesis) and
 * `lib/anchor/testnet_bundle.json` (events and approvals after the genesis, verified by every
 * node at start so that registry names answer before any peer is reached). Everything is
 * deterministic (Ed25519 signatures are), so running it again reproduces the same files.
 *
 * A production anchor is made the same way from keys created offline (docs/SERVICE.md, "Root
 * ceremony") and chosen at build time with `deno task compile --anchor FILE --bundle FILE`.
 *
 * @module
 */
import { DEFAULT_ROOT_PAGE } from "../lib/anchor/default_root.ts";
import { encodeAnchorFile } from "../lib/anchor/file.ts";
import { readKeyFile } from "../lib/cli/key.ts";
import {
  approve,
  createGenesis,
  createPageLog,
  type Json,
  objectId,
  type PageEvent,
  proposeEvent,
  type SignedObject,
} from "../lib/page/mod.ts";

const KEYS = ["testnet/keys/root-1.key", "testnet/keys/root-2.key", "testnet/keys/root-3.key"];

if (import.meta.main) {
  // Output directory (default lib/anchor); tests regenerate into a temporary one and compare.
  const out = Deno.args[0] ?? "lib/anchor";
  const keys = await Promise.all(KEYS.map((k) => readKeyFile(k)));
  const genesis = createGenesis({
    participants: Object.fromEntries(keys.map((k) => [k.publicHex, { weight: 1 }])),
    meta: {
      ...DEFAULT_ROOT_PAGE.meta,
      about: "djdns TESTNET root: its keys are published in testnet/keys; anyone may change it",
      policy: "Experimental. Names under testnet.djdns are for trying djdns out.",
    },
    branches: structuredClone(DEFAULT_ROOT_PAGE.branches) as never,
    nonce: "djdns testnet root",
  });
  const page = objectId(genesis);
  const log = createPageLog(genesis);
  const bundle: SignedObject[] = [];
  // A short approved history, so that a node starting from the embedded anchor has something
  // to verify and serve: two names under testnet.djdns, each approved by two of the three keys.
  const change = (args: Json): PageEvent => {
    const ev = proposeEvent(page, log.head(), "ADD_BRANCH", args);
    const approvals = [approve(keys[0].secretKey, ev), approve(keys[1].secretKey, ev)];
    log.addEvent(ev);
    for (const a of approvals) log.addApproval(a);
    if (log.head() !== objectId(ev)) throw new Error("testnet change not accepted");
    bundle.push(ev, ...approvals);
    return ev;
  };
  change({
    index: 1,
    branch: {
      selector: "^hello\\.testnet\\.djdns$",
      records: [
        { domain_name: "hello.testnet.djdns", rtype: "A", rdata: "192.0.2.53", rttl: 300 },
        {
          domain_name: "hello.testnet.djdns",
          rtype: "TXT",
          rdata: "served from the djdns testnet root",
          rttl: 300,
        },
      ],
    },
  });
  change({
    index: 2,
    branch: {
      selector: "^www\\.testnet\\.djdns$",
      records: [
        {
          domain_name: "www.testnet.djdns",
          rtype: "CNAME",
          rdata: "hello.testnet.djdns",
          rttl: 300,
        },
      ],
    },
  });
  await Deno.writeTextFile(`${out}/testnet_anchor.json`, encodeAnchorFile({ page, genesis }));
  await Deno.writeTextFile(
    `${out}/testnet_bundle.json`,
    JSON.stringify(bundle, null, 1) + "\n",
  );
  console.log(page);
}
