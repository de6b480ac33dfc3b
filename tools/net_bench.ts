/**
 * Network figures between real `djdns run` processes on loopback (the binary's flags):
 *
 * - propagation of one approved change over one hop and over two hops (a line A – B – C, peer
 *   exchange off), from the `publish` call at A until B / C answer it over UDP, polled every
 *   2 ms; reference in the same run: one UDP query answered from the registry;
 * - RSS of a node idle with gossip on, and of the same node following 1,000 pages; reference in
 *   the same run: a node without gossip.
 *
 *   deno run -A tools/net_bench.ts [--rounds 10] [--pages 1000]
 *
 * @module
 */
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import dnsPacket from "dns-packet";
import { encodeAnchorFile } from "../lib/anchor/file.ts";
import { generateKeyPair } from "../lib/crypto/mod.ts";
import { nodeStatus, publish } from "../lib/net/mod.ts";
import {
  approve,
  createGenesis,
  type Genesis,
  objectId,
  proposeEvent,
  type SignedObject,
} from "../lib/page/mod.ts";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    pages: { type: "string", default: "1000" },
  },
});
const ROUNDS = Number(args.rounds);
const PAGES = Number(args.pages);

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const taskArgs = (config.tasks.djdns as string).split(/\s+/).slice(1)
  .map((w) => (w === "main.ts" ? new URL("main.ts", ROOT).pathname : w));

interface Proc {
  child: Deno.ChildProcess;
  dns: number;
  gossip?: string;
  log: () => string;
}

async function start(args: string[]): Promise<Proc> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...taskArgs, "run", "--listen", "127.0.0.1:0", "--no-upstream", ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  (async () => {
    const d = new TextDecoder();
    for await (const c of child.stderr) text += d.decode(c, { stream: true });
  })();
  const want = args.includes("--gossip") ? /gossip on "[^"]*tcp\/(\d+)\// : /listening on/;
  for (let i = 0; i < 300 && !want.test(text); i++) await new Promise((r) => setTimeout(r, 50));
  const dns = Number(/listening on "127\.0\.0\.1:(\d+)"/.exec(text)?.[1]);
  const g = /gossip on "[^"]*tcp\/(\d+)\//.exec(text);
  if (!dns) throw new Error(`no start:\n${text}`);
  return { child, dns, gossip: g ? `127.0.0.1:${g[1]}` : undefined, log: () => text };
}

async function rssMiB(p: Proc): Promise<number> {
  const s = await Deno.readTextFile(`/proc/${p.child.pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024;
}

const sock = dgram.createSocket("udp4");
await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
const pending = new Map<number, (answers: string[]) => void>();
sock.on("message", (msg: Uint8Array) => {
  const p = dnsPacket.decode(msg as never);
  const f = pending.get(p.id!);
  pending.delete(p.id!);
  f?.((p.answers ?? []).map((a) => String((a as { data: unknown }).data)));
});
let qid = 1;
function query(port: number, name: string): Promise<string[]> {
  const id = (qid = (qid + 1) & 0xffff);
  const buf = dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: "A", name, class: "IN" }],
  });
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      pending.delete(id);
      resolve([]);
    }, 500);
    pending.set(id, (a) => {
      clearTimeout(t);
      resolve(a);
    });
    sock.send(buf, port, "127.0.0.1");
  });
}

async function waitAnswer(port: number, name: string, ip: string, t0: number): Promise<number> {
  for (;;) {
    if ((await query(port, name)).includes(ip)) return performance.now() - t0;
    if (performance.now() - t0 > 20_000) return Infinity;
    await new Promise((r) => setTimeout(r, 2));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const tmp = await Deno.makeTempDir({ prefix: "djdns-net-bench-" });
const owner = generateKeyPair();
const genesis: Genesis = createGenesis({
  participants: { [owner.publicKey.toHex()]: { weight: 1 } },
  branches: [],
  nonce: crypto.randomUUID(),
});
const page = objectId(genesis);
await Deno.writeTextFile(`${tmp}/anchor.json`, encodeAnchorFile({ page, genesis }));
const procs: Proc[] = [];
try {
  const plain = await start(["--data", `${tmp}/plain`, "--anchor", `${tmp}/anchor.json`]);
  procs.push(plain);
  const net = (name: string, extra: string[]) =>
    start([
      "--data",
      `${tmp}/${name}`,
      "--anchor",
      `${tmp}/anchor.json`,
      "--gossip",
      "127.0.0.1:0",
      "--peer-target",
      "0",
      "--sync-interval",
      "3600",
      ...extra,
    ]);
  const a = await net("a", []);
  const b = await net("b", ["--peer", a.gossip!]);
  const c = await net("c", ["--peer", b.gossip!]);
  procs.push(a, b, c);
  for (const p of [b, c]) {
    for (let i = 0; i < 100; i++) {
      const s = await nodeStatus(p.gossip!) as { connected: unknown[] };
      if (s.connected.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await new Promise((r) => setTimeout(r, 2000)); // gossip meshes form (heartbeat 1 s)
  const cStatus = await nodeStatus(c.gossip!) as { connected: { addr: string }[] };
  const aPort = a.gossip!.split(":")[1];
  if (cStatus.connected.some((x) => x.addr.includes(`/tcp/${aPort}`))) {
    throw new Error("C is connected to A directly: not a two-hop line");
  }

  const rssPlain = await rssMiB(plain);
  const rssIdle = await rssMiB(a);
  const oneHop: number[] = [], twoHops: number[] = [], ref: number[] = [];
  let head = page;
  for (let i = 0; i < ROUNDS; i++) {
    const name = `r${i}.bench`;
    const ip = `192.0.2.${(i % 250) + 1}`;
    const ev = proposeEvent(page, head, "ADD_BRANCH", {
      branch: {
        selector: `^r${i}\\.bench$`,
        records: [{ domain_name: name, rtype: "A", rdata: ip }],
      },
    });
    head = objectId(ev);
    const t0 = performance.now();
    await publish(a.gossip!, [ev, approve(owner.secretKey, ev)]);
    const [tb, tc] = await Promise.all([
      waitAnswer(b.dns, name, ip, t0),
      waitAnswer(c.dns, name, ip, t0),
    ]);
    oneHop.push(tb);
    twoHops.push(tc);
    const q0 = performance.now();
    await query(c.dns, name);
    ref.push(performance.now() - q0);
  }

  // A follows PAGES sub-pages: the root links them (BATCH of LINK_PAGE), their geneses follow.
  const subs: SignedObject[] = [];
  const ops = [];
  for (let i = 0; i < PAGES; i++) {
    const g = createGenesis({
      participants: { [owner.publicKey.toHex()]: { weight: 1 } },
      branches: [{
        selector: `^www\\.p${i}\\.bench$`,
        records: [{ domain_name: `www.p${i}.bench`, rtype: "A", rdata: "192.0.2.1" }],
      }],
      nonce: `p${i}`,
    });
    subs.push(g);
    ops.push({
      handler: "LINK_PAGE",
      args: { selector: `(^|\\.)p${i}\\.bench$`, page: objectId(g) },
    });
  }
  for (let i = 0; i < ops.length; i += 64) {
    const ev = proposeEvent(page, head, "BATCH", { ops: ops.slice(i, i + 64) });
    head = objectId(ev);
    await publish(a.gossip!, [ev, approve(owner.secretKey, ev)]);
  }
  const t1 = performance.now();
  for (let i = 0; i < subs.length; i += 100) await publish(a.gossip!, subs.slice(i, i + 100));
  const followMs = performance.now() - t1;
  await new Promise((r) => setTimeout(r, 3000));
  const st = await nodeStatus(a.gossip!) as { pages: unknown[] };
  const rssPages = await rssMiB(a);
  const rssPlainAfter = await rssMiB(plain);

  const f = (x: number) => x.toFixed(1);
  console.log(
    `machine: ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}`,
  );
  console.log(`propagation over loopback, ${ROUNDS} changes (median / max):`);
  console.log(`  one hop (A→B)   ${f(median(oneHop))} / ${f(Math.max(...oneHop))} ms`);
  console.log(`  two hops (A→C)  ${f(median(twoHops))} / ${f(Math.max(...twoHops))} ms`);
  console.log(
    `  reference: one UDP query answered by C: ${f(median(ref))} ms` +
      ` (two hops = ${f(median(twoHops) / median(ref))}x a query)`,
  );
  console.log(
    `RSS: node without gossip ${f(rssPlain)} MiB (after: ${f(rssPlainAfter)}), ` +
      `gossip idle ${f(rssIdle)} MiB (${f(rssIdle / rssPlain)}x), ` +
      `following ${st.pages.length} pages ${f(rssPages)} MiB (${f(rssPages / rssPlain)}x); ` +
      `${PAGES} geneses published and followed in ${f(followMs / 1000)} s`,
  );
} finally {
  sock.close();
  for (const p of procs) {
    try {
      p.child.kill("SIGTERM");
    } catch { /* gone */ }
    await p.child.status;
  }
  await Deno.remove(tmp, { recursive: true });
}
// Something of the libp2p clients (a socket or timer) keeps this process alive after the figures
// are printed (the CLI's own client calls exit at once); end explicitly.
Deno.exit(0);
