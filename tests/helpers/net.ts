/**
 * Helpers of the network tests: a signed test page as a trust anchor file, and `djdns run`
 * nodes with gossip on (real processes, loopback only, the binary's permission flags).
 *
 * @module
 */
import { encodeAnchorFile } from "../../lib/anchor/file.ts";
import {
  approve,
  createGenesis,
  type Genesis,
  objectId,
  type PageEvent,
  proposeEvent,
} from "../../lib/page/mod.ts";
import { branch, key } from "../page_fixtures.ts";
import { dig, type RunningServer, startDjdns } from "./djdns.ts";

/** A root page moderated by test key 1 alone, answering `name` with an A record. */
export function testRoot(name = "www.net.test", ip = "192.0.2.1"): {
  genesis: Genesis;
  page: string;
  anchorText: string;
} {
  const genesis = createGenesis({
    participants: { [key(1).hex]: { weight: 1 } },
    branches: [branch(name, ip)],
    nonce: `net test ${crypto.randomUUID()}`,
  });
  const page = objectId(genesis);
  return { genesis, page, anchorText: encodeAnchorFile({ page, genesis }) };
}

/** An approved change on `parent`: a new branch answering `name` with `ip`. */
export function change(page: string, parent: string, name: string, ip: string) {
  const event: PageEvent = proposeEvent(page, parent, "ADD_BRANCH", { branch: branch(name, ip) });
  return { event, approval: approve(key(1).secretKey, event), id: objectId(event) };
}

/** A running networked node. */
export interface NetNode extends RunningServer {
  /** Its gossip multiaddr (with /p2p/). */
  gossip: string;
  /** HOST:PORT of its gossip port, for the client API. */
  hostPort: string;
  data: string;
}

/** Polls `f` until it returns a truthy value or `ms` pass. */
export async function until<T>(
  f: () => T | Promise<T>,
  ms: number,
  what: string,
): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts `djdns run` with gossip on 127.0.0.1 (free port) and the given anchor file. */
export async function startNode(
  dir: string,
  name: string,
  anchorFile: string,
  extra: string[] = [],
): Promise<NetNode> {
  const data = `${dir}/${name}`;
  const server = await startDjdns([
    "--data",
    data,
    "--anchor",
    anchorFile,
    "--no-upstream",
    "--gossip",
    "127.0.0.1:0",
    // Periodic catch-up off (on-connect catch-up stays): what moves between running nodes in
    // these tests moves by gossip. Tests of repair pass a shorter interval in `extra`.
    "--sync-interval",
    "3600",
    ...extra,
  ], { timeoutMs: 30_000 });
  const m = await until(
    () => /gossip on "(\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\/\w+)"/.exec(server.log()),
    20_000,
    "the gossip address",
  );
  return { ...server, gossip: m[1], hostPort: `127.0.0.1:${m[2]}`, data };
}

/** The A records dig gets for `name` from a node. */
export async function aRecords(port: number, name: string): Promise<string[]> {
  const r = await dig(port, name, "A", "+short");
  return r.stdout.trim().split("\n").filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}
