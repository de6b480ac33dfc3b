/**
 * The client API for tools that talk to a running node through its gossip port, as a peer would
 * (`--node HOST:PORT`): {@linkcode publish} submits signed objects (objects are
 * self-authenticating, so submitting them is publishing them: the node verifies, stores and
 * gossips each), {@linkcode fetchPage} reads every object of a page, {@linkcode nodeStatus}
 * reads the operator's status (loopback only).
 *
 * Each call starts a short-lived libp2p client with a fresh key, dials the node, and stops.
 *
 * @example
 * ```ts
 * import { publish } from "./client.ts";
 * const results = await publish("127.0.0.1:5301", [event, approval]);
 * for (const r of results) if (r.outcome === "invalid") console.error(r.id, r.code, r.reason);
 * ```
 *
 * @module
 */
import { generateKeyPair } from "@libp2p/crypto/keys";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { createLibp2p } from "libp2p";
import type { SignedObject } from "../page/mod.ts";
import { MAX_OBJECTS, type ObjectResult, parseResponse } from "../sync/mod.ts";
import { peerAddr } from "./addr.ts";
import { PROTOCOLS } from "./node.ts";
import { type RpcClient, rpcClient } from "./rpc.ts";

export type { ObjectResult, Outcome } from "../sync/mod.ts";

/** The node could not be reached or answered outside the protocol. */
export class NodeUnreachableError extends Error {
  override name = "NodeUnreachableError";
}

/** Options of the client calls. */
export interface ClientOptions {
  /** Time allowed for the whole call (default 15 s). */
  timeoutMs?: number;
}

async function withNode<T>(
  addr: string,
  protocol: string,
  opts: ClientOptions,
  body: (rpc: RpcClient) => Promise<T>,
): Promise<T> {
  const target = peerAddr(addr);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const node = await createLibp2p({
    privateKey: await generateKeyPair("Ed25519"),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  });
  await node.start();
  try {
    let rpc: RpcClient;
    try {
      const stream = await node.dialProtocol(target, protocol, {
        signal: AbortSignal.timeout(Math.min(timeoutMs, 5_000)),
      });
      rpc = rpcClient(stream, timeoutMs);
    } catch (e) {
      throw new NodeUnreachableError(
        `cannot reach a djdns node at ${addr}: ${(e as Error).message}`,
      );
    }
    try {
      return await body(rpc);
    } finally {
      await rpc.close();
    }
  } finally {
    await node.stop();
  }
}

/**
 * Publishes signed objects through the node at `addr` (`HOST:PORT` or a multiaddr): the node
 * verifies each, stores and gossips what is new. Resolves with one {@linkcode ObjectResult} per
 * object, in order (`added`, `duplicate`, `held`, `invalid` with a code, `dropped`); rejects
 * with {@linkcode NodeUnreachableError} when the node cannot be reached or breaks the protocol.
 */
export async function publish(
  addr: string,
  objects: readonly SignedObject[],
  opts: ClientOptions = {},
): Promise<ObjectResult[]> {
  return await withNode(addr, PROTOCOLS.sync, opts, async (rpc) => {
    const out: ObjectResult[] = [];
    for (let i = 0; i < objects.length; i += MAX_OBJECTS) {
      const chunk = objects.slice(i, i + MAX_OBJECTS);
      const res = parseResponse(await rpc.call({ t: "objs", objects: chunk }));
      if (res.t !== "res" || res.results.length !== chunk.length) {
        throw new NodeUnreachableError(
          `node at ${addr} answered ${res.t === "err" ? `${res.code}: ${res.message}` : res.t}`,
        );
      }
      out.push(...res.results);
    }
    return out;
  });
}

/**
 * Fetches every object the node at `addr` holds for page `pageId` (genesis first, parents
 * before children). Resolves with [] when the node does not hold the page. The objects are NOT
 * verified here: feed them to a page log (lib/page) before trusting them.
 */
export async function fetchPage(
  addr: string,
  pageId: string,
  opts: ClientOptions = {},
): Promise<SignedObject[]> {
  return await withNode(addr, PROTOCOLS.fetch, opts, async (rpc) => {
    const objects: SignedObject[] = [];
    let from = 0;
    for (;;) {
      const res = parseResponse(await rpc.call({ t: "fetch", page: pageId, from }));
      if (res.t === "err") return [];
      if (res.t !== "objs") throw new NodeUnreachableError(`node at ${addr} answered ${res.t}`);
      objects.push(...res.objects);
      if (res.next === undefined || res.next <= from) return objects;
      from = res.next;
    }
  });
}

/** The status document of the node at `addr` (served to loopback clients only). */
export async function nodeStatus(addr: string, opts: ClientOptions = {}): Promise<unknown> {
  return await withNode(addr, PROTOCOLS.status, opts, (rpc) => rpc.call({ t: "status" }));
}
