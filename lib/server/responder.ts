/**
 * The request path, as one short chain: parse → answer cache → registry resolver → upstream
 * forwarder → encode → cache. Cached answers are produced synchronously from stored wire
 * templates (patched with the query's id, flags, question case and OPT), so the common case does
 * no decoding, encoding or allocation beyond the reply itself. No sockets here: the UDP and TCP
 * servers hand bytes in and send what comes back.
 *
 * @module
 */
import dnsPacket from "dns-packet";
import { getLogger } from "@logtape/logtape";
import {
  createCache,
  negativeTtl,
  positiveTtl,
  responseTtl,
  SERVFAIL_TTL_SECONDS,
} from "../cache/mod.ts";
import { encodeReply } from "../dns/message.ts";
import {
  DEFAULT_UDP_PAYLOAD,
  errorReply,
  instantiate,
  MIN_UDP_PAYLOAD,
  parseQuery,
  type Query,
  RCODE,
  type Template,
  toTemplate,
} from "../dns/wire.ts";
import { type Question, questionOf } from "../dns/question.ts";
import type { Resolver } from "../registry/resolver.ts";
import { typeName } from "../dns/types.ts";
import { createInflight, DROPPED, type InflightLimits } from "./inflight.ts";

const log = getLogger(["djdns", "query"]);

/** A reply from an upstream server: the raw bytes and their decoded form. */
export interface UpstreamReply {
  bytes: Uint8Array;
  packet: dnsPacket.DecodedPacket;
}

/** Forwards a question (wire form, as the client sent it but lowercased) to the upstreams. */
export type Forward = (
  question: Question,
  dnssecOk: boolean,
  checkingDisabled: boolean,
) => Promise<UpstreamReply>;

/** Options of {@linkcode createResponder}. */
export interface ResponderOptions {
  /** The registry resolver. */
  resolve: Resolver;
  /** The upstream forwarder; without one, names outside the registry are REFUSED. */
  forward?: Forward;
  /** UDP payload size advertised and the cap of UDP replies (default 1232). */
  udpSize?: number;
  /** Cache bounds (defaults: 10,000 entries, 16 MiB). */
  cacheEntries?: number;
  cacheBytes?: number;
  /** Bounds of the queries waiting on questions being resolved (see `inflight.ts`). */
  inflight?: Partial<InflightLimits>;
  /** Clock in milliseconds (default `performance.now`-based). */
  now?: () => number;
}

/** How the query arrived. */
export interface Origin {
  transport: "udp" | "tcp";
  /** Whether this client may have names outside the registry resolved (forwarded). */
  recursion: boolean;
}

/** The request handler shared by the UDP and TCP servers. */
export interface Responder {
  /**
   * Answers one DNS message: the reply bytes (synchronously when cached), or null when nothing
   * should be sent (not a query). Never throws; never rejects.
   */
  handle(request: Uint8Array, origin: Origin): Uint8Array | null | Promise<Uint8Array | null>;
  /** Forgets every registry answer; call when pages change. */
  registryChanged(): void;
  /** Counters for logs and tests. */
  readonly stats: {
    queries: number;
    cacheHits: number;
    forwarded: number;
    errors: number;
    /** Queries dropped (UDP) or answered SERVFAIL (TCP) because too many were waiting. */
    dropped: number;
  };
}

interface Entry {
  template: Template;
  storedAt: number;
  /** Forwarded answers age (their TTLs count down); registry answers are authoritative. */
  ages: boolean;
  /**
   * Registry generation the answer was made under. Forwarded answers carry one too: a reload can
   * move a name into the registry, and it must not keep getting the upstream's cached answer.
   */
  generation: number;
  /** True when only recursion-allowed clients may get it (it came from upstream). */
  forwarded: boolean;
}

const CLASS_IN = 1;
const CLASS_ANY = 255;
const ZONE_TRANSFER = new Set([251, 252]); // IXFR, AXFR

/** Creates the responder. */
export function createResponder(options: ResponderOptions): Responder {
  const now = options.now ?? (() => performance.now());
  const udpSize = options.udpSize ?? DEFAULT_UDP_PAYLOAD;
  const cache = createCache<Entry>({
    maxEntries: options.cacheEntries ?? 10_000,
    maxBytes: options.cacheBytes ?? 16 * 1024 * 1024,
    now,
  });
  const inflight = createInflight<Entry | null>(options.inflight, now);
  let generation = 0;
  const stats = { queries: 0, cacheHits: 0, forwarded: 0, errors: 0, dropped: 0 };

  function limitFor(query: Query, origin: Origin): number {
    if (origin.transport === "tcp") return 65535;
    return query.edns ? Math.min(query.edns.udpSize, udpSize) : MIN_UDP_PAYLOAD;
  }

  function reply(entry: Entry, request: Uint8Array, query: Query, origin: Origin): Uint8Array {
    const age = entry.ages ? Math.floor((now() - entry.storedAt) / 1000) : 0;
    const out = instantiate(entry.template, request, query, {
      limit: limitFor(query, origin),
      age,
      udpSize,
    });
    if (!origin.recursion) out[3] &= ~0x80; // RA: recursion is not available to this client
    return out;
  }

  function usable(entry: Entry | undefined, origin: Origin): entry is Entry {
    if (entry === undefined || entry.generation !== generation) return false;
    return !entry.forwarded || origin.recursion;
  }

  async function resolveEntry(
    request: Uint8Array,
    query: Query,
    origin: Origin,
  ): Promise<Entry | null> {
    const type = typeName(query.qtype);
    const question = request.subarray(12, query.questionEnd);
    const gen = generation;
    const res = await options.resolve(query.name, type);
    if (res.registry) {
      const bytes = encodeReply(
        question,
        query.name,
        res.rcode,
        // A SERVFAIL is nobody's authoritative answer.
        {
          aa: res.authoritative && res.rcode !== RCODE.SERVFAIL,
          ra: options.forward !== undefined,
        },
        res.answers,
        res.authorities,
      );
      const template = toTemplate(bytes)!;
      const entry: Entry = {
        template,
        storedAt: now(),
        ages: !res.authoritative,
        generation: gen,
        forwarded: false,
      };
      const ttl = res.rcode === RCODE.NOERROR && res.answers.length > 0
        ? positiveTtl(res.answers as dnsPacket.Answer[])
        : res.rcode === RCODE.SERVFAIL
        // Briefly, so a name whose pages or servers fail is not walked again for every query
        // (RFC 2308 §7.1 allows up to five minutes).
        ? SERVFAIL_TTL_SECONDS
        : negativeTtl(res.authorities as dnsPacket.Answer[]);
      if (gen === generation) cache.set(query.key, entry, ttl * 1000, template.bytes.length + 64);
      return entry;
    }
    if (!options.forward || !origin.recursion) return null;
    stats.forwarded++;
    let up: UpstreamReply;
    try {
      up = await options.forward(
        questionOf(request, query),
        query.edns?.dnssecOk ?? false,
        query.cd,
      );
    } catch (e) {
      // Every upstream failed (timeouts, SERVFAIL, REFUSED, FORMERR): the client gets SERVFAIL,
      // and so does every client asking the same within SERVFAIL_TTL_SECONDS (RFC 9520 §3.2:
      // resolution failures are cached), instead of the same failing resolution again. An
      // upstream's REFUSED is its policy towards us, not ours towards the client: SERVFAIL, as
      // Unbound answers. Failures of our own (overload, shutdown) are not cached.
      // (The forwarder's ForwardError, by shape: lib/server does not import lib/forwarder.)
      if ((e as { kind?: string }).kind !== "exhausted") throw e;
      log.debug("{name} {qtype}: SERVFAIL: {error}", {
        name: query.name,
        qtype: query.qtype,
        error: (e as Error).message,
      });
      stats.errors++;
      const failed = toTemplate(errorReply(request, RCODE.SERVFAIL, false, query.questionEnd))!;
      const entry: Entry = {
        template: failed,
        storedAt: now(),
        ages: false,
        generation: gen,
        forwarded: true,
      };
      const size = failed.bytes.length + 64;
      if (gen === generation) cache.set(query.key, entry, SERVFAIL_TTL_SECONDS * 1000, size);
      return entry;
    }
    const template = toTemplate(up.bytes);
    if (!template) throw new Error("upstream reply could not be re-framed");
    // Our header, their sections: QR, opcode 0, RA; AA/AD/TC of the upstream are not ours to claim.
    template.bytes[2] = 0x80 | (template.bytes[2] & 0x01);
    template.bytes[3] = 0x80 | (template.bytes[3] & 0x0f);
    const entry: Entry = {
      template,
      storedAt: now(),
      ages: true,
      generation: gen,
      forwarded: true,
    };
    cache.set(query.key, entry, responseTtl(up.packet) * 1000, template.bytes.length + 64);
    return entry;
  }

  async function slow(
    request: Uint8Array,
    query: Query,
    origin: Origin,
  ): Promise<Uint8Array | null> {
    // Identical questions in flight share one resolution (no thundering herd upstream).
    // The generation keeps a query that arrives after a reload from joining one started before.
    const flightKey = query.key + (origin.recursion ? "r" : "") + generation;
    // A waiter keeps only its own bytes: a datagram may be a view of a 4 KiB receive buffer.
    const own = new Uint8Array(request);
    const pending = inflight.join(flightKey, () => resolveEntry(own, query, origin));
    // Beyond the bounds a UDP query is dropped (the client retries; no reply is reflected),
    // a TCP one, which is owed a reply in its pipeline, gets SERVFAIL.
    if (pending === null) return overloaded(own, query, origin);
    try {
      const entry = await pending;
      if (entry === DROPPED) return overloaded(own, query, origin);
      if (entry === null) return rcodeReply(own, query, origin, RCODE.REFUSED);
      return reply(entry, own, query, origin);
    } catch (e) {
      // Every upstream slot is taken: the same as too many waiters (dnsmasq drops at
      // dns-forward-max too). Dropping over UDP spares the reply a flood of fresh names would
      // otherwise cost per datagram.
      if ((e as { kind?: string }).kind === "overloaded") return overloaded(own, query, origin);
      stats.errors++;
      // Upstream failures are already logged by the forwarder, once per try; anything else is a
      // fault of ours and must be seen.
      const fields = { name: query.name, qtype: query.qtype, error: (e as Error).message };
      if ((e as Error).name === "ForwardError") {
        log.debug("{name} {qtype}: SERVFAIL: {error}", fields);
      } else log.error("{name} {qtype}: SERVFAIL: {error}", fields);
      return rcodeReply(own, query, origin, RCODE.SERVFAIL);
    }
  }

  let warnedAt = -Infinity;
  function overloaded(request: Uint8Array, query: Query, origin: Origin): Uint8Array | null {
    stats.dropped++;
    // An attack would make one line per query; one every ten seconds says enough.
    if (now() - warnedAt > 10_000) {
      warnedAt = now();
      log.warn(
        "too many queries waiting for answers ({waiting} on {questions} questions): " +
          "dropping some ({dropped} so far); latest {name} {qtype}",
        {
          waiting: inflight.waiting,
          questions: inflight.questions,
          dropped: stats.dropped,
          name: query.name,
          qtype: query.qtype,
        },
      );
    }
    if (origin.transport === "udp") return null;
    return rcodeReply(request, query, origin, RCODE.SERVFAIL);
  }

  // RA says whether this server forwards at all, as in its other replies.
  function rcodeReply(
    request: Uint8Array,
    query: Query,
    origin: Origin,
    rcode: number,
  ): Uint8Array {
    const out = errorReply(
      request,
      rcode,
      query.edns !== null,
      query.questionEnd,
      query.edns?.dnssecOk,
    );
    if (options.forward === undefined || !origin.recursion) out[3] &= ~0x80;
    return out;
  }

  return {
    stats,
    registryChanged() {
      generation++;
    },
    handle(request, origin) {
      stats.queries++;
      const parsed = parseQuery(request);
      if (!parsed.ok) {
        if (parsed.rcode < 0) return null;
        const out = errorReply(
          request,
          parsed.rcode,
          parsed.edns,
          parsed.questionEnd,
          parsed.dnssecOk,
        );
        // RA only on answers to queries: an unknown opcode's NOTIMP says nothing of recursion.
        if (
          options.forward === undefined || !origin.recursion || parsed.rcode === RCODE.NOTIMP
        ) out[3] &= ~0x80;
        return out;
      }
      const query = parsed.query;
      if (log.isEnabledFor("debug")) {
        log.debug("query {name} {qtype} via {transport}", {
          name: query.name,
          qtype: query.qtype,
          transport: origin.transport,
        });
      }
      if (query.qclass !== CLASS_IN && query.qclass !== CLASS_ANY) {
        return rcodeReply(request, query, origin, RCODE.REFUSED);
      }
      if (ZONE_TRANSFER.has(query.qtype)) return rcodeReply(request, query, origin, RCODE.NOTIMP);
      if (query.qtype === 41) return rcodeReply(request, query, origin, RCODE.FORMERR);
      const entry = cache.get(query.key);
      if (usable(entry, origin)) {
        stats.cacheHits++;
        return reply(entry, request, query, origin);
      }
      return slow(request, query, origin);
    },
  };
}
