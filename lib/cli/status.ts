/**
 * `djdns status`: the operator's view of a running node, read over its gossip port
 * (`/djdns/status/1`, served to loopback clients only): peers and their standing, followed
 * pages with heads and lag, and a counter for every drop and reject reason.
 *
 * @module
 */
import { nodeStatus, NodeUnreachableError } from "../net/client.ts";
import type { NetStatus } from "../node/mod.ts";
import { DEFAULT_GOSSIP_PORT } from "./run.ts";
import { parseCommandLine } from "./usage.ts";

/** Help of `djdns status`. */
export const STATUS_HELP = `Usage: djdns status [--node HOST:PORT] [--json]

Show a running node's network status: its peer id and addresses, connected peers, the peer
table (score, bans), followed pages (head, height, objects, lag behind the best height peers
advertised) and counters (gossip accepted/ignored/rejected by reason, sync, fetch, store).

Options:
  --node HOST:PORT         the node's gossip address (default 127.0.0.1:${DEFAULT_GOSSIP_PORT}); the
                           node answers clients on this machine only
  --json                   print the status document as JSON
  -h, --help               show this help`;

// What a node sent: the status document of lib/node, every part optional (an older or newer node).
type Status = Partial<NetStatus>;

/** Runs `djdns status`; returns the exit status. */
export async function statusMain(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, {
    node: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, 0);
  if (values.help) {
    console.log(STATUS_HELP);
    return 0;
  }
  const addr = (values.node as string | undefined) ?? `127.0.0.1:${DEFAULT_GOSSIP_PORT}`;
  let status: Status;
  try {
    status = await nodeStatus(addr, { timeoutMs: 5000 }) as Status;
  } catch (e) {
    const msg = e instanceof NodeUnreachableError ? e.message : `${addr}: ${(e as Error).message}`;
    console.error(`djdns: ${msg}`);
    return 1;
  }
  if (values.json) {
    console.log(JSON.stringify(status, null, 2));
    return 0;
  }
  const lines = [`peer id     ${status.peerId}`];
  for (const a of status.addrs ?? []) lines.push(`address     ${a}`);
  lines.push(`connected   ${status.connected?.length ?? 0} peer(s)`);
  for (const c of status.connected ?? []) lines.push(`  ${c.id}  ${c.addr}`);
  lines.push("peers (score, ban):");
  for (const p of status.peers ?? []) {
    lines.push(
      `  ${p.id}  ${String(p.score).padStart(4)}${
        p.bannedUntil ? `  banned until ${p.bannedUntil}` : ""
      }`,
    );
  }
  lines.push("pages:");
  for (const p of status.pages ?? []) {
    lines.push(
      `  ${p.page}${
        p.root ? " (root)" : ""
      }  head ${p.head}  height ${p.height}  objects ${p.objects}  lag ${p.lag}`,
    );
  }
  const sc = status.store;
  if (sc) {
    lines.push(
      `store check ${sc.state}: ${sc.objects} object(s), ${sc.pages} page(s) checked, ` +
        `${sc.damaged} damaged record(s)${
          sc.damagedPages.length > 0
            ? ` in page(s) not served: ${sc.damagedPages.join(", ")} (djdns store verify, ` +
              "djdns store repair)"
            : ""
        }`,
    );
  }
  lines.push("counters:");
  for (const [k, v] of Object.entries(status.counters ?? {}).sort()) lines.push(`  ${k} ${v}`);
  console.log(lines.join("\n"));
  return 0;
}
