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
const DEFAULT_MAX_IN_FLIGHT = 1024;

// RCODEs after which another upstream may do better. FORMERR and NOTIMP are included because an
// upstream that rejects our (EDNS) query says nothing about the name; NXDOMAIN and NOERROR are
// answers.
const RETRY_RCODES: ReadonlyMap<number, string> = new Map([
  [1, "FORMERR"],
  [2, "SERVFAIL"],
  [4, "NOTIMP"],
  [5, "REFUSED"],
]);

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
      const bytes = await send({ upstream, query, accept, timeoutMs, signal: closing.signal });
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
    for (let i = 0; i < attempts; i++) {
      if (closing.signal.aborted) break;
      const upstream = upstreams[i % upstreams.length];
      logger.debug("forwarding {name} {qtype} to {upstream}", () => ({
        ...described(),
        upstream: formatUpstream(upstream),
      }));
      const outcome = await tryUpstream(upstream, question, opts);
      if ("packet" in outcome) {
        health.success(upstream);
        return outcome;
      }
      if (outcome.reason === "closed") break;
      health.failure(upstream);
      failed.push(outcome);
      logger.warn("upstream {upstream} failed for {name} {qtype} over {transport}: {reason}", {
        upstream: formatUpstream(upstream),
        ...described(),
        transport: outcome.transport,
        reason: outcome.reason,
      });
    }
    if (closing.signal.aborted) throw new ForwardError("closed", "forwarder closed", failed);
    const { name, qtype } = described();
    throw new ForwardError("exhausted", `no answer for ${name} ${qtype}`, failed);
  }

  return {
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
