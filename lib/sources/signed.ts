/**
 * Signed pages as the resolver sees them: a verified page state becomes a page keyed
 * `djdns:<page-id>`. Only states that the page engine verified from their genesis (or from a
 * verified checkpoint) may be handed in; a page is then reachable only through `djdns:` targets of
 * pages the walk already trusts, which is the chain of trust from the root anchor.
 *
 * @module
 */
import { type PageState, stateBranches } from "../page/mod.ts";
import { parseMeta } from "../registry/branches.ts";
import type { LoadedPage } from "../registry/source.ts";

/** The resolver's view of a verified signed page. */
export function signedPage(pageId: string, state: PageState): LoadedPage {
  return {
    key: `djdns:${pageId}`,
    page: { meta: parseMeta(state.meta, `djdns:${pageId}`), branches: stateBranches(state) },
  };
}
