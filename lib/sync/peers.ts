/**
 * Peer standing: a bounded table of peers with a score that useful data raises and invalid or
 * withheld data lowers, and bans (with expiry, longer on repeat) once the score falls too low.
 *
 * Pure logic: the time is passed in (`now`, ms since the epoch). The network layer asks
 * {@linkcode PeerBook.banned} before it dials or accepts a peer and hangs up on banned peers;
 * the node persists {@linkcode PeerBook.records} in the store.
 *
 * @module
 */

/** Why a peer's score changes. */
export type PeerEvent =
  /** Sent an object that verified and was new. */
  | "useful"
  /** Sent an object that failed verification (forged, malformed, wrong page). */
  | "invalid"
  /** Advertised a head (or objects) in a summary and did not deliver it when asked. */
  | "undelivered"
  /** Sent a protocol message that does not parse or breaks a limit. */
  | "garbage";

/** Score changes per event (documented in docs/PROTOCOL.md §17). */
export const SCORE_DELTA: Readonly<Record<PeerEvent, number>> = {
  useful: 1,
  invalid: -20,
  undelivered: -25,
  garbage: -30,
};
/** Highest score (so a long-useful peer can still be banned by a short burst of lies). */
export const MAX_SCORE = 50;
/** A peer at or below this score is banned. */
export const BAN_SCORE = -50;
/** First ban length; each further ban doubles it, up to {@linkcode MAX_BAN_MS}. */
export const BAN_MS = 10 * 60_000;
/** Longest ban. */
export const MAX_BAN_MS = 24 * 60 * 60_000;
/** Most peers remembered (the store's table has its own bound too). */
export const MAX_PEERS = 1024;

/** A peer's standing. */
export interface PeerStanding {
  /** Peer id (libp2p, base58). */
  readonly id: string;
  /** Addresses to dial it at (multiaddrs), most recent first; at most 4. */
  addrs: string[];
  /** Current score. */
  score: number;
  /** Banned until (ms since the epoch); 0 when not banned. */
  bannedUntil: number;
  /** Bans so far (the next one lasts longer). */
  bans: number;
  /** Last time it was heard from. */
  lastSeen: number;
  /** Counts of each event. */
  readonly counts: Record<PeerEvent, number>;
}

/** The peer table. */
export interface PeerBook {
  /** Records an event about a peer; returns true when this event banned it. */
  note(id: string, event: PeerEvent, now: number, count?: number): boolean;
  /** Remembers an address for a peer (and that it was seen). */
  seen(id: string, now: number, addr?: string): void;
  /** Whether the peer is banned at `now`. */
  banned(id: string, now: number): boolean;
  /** A peer's standing. */
  get(id: string): PeerStanding | undefined;
  /** Every peer, best first. */
  list(): PeerStanding[];
  /** Restores a remembered peer (from the store). */
  restore(
    p: { id: string; addrs: string[]; score: number; bannedUntil: number; lastSeen: number },
  ): void;
}

/** An empty peer table holding at most `max` peers (the worst, least recently seen go first). */
export function createPeerBook(max = MAX_PEERS): PeerBook {
  const peers = new Map<string, PeerStanding>();

  function entry(id: string, now: number): PeerStanding {
    let p = peers.get(id);
    if (p === undefined) {
      if (peers.size >= max) evict();
      p = {
        id,
        addrs: [],
        score: 0,
        bannedUntil: 0,
        bans: 0,
        lastSeen: now,
        counts: { useful: 0, invalid: 0, undelivered: 0, garbage: 0 },
      };
      peers.set(id, p);
    }
    return p;
  }

  function evict(): void {
    let worst: PeerStanding | undefined;
    for (const p of peers.values()) {
      // A banned peer is kept while its ban runs, or evicting it would lift the ban.
      if (p.bannedUntil > p.lastSeen) continue;
      if (
        worst === undefined || p.score < worst.score ||
        (p.score === worst.score && p.lastSeen < worst.lastSeen)
      ) worst = p;
    }
    if (worst) peers.delete(worst.id);
  }

  return {
    note(id, event, now, count = 1) {
      const p = entry(id, now);
      p.counts[event] += count;
      p.lastSeen = now;
      p.score = Math.min(MAX_SCORE, p.score + SCORE_DELTA[event] * count);
      if (p.score <= BAN_SCORE && p.bannedUntil <= now) {
        p.bannedUntil = now + Math.min(MAX_BAN_MS, BAN_MS * 2 ** p.bans);
        p.bans++;
        // Served its ban, it starts again from the ban line, so a repeat bans at once.
        p.score = BAN_SCORE + 1;
        return true;
      }
      return false;
    },
    seen(id, now, addr) {
      const p = entry(id, now);
      p.lastSeen = now;
      if (addr !== undefined && addr.length <= 200) {
        p.addrs = [addr, ...p.addrs.filter((a) => a !== addr)].slice(0, 4);
      }
    },
    banned: (id, now) => (peers.get(id)?.bannedUntil ?? 0) > now,
    get: (id) => peers.get(id),
    list: () => [...peers.values()].sort((a, b) => b.score - a.score || b.lastSeen - a.lastSeen),
    restore(r) {
      const p = entry(r.id, r.lastSeen);
      p.addrs = r.addrs.slice(0, 4);
      p.score = Math.max(BAN_SCORE + 1, Math.min(MAX_SCORE, r.score));
      p.bannedUntil = r.bannedUntil;
      p.lastSeen = r.lastSeen;
    },
  };
}
