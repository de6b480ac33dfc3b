/**
 * Questions being resolved, and the queries waiting on them. Identical questions share one
 * resolution (no thundering herd upstream), but the waiters are bounded, per question and in
 * total, as Unbound's `num-queries-per-thread` and dnsmasq's `dns-forward-max` bound theirs: a
 * flood of one name whose upstream (or whose page's `dns://` server) never answers must not
 * pile up memory, nor crowd out the names that can be answered.
 *
 * When the total is reached, the oldest question that has waited longer than `jostleMs` gives
 * its waiters up (they get {@linkcode DROPPED}) to make room, as Unbound's `jostle-timeout`
 * does: a slow question yields to new ones, so names answered quickly (the registry's) keep
 * flowing while a random-name flood sits on a dead upstream. Its resolution goes on and its
 * answer is still cached. No clock or sockets here; `now` is injected.
 *
 * @module
 */

/** What a waiter gets when its question had to give way to newer ones. */
export const DROPPED: unique symbol = Symbol("dropped");

/** Bounds of {@linkcode createInflight}. */
export interface InflightLimits {
  /** Most queries waiting on one question, the first included. */
  perQuestion: number;
  /** Most queries waiting on all questions together. */
  total: number;
  /** A question older than this gives way when the total is reached (ms). */
  jostleMs: number;
}

/** Defaults of {@linkcode InflightLimits}. */
export const DEFAULT_INFLIGHT_LIMITS: InflightLimits = Object.freeze({
  perQuestion: 32,
  total: 4096,
  jostleMs: 200,
});

/** The table of {@linkcode createInflight}. */
export interface Inflight<T> {
  /**
   * Waits on the resolution of `key`, starting it with `start` when none runs. Null when a
   * bound is reached: the caller drops the query (or answers SERVFAIL where a reply is owed).
   * The promise rejects as `start`'s does.
   */
  join(key: string, start: () => Promise<T>): Promise<T | typeof DROPPED> | null;
  /** Questions being resolved. */
  readonly questions: number;
  /** Queries waiting, over all questions. */
  readonly waiting: number;
  /** Queries refused or dropped so far because of a bound. */
  readonly refused: number;
}

interface Flight<T> {
  waiters: number;
  startedAt: number;
  settle: PromiseWithResolvers<T | typeof DROPPED>;
}

/** Creates an empty table. */
export function createInflight<T>(
  limits: Partial<InflightLimits> = {},
  now: () => number = () => performance.now(),
): Inflight<T> {
  const { perQuestion, total, jostleMs } = { ...DEFAULT_INFLIGHT_LIMITS, ...limits };
  const flights = new Map<string, Flight<T>>();
  let waiting = 0;
  let refused = 0;

  const finish = (key: string, flight: Flight<T>) => {
    if (flights.get(key) !== flight) return; // already given way
    flights.delete(key);
    waiting -= flight.waiters;
  };

  // Map order is insertion order, so the first flight is the oldest.
  const jostle = (): boolean => {
    const oldest = flights.entries().next();
    if (oldest.done) return false;
    const [key, flight] = oldest.value;
    if (now() - flight.startedAt < jostleMs) return false;
    finish(key, flight);
    refused += flight.waiters;
    flight.settle.resolve(DROPPED);
    return true;
  };

  return {
    join(key, start) {
      let flight = flights.get(key);
      if (flight && flight.waiters >= perQuestion) {
        refused++;
        return null;
      }
      if (waiting >= total && !jostle()) {
        refused++;
        return null;
      }
      // The jostle may have removed this very question.
      flight = flights.get(key);
      if (!flight) {
        const f: Flight<T> = { waiters: 0, startedAt: now(), settle: Promise.withResolvers() };
        flights.set(key, f);
        let started: Promise<T>;
        try {
          started = start();
        } catch (e) {
          started = Promise.reject(e);
        }
        started.then(f.settle.resolve, f.settle.reject).finally(() => finish(key, f));
        flight = f;
      }
      flight.waiters++;
      waiting++;
      return flight.settle.promise;
    },
    get questions() {
      return flights.size;
    },
    get waiting() {
      return waiting;
    },
    get refused() {
      return refused;
    },
  };
}
