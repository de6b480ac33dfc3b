/**
 * The root page as this build knows it without any peer: the embedded anchor verified, with the
 * bundled history after it fed through the page engine (every signature and approval checked).
 *
 * @module
 */
import { openAnchor, type PageLog, type SignedObject, type TrustAnchor } from "../page/mod.ts";

const BUILD = { source: "build", trusted: true } as const;

/**
 * Opens `anchor` and adds the `bundle`'s objects of that page (events before approvals and
 * evidence, in the bundle's order). Throws when the anchor or any object fails verification:
 * the embedded bundle is part of the build, and a bad one must not start.
 */
export function anchorLog(anchor: TrustAnchor, bundle: readonly SignedObject[]): PageLog {
  const log = openAnchor(anchor);
  const rank = (o: SignedObject) => (o.type === "event" ? 0 : 1);
  const ordered = [...bundle].sort((a, b) => rank(a) - rank(b));
  for (const [i, o] of ordered.entries()) {
    try {
      // Part of the build: verified like any object, but not bounded by the log's pools (all
      // events come before their approvals here).
      if (o.type === "event") log.addEvent(o, BUILD);
      else if (o.type === "approval") log.addApproval(o, BUILD);
      else if (o.type === "evidence") log.addEvidence(o, BUILD);
      else throw new Error(`a ${o.type} does not belong in a root bundle`);
    } catch (e) {
      throw new Error(`root bundle object ${i} (${o.type}): ${(e as Error).message}`);
    }
  }
  return log;
}
