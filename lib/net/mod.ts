/**
 * The djdns network on libp2p: the node (TCP, Noise, Yamux, gossipsub with a verifying topic
 * validator, the sync/fetch/status streams), its identity key, and the client API used by the
 * tools (`--node HOST:PORT`): {@linkcode publish}, {@linkcode fetchPage}, {@linkcode nodeStatus}.
 * Replication decisions live in lib/sync; this layer only moves bytes. docs/PROTOCOL.md §14–17.
 *
 * @module
 */
export { isLoopback, peerAddr } from "./addr.ts";
export {
  type ClientOptions,
  fetchPage,
  nodeStatus,
  NodeUnreachableError,
  type ObjectResult,
  type Outcome,
  publish,
} from "./client.ts";
export { loadNodeKey, NODE_KEY_FILE } from "./identity.ts";
export {
  LIMITS,
  messageId,
  type NetHost,
  type NetOptions,
  type Network,
  PROTOCOLS,
  startNetwork,
  type Verdict,
} from "./node.ts";
export { FRAME_TIMEOUT_MS, MAX_FRAME } from "./rpc.ts";
