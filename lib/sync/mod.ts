/**
 * Page replication: what to announce, what to ask for, what a summary says, how two peers find
 * their difference, and how peers earn and lose standing. Pure logic behind a small interface
 * ({@linkcode SyncHost} and a request/response transport), so it runs unchanged over libp2p
 * streams (lib/net) and in the simulator (tools/sim.ts). Formats: docs/PROTOCOL.md §14–17.
 *
 * @module
 */
export {
  BRANCHING,
  createIdSet,
  type Diff,
  END,
  ID_LIST_THRESHOLD,
  type IdSet,
  initiate,
  isDone,
  type Range,
  reconcile,
  ReconcileError,
} from "./reconcile.ts";
export {
  createReplica,
  type Ingested,
  type ObjectResult,
  type Outcome,
  pageOf,
  type PageSummary,
  type Replica,
} from "./replica.ts";
export {
  BAN_MS,
  BAN_SCORE,
  createPeerBook,
  MAX_BAN_MS,
  type PeerBook,
  type PeerEvent,
  type PeerStanding,
  SCORE_DELTA,
} from "./peers.ts";
export {
  type Call,
  MAX_OBJECTS,
  MAX_SUMMARIES,
  MAX_WANT,
  parseRequest,
  parseResponse,
  ProtocolError,
  type Request,
  respond,
  type Response,
  type SyncHost,
  type SyncReport,
  syncWith,
} from "./session.ts";
export { pageOfTopic, TOPIC_PREFIX, topicOf } from "./topics.ts";
