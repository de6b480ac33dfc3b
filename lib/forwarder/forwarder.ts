/**
 * The upstream forwarder: sends our own query to the upstreams in health order, retries over TCP
 * after truncation, fails over on timeouts, SERVFAIL, REFUSED and network errors.
 *
 * @module
 */
import { randomInt } from "node:crypto";
import { getLogger } from "@logtape/logtape";
import { type FailedTry, formatUpstream, ForwardError } from "./errors.ts";
import { createHealth } from "./health.ts";
import { createUpstreamStats } from "./stats.ts";
import { ipFamily } from "../dns/ip.ts";
import { nameText } from "../dns/name.ts";
import { buildQuery, checkReply, isTruncated, type Question, rcodeOf } from "../dns/question.ts";
import { typeName } from "../dns/types.ts";
import { httpsExchange } from "./https.ts";
import { tcpExchange } from "./tcp.ts";
import { createTlsPool } from "./tls.ts";
import { ExchangeError, udpExchange } from "./udp.ts";
import type {
  Forwarder,
  ForwarderOptions,
  ForwardResult,
  QueryOptions,
  Transport,
  Upstream,
} from "./types.ts";

const logger = getLogger(["djdns", "forwarder"]);

const DEFAULT_TIMEOUT_MS = 1500;
const DEFAULT_ATTEMPTS = 3;
// Each query in flight holds a UDP socket and its buffers. Measured (BENCHMARKS.md, "DNS under
// attack"): a flood of fresh names at a dead upstream grew RSS by ~420 MB with 1,024 and ~100 MB
// with 256, while dnsperf -c 4 -q 200 through a fast upstream lost nothing (150 lost some).
// dnsmasq's dns-forward-max is 150. `djdns run --upstream-max N` changes it.
const DEFAULT_MAX_IN_FLIGHT = 256;

// RCODEs after which another upstream may do better. FORMERR and NOTIMP are included because an
// upstream that rejects our (EDNS) query says nothing about the name; NXDOMAIN and NOERROR are
// answers.
const RETRY_RCODES: ReadonlyMap<number, string> = new Map([
  [1, "FORMERR"],
  [2, "SERVFAIL"],
  [4, "NOTIMP"],
  [5, "REFUSED"],
]);

const RCODE_REASONS = new Set(RETRY_RCODES.values());

// A host name here would make node:dgram resolve it through the system resolver, possibly us.
function upstreamProblem(upstream: Upstream): string | undefined {
  if (ipFamily(upstream.host) === 0 || upstream.host.includes("%")) {
    return `upstream host is not an IP address literal: ${upstream.host}`;
  }
  if (!Number.isInteger(upstream.port) || upstream.port < 1 || upstream.port > 65535) {
    return `bad upstream port: ${upstream.port}`;
  }
  const protocol = upstream.protocol ?? "dns";
  if (!["dns", "tls", "https"].includes(protocol)) return `bad upstream protocol: ${protocol}`;
  if (upstream.path !== undefined && (protocol !== "https" || !/^\/[!-~]*$/.test(upstream.path))) {
    return `bad upstream path: ${upstream.path}`;
  }
  if (upstream.tlsName !== undefined && protocol !== "tls") {
    return "a certificate name is for TLS upstreams";
  }
  return undefined;
}

/**
 * Creates a forwarder. Throws a RangeError for bad options (an upstream host that is not an IP
 * literal, a bad port, non-positive timeout, attempts or bound). Each try uses a fresh random 16-bit id and a fresh UDP socket on a random
 * source port; only a reply from the upstream's address and port with our id, QR=1 and our exact
 * question is accepted, anything else is ignored until the try's timeout.
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!(timeoutMs > 0)) throw new RangeError("timeoutMs must be positive");
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError("attempts must be >= 1");
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new RangeError("maxInFlight must be >= 1");
  }
  const badUpstream = options.upstreams.map(upstreamProblem).find((p) => p !== undefined);
  if (badUpstream !== undefined) throw new RangeError(badUpstream);
  const defaultUpstreams = [...options.upstreams];
  const health = createHealth();
  const counts = createUpstreamStats();
  let warnedAt = -Infinity;
  let failuresSinceWarning = 0;
  const inFlight = new Set<Promise<unknown>>();
  const closing = new AbortController();
  // DoT sessions, reused across queries (RFC 7858 §3.4).
  const tls = createTlsPool({ caCerts: options.caCerts });
  // One HTTP client for every HTTPS upstream: it pools their connections (and HTTP/2 streams).
  let client: Deno.HttpClient | undefined;
  const httpClient = () =>
    client ??= Deno.createHttpClient({
      caCerts: options.caCerts ? [...options.caCerts] : undefined,
      poolIdleTimeout: 30_000,
    });

  async function tryUpstream(
    upstream: Upstream,
    question: Question,
    opts: QueryOptions,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<ForwardResult | FailedTry> {
    let transport: Transport = "udp";
    const exchange = async (send: typeof udpExchange) => {
      const id = randomInt(0, 0x10000);
      const query = buildQuery({
        id,
        question,
        recursionDesired: opts.recursionDesired ?? true,
        dnssecOk: opts.dnssecOk ?? false,
        checkingDisabled: opts.checkingDisabled ?? false,
      });
      let packet: ForwardResult["packet"] | undefined;
      const accept = (bytes: Uint8Array) => {
        const checked = checkReply(bytes, id, question);
        if ("ignored" in checked) {
          logger.debug("ignored reply from {upstream}: {reason}", {
            upstream: formatUpstream(upstream),
            reason: checked.ignored,
          });
          return false;
        }
        packet = checked.packet;
        return true;
      };
      const bytes = await send({ upstream, query, accept, timeoutMs: waitMs, signal });
      return { bytes, packet: packet! };
    };
    try {
      let reply;
      if (upstream.protocol === "tls") {
        transport = "tls";
        reply = await exchange(tls.exchange);
      } else if (upstream.protocol === "https") {
        transport = "https";
        reply = await exchange((o) => httpsExchange({ ...o, client: httpClient() }));
      } else {
        reply = await exchange(udpExchange);
        if (isTruncated(reply.bytes)) {
          transport = "tcp";
          reply = await exchange(tcpExchange);
        }
      }
      const retry = RETRY_RCODES.get(rcodeOf(reply.bytes));
      if (retry !== undefined) return { upstream, transport, reason: retry };
      return { ...reply, upstream, transport };
    } catch (err) {
      const reason = err instanceof ExchangeError ? err.message : `error: ${String(err)}`;
      return { upstream, transport, reason };
    }
  }

  async function run(question: Question, opts: QueryOptions): Promise<ForwardResult> {
    const problem = opts.upstreams?.map(upstreamProblem).find((p) => p !== undefined);
    if (problem !== undefined) throw new ForwardError("invalid", problem);
    const upstreams = health.order(opts.upstreams ?? defaultUpstreams);
    // Text only for logs and errors; the question goes out as the bytes it came as.
    let text: { name: string; qtype: string } | undefined;
    const described = () => (text ??= {
      name: nameText(question.name),
      qtype: typeName(question.qtype),
    });
    if (upstreams.length === 0) throw new ForwardError("exhausted", "no upstreams configured");
    const failed: FailedTry[] = [];
    // Tries are staggered, not sequential: the next starts when one fails or `timeoutMs` passes
    // without a reply, and every try keeps listening until the query's overall deadline
    // (attempts × timeoutMs), so an upstream slower than one timeout still answers. An upstream
    // that answered with a failure rcode said its word on this question and is not asked again.
    const deadline = performance.now() + attempts * timeoutMs;
    const done = new AbortController();
    const signal = AbortSignal.any([closing.signal, done.signal]);
    const said = new Set<Upstream>();
    type Event = {
      tick: false;
      outcome: ForwardResult | FailedTry;
      upstream: Upstream;
      key: number;
    } | { tick: true };
    const pending = new Map<number, Promise<Event>>();
    let tries = 0;
    let lastStart = 0;
    let last: Upstream | undefined;
    // Tries already counted as failed when their timeout passed (they still listen).
    const late = new Set<number>();
    const fail = (upstream: Upstream, outcome: FailedTry) => {
      health.failure(upstream);
      counts.failure(upstream, outcome.reason);
      failed.push(outcome);
      const fields = {
        upstream: formatUpstream(upstream),
        ...described(),
        transport: outcome.transport,
        reason: outcome.reason,
      };
      logger.debug(
        "upstream {upstream} failed for {name} {qtype} over {transport}: {reason}",
        fields,
      );
      // At most one warning per 10 s, with how many failed since: a flood aimed at a dead
      // upstream must not become a log flood (every try's failure is in the metrics).
      failuresSinceWarning++;
      const now = performance.now();
      if (now - warnedAt >= 10_000) {
        logger.warn(
          "upstream {upstream} failed for {name} {qtype} over {transport}: {reason} " +
            "({n} failed tries since the last warning)",
          { ...fields, n: failuresSinceWarning },
        );
        warnedAt = now;
        failuresSinceWarning = 0;
      }
    };
    const launch = (): boolean => {
      if (tries >= attempts || closing.signal.aborted) return false;
      const candidates = upstreams.filter((u) => !said.has(u));
      if (candidates.length === 0) return false;
      const upstream = candidates[tries % candidates.length];
      tries++;
      last = upstream;
      lastStart = performance.now();
      logger.debug("forwarding {name} {qtype} to {upstream}", () => ({
        ...described(),
        upstream: formatUpstream(upstream),
      }));
      const key = tries;
      pending.set(
        key,
        tryUpstream(upstream, question, opts, Math.max(1, deadline - lastStart), signal).then(
          (outcome) => ({ outcome, upstream, key, tick: false as const }),
        ),
      );
      return true;
    };
    try {
      launch();
      while (pending.size > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const racers = [...pending.values()];
        if (tries < attempts) {
          racers.push(
            new Promise<Event>((resolve) => {
              timer = setTimeout(
                () => resolve({ tick: true }),
                Math.max(0, lastStart + timeoutMs - performance.now()),
              );
            }),
          );
        }
        const ended = await Promise.race(racers);
        clearTimeout(timer);
        if (ended.tick) {
          // The latest try is past its timeout: it counts as failed (and keeps listening).
          late.add(tries);
          fail(last!, { upstream: last!, transport: "udp", reason: "timeout" });
          launch();
          continue;
        }
        const { outcome, upstream, key } = ended;
        // Removed here, not when it settles: several tries may settle before the loop looks.
        pending.delete(key);
        if ("packet" in outcome) {
          health.success(upstream);
          counts.answer(upstream);
          return outcome;
        }
        if (outcome.reason === "closed") {
          if (closing.signal.aborted) break;
          continue;
        }
        if (RCODE_REASONS.has(outcome.reason)) said.add(upstream);
        if (!(late.has(key) && outcome.reason === "timeout")) fail(upstream, outcome);
        // A try that failed at once (an rcode, a refused port) does not wait for the timer.
        if (outcome.reason !== "timeout") launch();
      }
    } finally {
      done.abort();
    }
    if (closing.signal.aborted) throw new ForwardError("closed", "forwarder closed", failed);
    const { name, qtype } = described();
    throw new ForwardError("exhausted", `no answer for ${name} ${qtype}`, failed);
  }

  return {
    upstreamStats: () => counts.list(),
    query(question, opts = {}) {
      if (closing.signal.aborted) {
        return Promise.reject(new ForwardError("closed", "forwarder closed"));
      }
      if (inFlight.size >= maxInFlight) {
        return Promise.reject(
          new ForwardError("overloaded", `too many queries in flight (${maxInFlight})`),
        );
      }
      const promise = run(question, opts);
      const tracked = promise.then(() => {}, () => {}).finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      return promise;
    },
    async close() {
      closing.abort();
      tls.close();
      await Promise.all(inFlight);
      client?.close();
    },
  };
}
