/**
 * `djdns testnet up|down`: a whole local djdns network in one command, for newcomers and demos.
 *
 * `up` makes (once, in DIR) three moderator keys, a root page, a `test` TLD page and two domain
 * pages (example.test, demo.test) moderated by them, and a trust anchor for the root; it then
 * runs N nodes on free loopback ports, in this process, each with its own data directory, DNS
 * server and libp2p gossip, all bootstrapped from the first, and prints how to query them with
 * dig and how to make a change. It runs until Ctrl-C, SIGTERM or `testnet down`.
 *
 * The nodes run in one process on purpose: the binary needs no permission to start programs,
 * and stopping them needs none to signal one (`down` asks through a file in DIR, which the
 * running testnet watches). Each node is still a separate libp2p host talking to the others over
 * loopback TCP, with its own store, exactly as separate `djdns run` processes would.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { encodeAnchorFile } from "../anchor/file.ts";
import { createForwarder } from "../forwarder/mod.ts";
import { LOOPBACK } from "../dns/ip.ts";
import { setupLogging } from "../log.ts";
import { peerAddr } from "../net/addr.ts";
import {
  createGenesis,
  createPageLog,
  type JsonObject,
  type PageLog,
  type Participant,
} from "../page/mod.ts";
import { type RunningNode, startNode } from "../node/mod.ts";
import { exactSelector, subtreeSelector } from "./change.ts";
import { describeFsError, readKeyFile, writeNewKey } from "./key.ts";
import { InputError, openData, reportErrors, writeFileAtomic, writeLog } from "./pagedata.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns testnet`. */
export const TESTNET_HELP = `Usage: djdns testnet up [--nodes N] [--dir DIR]
       djdns testnet down [--dir DIR]

A local djdns network in one command.

Commands:
  up                       make (once) three moderator keys, a root page, a 'test' TLD page
                           and the pages of example.test and demo.test in DIR; run N nodes on
                           free 127.0.0.1 ports gossiping with each other; print how to query
                           them with dig and how to make a change; run until Ctrl-C, SIGTERM
                           or 'djdns testnet down'. Running it again in the same DIR resumes
                           the same network with everything it stored.
  down                     stop the testnet running in DIR

Options:
  --nodes N                how many nodes (1-16, default 3)
  --dir DIR                where keys, pages and the nodes' data directories live (default
                           ./djdns-testnet)
  -h, --help               show this help`;

const STATE_FILE = "testnet.json";
const STOP_FILE = "stop";

/** What `up` writes for `down` and for people: the pages and the nodes' addresses. */
interface TestnetState {
  pid: number;
  anchor: string;
  pages: Record<string, string>;
  nodes: { dns: string; gossip: string; data: string }[];
}

function names(dir: string) {
  return {
    keys: [1, 2, 3].map((i) => `${dir}/keys/mod-${i}.key`),
    anchor: `${dir}/anchor.json`,
    seed: `${dir}/seed`,
    state: `${dir}/${STATE_FILE}`,
    stop: `${dir}/${STOP_FILE}`,
    node: (i: number) => `${dir}/node-${i}`,
  };
}

function record(name: string, rtype: string, rdata: string): JsonObject {
  return { domain_name: name, rtype, rdata, rttl: 60 };
}

/** The testnet's pages, made from the moderators' keys (deterministic: same keys, same ids). */
function makePages(keys: string[]): { logs: PageLog[]; ids: Record<string, string> } {
  const participants: Record<string, Participant> = {};
  for (const k of keys) participants[k] = { weight: 1 };
  const page = (nonce: string, meta: string, branches: JsonObject[]) =>
    createPageLog(createGenesis({
      participants,
      meta: { authority: meta, policy: "djdns testnet: the keys are in this directory" },
      branches,
      nonce,
    }));
  const example = page("example.test", "example.test moderators", [
    {
      selector: exactSelector("www.example.test"),
      records: [record("www.example.test", "A", "192.0.2.10")],
    },
    {
      selector: exactSelector("example.test"),
      records: [record("example.test", "TXT", "djdns testnet: example.test")],
    },
  ]);
  const demo = page("demo.test", "demo.test moderators", [
    {
      selector: exactSelector("www.demo.test"),
      records: [record("www.demo.test", "A", "192.0.2.20")],
    },
    {
      selector: exactSelector("alias.demo.test"),
      records: [record("alias.demo.test", "CNAME", "www.example.test")],
    },
  ]);
  const tld = page("test", "test TLD moderators", [
    { selector: subtreeSelector("example.test"), targets: [`djdns:${example.pageId}`] },
    { selector: subtreeSelector("demo.test"), targets: [`djdns:${demo.pageId}`] },
  ]);
  const root = page("root", "testnet root moderators", [
    { selector: subtreeSelector("test"), targets: [`djdns:${tld.pageId}`] },
  ]);
  return {
    logs: [root, tld, example, demo],
    ids: {
      root: root.pageId,
      test: tld.pageId,
      "example.test": example.pageId,
      "demo.test": demo.pageId,
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes keys, pages and anchor the first time; returns the pages and their ids. */
async function prepare(dir: string): Promise<{ ids: Record<string, string>; logs: PageLog[] }> {
  const n = names(dir);
  try {
    await Deno.mkdir(`${dir}/keys`, { recursive: true });
  } catch (e) {
    throw new InputError(`${dir}: ${describeFsError(e)}`);
  }
  const keys: string[] = [];
  for (const file of n.keys) {
    keys.push(
      await exists(file) ? (await readKeyFile(file)).publicHex : await writeNewKey(file),
    );
  }
  const { logs, ids } = makePages(keys);
  if (!await exists(n.anchor)) {
    await writeFileAtomic(n.anchor, encodeAnchorFile({ page: ids.root, genesis: logs[0].genesis }));
  }
  return { ids, logs };
}

/** Seeds a node's data directory with the pages it does not hold yet. */
function seed(dataDir: string, logs: PageLog[]): void {
  const store = openData(dataDir, "create");
  try {
    for (const log of logs) if (!store.getPage(log.pageId)?.headId) writeLog(store, log);
  } finally {
    store.close();
  }
}

function hostPort(multiaddr: string): string {
  const m = /^\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(multiaddr);
  return m ? `${m[1]}:${m[2]}` : multiaddr;
}

async function up(dir: string, count: number): Promise<number> {
  const n = names(dir);
  if (await exists(n.state)) {
    const prev = JSON.parse(await Deno.readTextFile(n.state)) as TestnetState;
    // A stale file from a testnet that died: the nodes' locks decide below.
    console.error(`note: ${n.state} exists (process ${prev.pid}); starting anyway`);
  }
  await Deno.remove(n.stop).catch(() => {});
  const { ids, logs } = await prepare(dir);
  const anchor = JSON.parse(await Deno.readTextFile(n.anchor));
  setupLogging("warning", "text");
  const nodes: RunningNode[] = [];
  const info: TestnetState["nodes"] = [];
  const stopAll = async () => {
    for (const node of nodes.splice(0).reverse()) await node.stop();
  };
  try {
    for (let i = 1; i <= count; i++) {
      seed(n.node(i), logs);
      const node = await startNode({
        dataDir: n.node(i),
        anchor,
        listen: [{ host: "127.0.0.1", port: 0 }],
        acl: LOOPBACK,
        udpSize: 1232,
        cacheEntries: 10_000,
        idleMs: 10_000,
        maxConnections: 128,
        maxPerSource: 16,
        upstreams: [],
        forwarder: createForwarder({ upstreams: [], timeoutMs: 1500 }),
        gossip: {
          listen: peerAddr("127.0.0.1:1").decapsulate("/tcp").encapsulate("/tcp/0"),
          peers: info.length ? [peerAddr(info[0].gossip)] : [],
          follow: "all",
          unusedMs: 7 * 86_400_000,
          syncIntervalMs: 5_000,
          fetchDeadlineMs: 1500,
          targetPeers: 8,
        },
      });
      nodes.push(node);
      const gossip = node.network?.addrs().find((a) => a.startsWith("/ip4/127.0.0.1/")) ?? "";
      info.push({ dns: node.listening[0], gossip: hostPort(gossip), data: n.node(i) });
    }
  } catch (e) {
    await stopAll();
    throw new InputError(`cannot start the testnet: ${(e as Error).message}`);
  }
  const state: TestnetState = { pid: Deno.pid, anchor: n.anchor, pages: ids, nodes: info };
  await writeFileAtomic(n.state, JSON.stringify(state, null, 2) + "\n");

  const port = (hp: string) => hp.slice(hp.lastIndexOf(":") + 1);
  const last = info.at(-1)!;
  const lines = [
    `djdns testnet: ${count} node(s) on 127.0.0.1, root page ${ids.root}`,
    ...info.map((x, i) => `  node ${i + 1}: DNS ${x.dns}, gossip ${x.gossip}, data ${x.data}`),
    "",
    "Query any node:",
    `  dig @127.0.0.1 -p ${port(info[0].dns)} www.example.test`,
    `  dig @127.0.0.1 -p ${port(last.dns)} alias.demo.test`,
    `  djdns resolve --anchor ${n.anchor} --data ${info[0].data} --no-upstream --trace \\`,
    "        alias.demo.test     # the walk through the signed pages, with their heads",
    "",
    "Make a change: moderator 1 proposes at the first node, moderator 2 approves at the last",
    "(content changes need 0.34 of the three moderators' weight, so two of them):",
    `  EV=$(djdns propose ${ids["example.test"]} --key ${n.keys[0]} \\`,
    `        --node ${info[0].gossip} add-record ftp.example.test A 192.0.2.11)`,
    `  djdns approve ${ids["example.test"]} $EV --key ${n.keys[1]} --node ${last.gossip}`,
    `  dig @127.0.0.1 -p ${port(last.dns)} ftp.example.test`,
    "",
    `Pages: ${Object.entries(ids).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `Stop: Ctrl-C, or 'djdns testnet down --dir ${dir}'.`,
  ];
  console.log(lines.join("\n"));

  const stop = Promise.withResolvers<string>();
  const onInt = () => stop.resolve("SIGINT");
  const onTerm = () => stop.resolve("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const poll = setInterval(async () => {
    if (await exists(n.stop)) stop.resolve("testnet down");
  }, 250);
  const why = await stop.promise;
  clearInterval(poll);
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  getLogger(["djdns"]).warning("testnet stopping ({why})", { why });
  await stopAll();
  await Deno.remove(n.state).catch(() => {});
  await Deno.remove(n.stop).catch(() => {});
  console.error(`djdns testnet: stopped (${why})`);
  return 0;
}

async function down(dir: string): Promise<number> {
  const n = names(dir);
  if (!await exists(n.state)) throw new InputError(`no testnet is running in ${dir}`);
  await writeFileAtomic(n.stop, "stop\n");
  const end = Date.now() + 30_000;
  while (await exists(n.state)) {
    if (Date.now() > end) {
      await Deno.remove(n.stop).catch(() => {});
      throw new InputError(
        `the testnet in ${dir} did not stop within 30 s (is its process still alive? ` +
          `remove ${n.state} if not)`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  console.error(`djdns testnet: stopped the testnet in ${dir}`);
  return 0;
}

/** Runs `djdns testnet …`. */
export async function testnetMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    nodes: { type: "string" },
    dir: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) {
    console.log(TESTNET_HELP);
    return 0;
  }
  const [command] = positionals;
  const dir = ((values.dir as string | undefined) ?? "djdns-testnet").replace(/\/+$/, "") || "/";
  if (command === "up") {
    const raw = (values.nodes as string | undefined) ?? "3";
    if (!/^\d{1,2}$/.test(raw) || Number(raw) < 1 || Number(raw) > 16) {
      throw new UsageError("--nodes must be a whole number from 1 to 16");
    }
    return await reportErrors(() => up(dir, Number(raw)));
  }
  if (command === "down") {
    if (values.nodes !== undefined) throw new UsageError("--nodes applies to testnet up");
    return await reportErrors(() => down(dir));
  }
  throw new UsageError(
    command === undefined ? "missing command: up or down" : `unknown testnet command '${command}'`,
  );
}
