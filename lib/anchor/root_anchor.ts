/**
 * The root trust anchor embedded in this build, and the verified history bundled with it.
 *
 * Both are JSON files imported into the module graph (so `deno compile` embeds them): the
 * import map names them `#root-anchor` and `#root-bundle`. deno.json maps them to the public
 * **testnet** anchor (lib/anchor/testnet_anchor.json, made by tools/make_testnet_anchor.ts from
 * the keys published in testnet/keys); `deno task compile --anchor FILE --bundle FILE` maps them
 * to a production anchor at build time. The anchor is checked when this module loads: a build
 * with a broken anchor does not start.
 *
 * @module
 */
import anchorJson from "#root-anchor" with { type: "json" };
import bundleJson from "#root-bundle" with { type: "json" };
import { checkObject, type Genesis, type SignedObject, type TrustAnchor } from "../page/mod.ts";
import { parseAnchorFile } from "./file.ts";

/** Id of the public testnet root page, whose keys anyone may use (testnet/keys). */
export const TESTNET_PAGE_ID = "ad7ed77ca3969ce93bb60c8ef105868670d5e7e2dda366fabc79ab84d4460631";

/** The embedded anchor, shape-checked (openAnchor verifies it). */
export const ROOT_ANCHOR: TrustAnchor = parseAnchorFile(
  JSON.stringify(anchorJson),
  "embedded root anchor",
);

/** Id of the root page (the SHA-256 of its genesis). */
export const ROOT_PAGE_ID: string = ROOT_ANCHOR.page;

/** Genesis of the root page. */
export const ROOT_GENESIS: Genesis = ROOT_ANCHOR.genesis;

/** True when this build's root is the public testnet (anyone holds its keys). */
export const ROOT_IS_TESTNET: boolean = ROOT_PAGE_ID === TESTNET_PAGE_ID;

/**
 * Signed objects of the root page after the anchor (events, approvals…), shape-checked here and
 * verified by the page engine before use, so a node serves the root's current names before it
 * reaches any peer.
 */
export const ROOT_BUNDLE: readonly SignedObject[] = (bundleJson as unknown[]).map((o, i) => {
  try {
    return checkObject(o);
  } catch (e) {
    throw new Error(`embedded root bundle, object ${i}: ${(e as Error).message}`);
  }
});
