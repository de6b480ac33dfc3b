/**
 * The upstream forwarder: asks normal DNS resolvers for names outside the registry and for
 * `dns://` targets of pages, and finds the default upstreams in resolv.conf.
 *
 * @example
 * ```ts
 * import { question } from "../dns/question.ts";
 * const forwarder = createForwarder({ upstreams: [{ host: "127.0.0.53", port: 53 }] });
 * const { packet } = await forwarder.query(question("example.org", "A"));
 * await forwarder.close();
 * ```
 *
 * @module
 */
export { createForwarder } from "./forwarder.ts";
export { type FailedTry, formatUpstream, ForwardError, type ForwardErrorKind } from "./errors.ts";
export { defaultUpstreams, parseResolvConf } from "./resolvconf.ts";
export type {
  Forwarder,
  ForwarderOptions,
  ForwardResult,
  QueryOptions,
  Transport,
  Upstream,
  UpstreamProtocol,
} from "./types.ts";
export { FAILURE_KINDS, type FailureKind, type UpstreamCounts } from "./stats.ts";
