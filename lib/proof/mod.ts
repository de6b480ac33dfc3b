/**
 * Portable proofs of registry answers: everything needed to check, offline and without trusting
 * the node that made it, that a name resolves as claimed from a trust anchor.
 *
 * A proof names the question and the claimed answer, and carries, for each signed page the
 * resolution walked (the root first, then each page in the order the walk reached it): the
 * genesis; the page's checkpoint chain with the state at its last checkpoint when that is
 * smaller than the history it replaces; and the events of the head chain after that point, each
 * with just enough approvals to be accepted. The verifier opens the root from its own trust
 * anchor's genesis (the checkpoint chain verifies against the genesis governance), opens every
 * other page only through a `djdns:` link in the head state of a page verified before it
 * (PROTOCOL §10), checks that each page's events are accepted and make its head, resolves the
 * question with the same resolver the server runs, and compares the answer.
 *
 * What a proof cannot show: that no later change exists (it proves the answer followed from
 * history that was accepted; a newer head may say otherwise), nor the absence of equivocation
 * evidence the prover left out. Freshness needs a node.
 *
 * Pure: no files, no sockets, no clock.
 *
 * @module
 */
import {
  type Approval,
  canonicalize,
  checkObject,
  type CheckpointLink,
  createPageLog,
  type Genesis,
  links,
  objectId,
  openAnchor,
  openFromCheckpoint,
  openSubPage,
  type PageEvent,
  type PageLog,
  type PageState,
  type TrustAnchor,
} from "../page/mod.ts";
import type { Answer } from "../dns/message.ts";
import { createResolver } from "../registry/resolver.ts";
import { signedPage } from "../sources/signed.ts";
import type { LoadedPage, PageSource } from "../registry/source.ts";

/** One page of a proof. */
export interface ProofPage {
  readonly page: string;
  readonly genesis: Genesis;
  /** The page's checkpoint chain, when the proof starts from its last checkpoint. */
  readonly checkpoints?: readonly CheckpointLink[];
  /** The state at the last checkpoint (with `checkpoints`). */
  readonly state?: PageState;
  /** Head-chain events after the genesis or the last checkpoint, oldest first. */
  readonly events: readonly PageEvent[];
  /** Approvals that make those events accepted. */
  readonly approvals: readonly Approval[];
}

/** A proof file. */
export interface Proof {
  readonly type: "djdns-proof";
  readonly v: 1;
  readonly name: string;
  readonly qtype: string;
  /** The root page id (the trust anchor's page). */
  readonly root: string;
  readonly pages: readonly ProofPage[];
  /** The answer the proof claims. */
  readonly answer: { readonly rcode: number; readonly answers: readonly Answer[] };
}

/** Thrown when a proof does not check; the message says why, on one line. */
export class ProofError extends Error {
  /** Creates a proof error. */
  constructor(message: string) {
    super(message);
    this.name = "ProofError";
  }
}

function eventsById(log: PageLog): Map<string, PageEvent> {
  return new Map(log.events().map((e) => [objectId(e), e]));
}

/**
 * Adds the events one by one with as few approvals as acceptance needs (largest weight first),
 * to the scratch log; returns the approvals used. Throws when an event cannot be accepted.
 */
function fewestApprovals(scratch: PageLog, source: PageLog, events: PageEvent[]): Approval[] {
  const used: Approval[] = [];
  for (const e of events) {
    const id = objectId(e);
    scratch.addEvent(e);
    const state = scratch.stateAt(e.parent);
    const weight = (k: string) => state?.governance.participants[k]?.weight ?? 0;
    const all = [...source.approvals(id)].sort((a, b) => weight(b.key) - weight(a.key));
    for (const a of all) {
      if (scratch.status(id).status === "accepted") break;
      scratch.addApproval(a);
      used.push(a);
    }
    if (scratch.status(id).status !== "accepted") {
      throw new ProofError(`event ${id} of page ${source.pageId} is not accepted`);
    }
  }
  return used;
}

/**
 * The proof section of a verified page log: the smaller of (genesis + its whole head chain) and
 * (genesis + checkpoint chain + state at the last checkpoint + the head chain after it).
 */
export function proofPage(log: PageLog): ProofPage {
  const byId = eventsById(log);
  const chain = log.headChain().filter((id) => id !== log.pageId);
  const links = log.checkpoints();
  const candidates: ProofPage[] = [];
  const build = (from: number, cps?: CheckpointLink[], state?: PageState) => {
    const events = chain.slice(from).map((id) => byId.get(id)!);
    const scratch = cps ? openFromCheckpoint(log.genesis, cps, state!) : createPageLog(log.genesis);
    const approvals = fewestApprovals(scratch, log, events);
    candidates.push({
      page: log.pageId,
      genesis: log.genesis,
      ...(cps ? { checkpoints: cps, state } : {}),
      events,
      approvals,
    });
  };
  // The whole history is available only when the log holds it from the genesis.
  if (
    chain.every((id) => byId.has(id)) &&
    log.height(chain[0] ?? log.pageId) === (chain.length ? 1 : 0)
  ) {
    build(0);
  }
  if (links.length > 0) {
    const last = links.at(-1)!.checkpoint;
    const at = chain.indexOf(last.event);
    const state = log.stateAt(last.event);
    if (state !== undefined && (at >= 0 || last.event === log.pageId)) {
      build(at + 1, links, state);
    }
  }
  if (candidates.length === 0) {
    throw new ProofError(`page ${log.pageId}: its history here does not reach its head`);
  }
  const size = (p: ProofPage) => JSON.stringify(p).length;
  return candidates.reduce((a, b) => (size(b) < size(a) ? b : a));
}

/** A page source over verified logs, rooted at `root`; records the pages a walk reaches. */
function logSource(
  root: PageLog,
  lookup: (pageId: string) => PageLog | undefined,
  visited: string[],
): PageSource {
  const pages = new Map<string, LoadedPage>();
  const loaded = (log: PageLog) => {
    let p = pages.get(log.pageId);
    if (!p) {
      p = signedPage(log.pageId, log.state());
      pages.set(log.pageId, p);
    }
    if (!visited.includes(log.pageId)) visited.push(log.pageId);
    return p;
  };
  return {
    root: () => loaded(root),
    get(target) {
      if (target.kind !== "djdns") throw new Error(`page file ${target.path} in a signed page`);
      const log = lookup(target.pageId);
      if (!log) throw new Error(`signed page ${target.pageId} is not held`);
      return loaded(log);
    },
  };
}

/**
 * Resolves `name`/`qtype` over verified logs (no upstream: a proof covers registry answers only)
 * and returns the answer with the pages the walk reached, root first.
 */
export async function resolveOver(
  root: PageLog,
  lookup: (pageId: string) => PageLog | undefined,
  name: string,
  qtype: string,
): Promise<{ rcode: number; authoritative: boolean; answers: Answer[]; visited: string[] }> {
  const visited: string[] = [];
  const resolve = createResolver({ source: logSource(root, lookup, visited) });
  const r = await resolve(name, qtype);
  if (!r.registry) throw new ProofError(`${name} is not a registry name under ${root.pageId}`);
  return { rcode: r.rcode, authoritative: r.authoritative, answers: r.answers, visited };
}

/**
 * Builds the proof that `name`/`qtype` resolves as it does over the verified logs. Throws
 * ProofError for an answer the registry does not own (SERVFAIL, or one a `dns://` server gave).
 */
export async function buildProof(
  root: PageLog,
  lookup: (pageId: string) => PageLog | undefined,
  name: string,
  qtype: string,
): Promise<Proof> {
  const r = await resolveOver(root, lookup, name, qtype);
  if (r.rcode === 2) throw new ProofError(`${name} ${qtype}: SERVFAIL, nothing to prove`);
  if (!r.authoritative) {
    throw new ProofError(`${name} ${qtype}: answered through a dns:// server, not the registry`);
  }
  const pages = r.visited.map((id) => proofPage(id === root.pageId ? root : lookup(id)!));
  return {
    type: "djdns-proof",
    v: 1,
    name: name.toLowerCase().replace(/\.$/, ""),
    qtype,
    root: root.pageId,
    pages,
    answer: { rcode: r.rcode, answers: r.answers },
  };
}

function feed(log: PageLog, section: ProofPage): void {
  for (const e of section.events) log.addEvent(checkObject(e, "event"));
  for (const a of section.approvals) log.addApproval(checkObject(a, "approval"));
  const expected = section.events.at(-1);
  const head = expected ? objectId(expected) : log.headChain()[0];
  for (const e of section.events) {
    const s = log.status(objectId(e));
    if (s.status !== "accepted") {
      throw new ProofError(
        `page ${section.page}: event ${objectId(e)} is ${s.status}` +
          (s.code ? ` (${s.code}${s.reason ? `: ${s.reason}` : ""})` : ""),
      );
    }
  }
  if (log.head() !== head) {
    throw new ProofError(`page ${section.page}: its events do not make its head`);
  }
}

/**
 * Checks `proof` against `anchor` (the verifier's own trust anchor). Returns the verified answer;
 * throws ProofError (or the page engine's SignedPageError) saying what does not check.
 */
export async function verifyProof(
  proof: Proof,
  anchor: TrustAnchor,
): Promise<{ rcode: number; answers: Answer[]; pages: number }> {
  if (proof?.type !== "djdns-proof" || proof.v !== 1 || !Array.isArray(proof.pages)) {
    throw new ProofError("not a djdns proof (version 1)");
  }
  if (proof.root !== anchor.page) {
    throw new ProofError(
      `the proof starts at page ${proof.root}, not at the anchor ${anchor.page}`,
    );
  }
  const [rootSection, ...rest] = proof.pages;
  if (rootSection?.page !== anchor.page) {
    throw new ProofError("the proof's first page is not the root");
  }
  // The anchor's own checkpoints must be a prefix of the chain the proof starts from: a proof
  // cannot take the verifier back before what it already trusts.
  const mine = (anchor.checkpoints ?? []).map((l) => objectId(l.checkpoint));
  const theirs = (rootSection.checkpoints ?? []).map((l: CheckpointLink) =>
    objectId(checkObject(l.checkpoint, "checkpoint"))
  );
  if (mine.some((id, i) => theirs[i] !== id)) {
    throw new ProofError("the proof's root checkpoints do not extend the anchor's");
  }
  const root = openAnchor({
    page: anchor.page,
    genesis: anchor.genesis,
    checkpoints: rootSection.checkpoints,
    state: rootSection.state,
  });
  feed(root, rootSection);
  const logs = new Map<string, PageLog>([[root.pageId, root]]);
  for (const section of rest) {
    const genesis = checkObject(section.genesis, "genesis");
    if (objectId(genesis) !== section.page) {
      throw new ProofError(`page ${section.page}: its genesis has another id`);
    }
    const parent = [...logs.values()].find((l) => links(l.state(), section.page));
    if (!parent) throw new ProofError(`page ${section.page} is not linked from a verified page`);
    const log = openSubPage(parent, genesis, section.checkpoints, section.state);
    feed(log, section);
    logs.set(log.pageId, log);
  }
  const r = await resolveOver(root, (id) => logs.get(id), proof.name, proof.qtype);
  const claimed = canonicalize(JSON.parse(JSON.stringify(proof.answer.answers)));
  const got = canonicalize(JSON.parse(JSON.stringify(r.answers)));
  if (r.rcode !== proof.answer.rcode || claimed !== got) {
    throw new ProofError(
      `the verified pages answer ${proof.name} ${proof.qtype} with rcode ${r.rcode} and ` +
        `${r.answers.length} record(s), not what the proof claims`,
    );
  }
  return { rcode: r.rcode, answers: r.answers, pages: logs.size };
}
