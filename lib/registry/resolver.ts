/**
 * Resolution over the registry: walk from the root page, test branches in order, answer from
 * the first branch that holds records for the name, otherwise follow its targets in order; the
 * first non-empty result wins and errors or empty results fall through to the next matching
 * branch (the documented intent of python-djdns). Pure: pages come through a {@linkcode PageSource}
 * and `dns://` targets through an injected {@linkcode UpstreamQuery}.
 *
 * @module
 */
import type { Answer } from "../dns/message.ts";
import { anyMatch, branchIndex, candidates } from "./branch_index.ts";
import { applicable, type Branch, type Target } from "./branches.ts";
import type { PageRecord, SoaData } from "./rdata.ts";
import type { LoadedPage, PageSource } from "./source.ts";

/** What an upstream DNS server said about a name. */
export interface UpstreamAnswer {
  /** DNS rcode of the reply (0 NOERROR, 3 NXDOMAIN, …). */
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
}

/**
 * Asks a DNS server about `name`/`type`. `server` is a `dns://` target's host and port, or
 * undefined for the node's default upstreams (used to chase a CNAME that leaves the registry).
 * Rejects when no answer could be had.
 */
export type UpstreamQuery = (
  name: string,
  type: string,
  server?: { host: string; port: number },
) => Promise<UpstreamAnswer>;

/** Limits on the work one query may cause. */
export interface ResolverLimits {
  /** Deepest chain of pages followed from the root. */
  maxDepth: number;
  /**
   * Most work units for one query, all pages and CNAME hops together: a branch test costs 1,
   * more for long regular expressions on long names (see `Selector.cost`).
   */
  maxWork: number;
  /** Most `dns://` lookups for one query. */
  maxUpstream: number;
  /** Longest CNAME chain followed. */
  maxCnames: number;
  /** Most milliseconds of walking per query, when the resolver has a clock. */
  maxMs: number;
}

/** Default {@linkcode ResolverLimits}. */
export const DEFAULT_LIMITS: ResolverLimits = {
  maxDepth: 16,
  maxWork: 20_000,
  maxUpstream: 4,
  maxCnames: 8,
  maxMs: 250,
};

/** Negative-caching TTL (RFC 2308) of the SOA the registry puts in NXDOMAIN/NODATA answers. */
export const NEGATIVE_TTL = 300;

/** The registry's answer to one question. */
export type Resolution =
  /** No root branch matches: the name is not the registry's; the caller forwards it upstream. */
  | { registry: false; trace: string[] }
  | {
    registry: true;
    /** 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN. */
    rcode: 0 | 2 | 3;
    /** True when every answer came from registry pages (AA); false when a dns:// target answered. */
    authoritative: boolean;
    answers: Answer[];
    authorities: Answer[];
    trace: string[];
  };

/** What the resolver needs: where pages come from, how to ask DNS servers, and limits. */
export interface ResolverOptions {
  source: PageSource;
  /**
   * Asks DNS servers: the server of a `dns://` target and, when `defaultUpstreams` holds, the
   * node's default upstreams. Without it `dns://` targets are skipped.
   */
  upstream?: UpstreamQuery;
  /**
   * Whether `upstream` may be asked without a server, i.e. the node has default upstreams to
   * chase a CNAME that leaves the registry (default true). When false, or without `upstream`,
   * the client gets the CNAME alone (NOERROR) and chases it itself.
   */
  defaultUpstreams?: boolean;
  limits?: Partial<ResolverLimits>;
  /**
   * A clock in milliseconds, for the per-query time limit (the walk stops at the next branch
   * test once it is over); without one only the work units limit the walk.
   */
  now?: () => number;
  /** Serial of the synthesized SOA; bump when pages change so caches downstream notice. */
  serial?: () => number;
}

/** Resolves a question against the registry. */
export type Resolver = (
  name: string,
  type: string,
  opts?: { trace?: boolean },
) => Promise<Resolution>;

type Walk =
  | { kind: "answer"; answers: Answer[]; authoritative: boolean; cname?: string }
  | { kind: "nodata"; authoritative: boolean }
  | { kind: "empty" };

interface QueryState {
  source: PageSource;
  /** Clock reading after which the walk gives up (when a clock was given). */
  deadline?: number;
  work: number;
  upstream: number;
  errors: number;
  sawNodata: boolean;
  /** A page the walk visited knows names below the query name (RFC 8020: NODATA, not NXDOMAIN). */
  nonTerminal: boolean;
  /** Pages only: `dns://` targets are skipped (looking for the registry's own SOA). */
  pagesOnly: boolean;
  trace?: string[];
  limits: ResolverLimits;
}

class WorkLimit extends Error {}

function toAnswer(name: string, r: PageRecord): Answer {
  return { name, type: r.type, class: "IN", ttl: r.ttl, data: r.data };
}

/** The SOA the registry answers negative responses with, owned by the name's last label. */
export function registrySoa(name: string, serial: number): Answer {
  const apex = name.slice(name.lastIndexOf(".") + 1);
  const data: SoaData = {
    mname: "djdns.invalid",
    rname: "hostmaster.djdns.invalid",
    serial: serial >>> 0,
    refresh: 3600,
    retry: 600,
    expire: 604800,
    minimum: NEGATIVE_TTL,
  };
  return { name: apex, type: "SOA", class: "IN", ttl: NEGATIVE_TTL, data };
}

/** True when some branch of `root` claims `name` for the registry. */
export function inRegistry(root: LoadedPage, name: string): boolean {
  return anyMatch(root.page, name);
}

/** Creates a resolver over a page source. */
export function createResolver(options: ResolverOptions): Resolver {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const serial = options.serial ?? (() => 1);

  async function walkPage(
    lp: LoadedPage,
    name: string,
    type: string,
    st: QueryState,
    stack: string[],
  ): Promise<Walk> {
    if (!st.nonTerminal && branchIndex(lp.page).nonTerminals.has(name)) st.nonTerminal = true;
    const branches = lp.page.branches;
    // Only the branches the index says may match are tested, in page order (first match wins).
    for (const i of candidates(lp.page, name)) {
      const b = branches[i];
      st.work += b.selector.cost(name);
      if (st.work > st.limits.maxWork) throw new WorkLimit();
      if (st.deadline !== undefined && options.now!() > st.deadline) throw new WorkLimit();
      if (!b.selector.test(name)) continue;
      st.trace?.push(
        `${"  ".repeat(stack.length - 1)}${lp.key} branch ${i} ${
          JSON.stringify(b.selector.source)
        } matches`,
      );
      const result = await walkBranch(lp, b, name, type, st, stack);
      if (result.kind !== "empty") return result;
    }
    return { kind: "empty" };
  }

  async function walkBranch(
    lp: LoadedPage,
    b: Branch,
    name: string,
    type: string,
    st: QueryState,
    stack: string[],
  ): Promise<Walk> {
    const indent = "  ".repeat(stack.length);
    const records = applicable(b.records, name);
    if (records.length > 0) {
      // ANY is answered minimally (RFC 8482 §4.2): one RRset the name has, not all of them.
      const wanted = type === "ANY"
        ? records.filter((r) => r.type === records[0].type)
        : records.filter((r) => r.type === type);
      if (wanted.length > 0) {
        st.trace?.push(`${indent}answer: ${wanted.length} ${type} record(s)`);
        return {
          kind: "answer",
          answers: wanted.map((r) => toAnswer(name, r)),
          authoritative: true,
        };
      }
      const cname = records.find((r) => r.type === "CNAME");
      if (cname) {
        st.trace?.push(`${indent}answer: CNAME ${cname.data}`);
        return {
          kind: "answer",
          answers: [toAnswer(name, cname)],
          authoritative: true,
          cname: cname.data as string,
        };
      }
      st.trace?.push(`${indent}no ${type} record: NODATA`);
      return { kind: "nodata", authoritative: true };
    }
    for (const t of b.targets) {
      const r = await walkTarget(lp, t, name, type, st, stack);
      if (r.kind !== "empty") return r;
    }
    return { kind: "empty" };
  }

  async function walkTarget(
    lp: LoadedPage,
    t: Target,
    name: string,
    type: string,
    st: QueryState,
    stack: string[],
  ): Promise<Walk> {
    const indent = "  ".repeat(stack.length);
    if (t.kind === "dns") {
      if (st.pagesOnly) return { kind: "empty" };
      const label = `dns://${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}/`;
      if (!options.upstream || ++st.upstream > st.limits.maxUpstream) {
        st.trace?.push(`${indent}${label}: skipped (no forwarder or limit reached)`);
        st.errors++;
        return { kind: "empty" };
      }
      try {
        const r = await options.upstream(name, type, { host: t.host, port: t.port });
        st.trace?.push(`${indent}${label}: rcode ${r.rcode}, ${r.answers.length} answer(s)`);
        const answers = relevant(r.answers, name);
        if (r.rcode === 0 && answers.length > 0) {
          return { kind: "answer", answers, authoritative: false };
        }
        if (r.rcode === 0) st.sawNodata = true;
        else if (r.rcode !== 3) st.errors++;
      } catch (e) {
        st.trace?.push(`${indent}${label}: failed: ${(e as Error).message}`);
        st.errors++;
      }
      return { kind: "empty" };
    }
    let page: LoadedPage;
    try {
      page = await st.source.get(t, lp);
    } catch (e) {
      st.trace?.push(`${indent}target ${describe(t)}: unavailable: ${(e as Error).message}`);
      st.errors++;
      return { kind: "empty" };
    }
    if (stack.includes(page.key)) {
      st.trace?.push(`${indent}target ${page.key}: cycle, skipped`);
      st.errors++;
      return { kind: "empty" };
    }
    if (stack.length >= st.limits.maxDepth) {
      st.trace?.push(
        `${indent}target ${page.key}: deeper than ${st.limits.maxDepth} pages, skipped`,
      );
      st.errors++;
      return { kind: "empty" };
    }
    return await walkPage(page, name, type, st, [...stack, page.key]);
  }

  return async function resolve(rawName, type, opts = {}) {
    const name = rawName.toLowerCase().replace(/\.$/, "");
    const trace: string[] = [];
    const source = options.source.view?.() ?? options.source;
    const root = await source.root();
    if (!inRegistry(root, name)) {
      if (opts.trace) trace.push(`no branch of ${root.key} matches '${name}': not a registry name`);
      return { registry: false, trace };
    }
    const st: QueryState = {
      source,
      deadline: options.now ? options.now() + limits.maxMs : undefined,
      work: 0,
      upstream: 0,
      errors: 0,
      sawNodata: false,
      nonTerminal: false,
      pagesOnly: false,
      trace: opts.trace ? trace : undefined,
      limits,
    };
    const answers: Answer[] = [];
    let authoritative = true;
    let current = name;
    const seen = new Set<string>();
    try {
      for (let hop = 0; hop <= limits.maxCnames; hop++) {
        seen.add(current);
        st.errors = 0;
        st.sawNodata = false;
        st.nonTerminal = false;
        if (hop > 0) trace.push(`follow CNAME to ${current}`);
        if (hop > 0 && !inRegistry(root, current)) {
          const r = await outside(current, type, st);
          answers.push(...r.answers);
          // The rcode is the last name's (RFC 6604); a failed chase is a SERVFAIL, not a
          // CNAME-only answer that would be cached for the CNAME's TTL. The CNAME alone (no
          // default upstream) is the pages' own data: authoritative as they are.
          return {
            registry: true,
            rcode: r.rcode,
            authoritative: authoritative && r.alone,
            answers,
            authorities: r.authorities,
            trace,
          };
        }
        const w = await walkPage(root, current, type, st, [root.key]);
        if (w.kind === "answer") {
          answers.push(...w.answers);
          authoritative &&= w.authoritative;
          if (w.cname && !seen.has(w.cname) && hop < limits.maxCnames) {
            current = w.cname;
            continue;
          }
          return { registry: true, rcode: 0, authoritative, answers, authorities: [], trace };
        }
        if (w.kind === "nodata" || st.sawNodata) {
          // A NODATA that a dns:// server gave is not the registry's own word.
          if (w.kind !== "nodata") authoritative = false;
          const soa = [await negativeSoa(root, current, st, w.kind === "nodata")];
          return { registry: true, rcode: 0, authoritative, answers, authorities: soa, trace };
        }
        if (st.errors > 0) {
          // A page that failed may have held the name: not NXDOMAIN, and not NODATA either.
          trace.push(`nothing found and ${st.errors} error(s): SERVFAIL`);
          return { registry: true, rcode: 2, authoritative, answers, authorities: [], trace };
        }
        if (st.nonTerminal) {
          // RFC 8020: names exist below this one, so it exists (an empty non-terminal).
          trace.push("names exist below it: NODATA");
          const soa = [await negativeSoa(root, current, st, false)];
          return { registry: true, rcode: 0, authoritative, answers, authorities: soa, trace };
        }
        const soa = [await negativeSoa(root, current, st, false)];
        return { registry: true, rcode: 3, authoritative, answers, authorities: soa, trace };
      }
    } catch (e) {
      if (!(e instanceof WorkLimit)) throw e;
      trace.push(
        `work limit reached (${limits.maxWork} units or ${limits.maxMs} ms): SERVFAIL`,
      );
    }
    return { registry: true, rcode: 2, authoritative, answers: [], authorities: [], trace };
  };

  // The SOA of a negative answer (RFC 2308 §3): the registry's own SOA record of the closest
  // enclosing zone, found by walking the name (when it has records: NODATA) and then each
  // ancestor the root still claims for type SOA, pages only; its TTL is min(TTL, MINIMUM).
  // Without one, the synthesized SOA.
  async function negativeSoa(
    root: LoadedPage,
    name: string,
    st: QueryState,
    exists: boolean,
  ): Promise<Answer> {
    const saved = { errors: st.errors, sawNodata: st.sawNodata, nonTerminal: st.nonTerminal };
    const trace = st.trace;
    st.trace = undefined;
    st.pagesOnly = true;
    try {
      const parent = (n: string) => {
        const dot = n.indexOf(".");
        return dot < 0 ? undefined : n.slice(dot + 1);
      };
      for (let zone = exists ? name : parent(name); zone !== undefined; zone = parent(zone)) {
        if (anyMatch(root.page, zone)) {
          const w = await walkPage(root, zone, "SOA", st, [root.key]);
          if (w.kind === "answer" && w.authoritative && w.answers[0].type === "SOA") {
            const soa = w.answers[0];
            const minimum = (soa.data as SoaData).minimum;
            trace?.push(`negative answer: SOA of ${zone}`);
            return { ...soa, ttl: Math.min(soa.ttl, minimum) };
          }
        }
      }
    } catch (e) {
      // Out of work units: the synthesized SOA still lets the answer be cached.
      if (!(e instanceof WorkLimit)) throw e;
    } finally {
      Object.assign(st, saved);
      st.trace = trace;
      st.pagesOnly = false;
    }
    return registrySoa(name, serial());
  }

  // A CNAME that leaves the registry is chased through the default upstreams, as a recursive
  // server would. Without default upstreams the client gets the CNAME alone (NOERROR, `alone`)
  // and chases it itself; a chase that fails is SERVFAIL.
  async function outside(
    name: string,
    type: string,
    st: QueryState,
  ): Promise<{ rcode: 0 | 2 | 3; answers: Answer[]; authorities: Answer[]; alone: boolean }> {
    const failed = { rcode: 2 as const, answers: [], authorities: [], alone: false };
    if (!options.upstream || options.defaultUpstreams === false) {
      st.trace?.push("  no default upstream: the CNAME is answered alone");
      return { rcode: 0, answers: [], authorities: [], alone: true };
    }
    if (++st.upstream > st.limits.maxUpstream) return failed;
    try {
      const r = await options.upstream(name, type);
      st.trace?.push(`  upstream: rcode ${r.rcode}, ${r.answers.length} answer(s)`);
      if (r.rcode === 0 || r.rcode === 3) {
        return {
          rcode: r.rcode,
          answers: relevant(r.answers, name),
          authorities: r.authorities.filter((a) => a.type === "SOA"),
          alone: false,
        };
      }
    } catch (e) {
      st.trace?.push(`  upstream failed: ${(e as Error).message}`);
    }
    return failed;
  }
}

/**
 * The records of a DNS server's answer that belong to the question: owned by `name` or by a
 * name its CNAME chain reaches. A server a page points at must not slip records for other
 * names into our answers.
 */
export function relevant(answers: Answer[], name: string): Answer[] {
  const owners = new Set([name]);
  const norm = (n: string) => n.toLowerCase().replace(/\.$/, "");
  for (let grew = true; grew;) {
    grew = false;
    for (const a of answers) {
      if (a.type === "CNAME" && owners.has(norm(a.name)) && !owners.has(norm(String(a.data)))) {
        owners.add(norm(String(a.data)));
        grew = true;
      }
    }
  }
  return answers.filter((a) => owners.has(norm(a.name)));
}

function describe(t: Target): string {
  return t.kind === "file" ? t.path : t.kind === "djdns" ? `djdns:${t.pageId}` : `dns://${t.host}`;
}
