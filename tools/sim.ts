/**
 * The replication simulator: many nodes in one process, each running the real lib/sync code (a
 * replica verifying with lib/page, the catch-up session of lib/sync/session.ts over a simulated
 * request/response transport), over a simulated network with latency, loss, partitions and
 * churn, on a virtual clock. Gossip is modelled as gossipsub's mesh forwarding (each node
 * forwards a new, verified object to its mesh peers; duplicates are dropped); the real gossipsub
 * is not simulated, only its delivery pattern.
 *
 *   deno run -A tools/sim.ts [--nodes 1000] [--degree 6] [--latency 20] [--jitter 30]
 *     [--loss 0.01] [--sync 15] [--churn 0.05] [--partition 30] [--seed 1] [--json]
 *
 * Three scenarios, one change each (an event and its approval, published at one node):
 * `push` (everyone online), `churn` (a fraction offline at the change, back within 30 s,
 * catching up on reconnect), `partition` (the network split in two halves until `--partition`
 * seconds after the change). Reports the time until 50 %, 99 % and 100 % of the nodes hold the
 * change, and bytes and messages per node.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createPageLog, objectId, proposeEvent, type SignedObject } from "../lib/page/mod.ts";
import { approve, createGenesis } from "../lib/page/mod.ts";
import { generateKeyPair } from "../lib/crypto/mod.ts";
import {
  createReplica,
  parseRequest,
  parseResponse,
  type Replica,
  respond,
  type SyncHost,
  syncWith,
} from "../lib/sync/mod.ts";
import { prng } from "../tests/helpers/prng.ts";

const { values: args } = parseArgs({
  options: {
    nodes: { type: "string", default: "1000" },
    degree: { type: "string", default: "6" },
    latency: { type: "string", default: "20" },
    jitter: { type: "string", default: "30" },
    loss: { type: "string", default: "0.01" },
    sync: { type: "string", default: "15" },
    churn: { type: "string", default: "0.05" },
    partition: { type: "string", default: "30" },
    seed: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(args.nodes);
const DEGREE = Number(args.degree);
const LAT = Number(args.latency);
const JIT = Number(args.jitter);
const LOSS = Number(args.loss);
const SYNC_MS = Number(args.sync) * 1000;
const CHURN = Number(args.churn);
const PARTITION_MS = Number(args.partition) * 1000;

// ---- virtual clock ------------------------------------------------------------------------

interface Ev {
  t: number;
  seq: number;
  fn: () => void;
}
class Heap {
  a: Ev[] = [];
  push(e: Ev) {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p], a[i])) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): Ev | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (r < a.length && less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
function less(x: Ev, y: Ev) {
  return x.t < y.t || (x.t === y.t && x.seq < y.seq);
}

// A macrotask that is cheap (MessageChannel), so async sessions advance between events.
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldTask = () =>
  new Promise<void>((r) => {
    waiting.push(r);
    channel.port2.postMessage(0);
  });

// ---- the world ----------------------------------------------------------------------------

interface SimNode {
  id: number;
  replica: Replica;
  host: SyncHost;
  mesh: number[];
  online: boolean;
  side: 0 | 1;
  heldAt: number;
  bytes: number;
  messages: number;
}

async function scenario(name: "push" | "churn" | "partition", seed: number) {
  const rand = prng(seed);
  const heap = new Heap();
  let now = 0;
  let seq = 0;
  const at = (t: number, fn: () => void) => heap.push({ t, seq: seq++, fn });
  const sleep = (ms: number) => new Promise<void>((r) => at(now + ms, r));
  const delay = () => LAT + rand() * JIT;

  const owner = generateKeyPair();
  const genesis = createGenesis({
    participants: { [owner.publicKey.toHex()]: { weight: 1 } },
    branches: [],
    nonce: `sim ${seed}`,
  });
  const page = objectId(genesis);
  const event = proposeEvent(page, page, "ADD_BRANCH", {
    branch: {
      selector: "^www\\.sim$",
      records: [{ domain_name: "www.sim", rtype: "A", rdata: "192.0.2.1" }],
    },
  });
  const approval = approve(owner.secretKey, event);
  const eventId = objectId(event);
  const enc = new TextEncoder();
  const size = (o: unknown) => enc.encode(JSON.stringify(o)).length;

  let partitioned = false;
  const nodes: SimNode[] = [];
  const linkUp = (a: SimNode, b: SimNode) =>
    a.online && b.online && !(partitioned && a.side !== b.side);

  function gossip(from: SimNode, objects: SignedObject[], except?: number) {
    for (const o of objects) {
      const bytes = size(o) + 40; // frame + gossipsub envelope
      for (const m of from.mesh) {
        if (m === except) continue;
        const to = nodes[m];
        from.bytes += bytes;
        from.messages++;
        if (rand() < LOSS) continue;
        at(now + delay(), () => {
          if (!linkUp(from, to)) return;
          to.bytes += bytes;
          to.messages++;
          const ing = to.replica.ingest([o]);
          check(to);
          if (ing.results[0].outcome === "added") gossip(to, [o], from.id);
        });
      }
    }
  }

  function check(n: SimNode) {
    if (n.heldAt < 0 && n.replica.log.head() === eventId) n.heldAt = now;
  }

  for (let i = 0; i < N; i++) {
    const replica = createReplica(createPageLog(genesis), []);
    const n: SimNode = {
      id: i,
      replica,
      host: undefined as unknown as SyncHost,
      mesh: [],
      online: true,
      side: i < N / 2 ? 0 : 1,
      heldAt: -1,
      bytes: 0,
      messages: 0,
    };
    n.host = {
      replica: (id) => (id === page ? n.replica : undefined),
      followed: () => [n.replica],
      ingest(objects, _source, how) {
        const ing = n.replica.ingest(objects as SignedObject[]);
        check(n);
        // New objects pushed to us by a peer are gossiped on, as the node does.
        if (how === "push") {
          const added = (objects as SignedObject[]).filter((_, j) =>
            ing.results[j].outcome === "added"
          );
          if (added.length > 0) gossip(n, added);
        }
        return ing.results;
      },
    };
    nodes.push(n);
  }
  // The mesh: each node links to DEGREE/2 random others (symmetric, about DEGREE on average).
  for (const n of nodes) {
    while (n.mesh.length < DEGREE / 2) {
      const m = Math.floor(rand() * N);
      if (m === n.id || n.mesh.includes(m)) continue;
      n.mesh.push(m);
      nodes[m].mesh.push(n.id);
    }
  }

  // A catch-up session over the simulated transport (every request and response delayed,
  // lost with probability LOSS: a lost message fails the session, as a timeout would).
  async function session(a: SimNode, b: SimNode) {
    const call = async (req: unknown) => {
      const q = size(req);
      a.bytes += q;
      a.messages++;
      await sleep(delay());
      if (!linkUp(a, b) || rand() < LOSS) throw new Error("lost");
      b.bytes += q;
      b.messages++;
      const res = respond(b.host, parseRequest(JSON.parse(JSON.stringify(req))), String(a.id));
      const r = size(res);
      b.bytes += r;
      b.messages++;
      await sleep(delay());
      if (!linkUp(a, b) || rand() < LOSS) throw new Error("lost");
      a.bytes += r;
      a.messages++;
      return parseResponse(JSON.parse(JSON.stringify(res)));
    };
    try {
      await syncWith(a.host, call, String(b.id));
    } catch { /* lost: the next period repairs */ }
  }

  // Periodic catch-up with a random mesh peer, at a random phase per node.
  function schedule(n: SimNode, first: number) {
    at(first, () => {
      if (n.online) {
        const peer = nodes[n.mesh[Math.floor(rand() * n.mesh.length)]];
        void session(n, peer);
      }
      schedule(n, now + SYNC_MS);
    });
  }
  for (const n of nodes) schedule(n, rand() * SYNC_MS);

  const origin = nodes[0];
  const T0 = 1000;
  if (name === "churn") {
    for (const n of nodes.slice(1)) {
      if (rand() < CHURN) {
        n.online = false;
        // Back within 30 s: reconnecting, a node catches up with a peer at once.
        at(T0 + rand() * 30_000, () => {
          n.online = true;
          void session(n, nodes[n.mesh[0]]);
        });
      }
    }
  }
  if (name === "partition") {
    partitioned = true;
    at(T0 + PARTITION_MS, () => partitioned = false);
  }
  at(T0, () => {
    const objs = [event, approval];
    origin.replica.ingest(objs);
    check(origin);
    gossip(origin, objs);
  });

  const horizon = T0 + 600_000;
  let lastYield = 0;
  for (;;) {
    const ev = heap.pop();
    if (!ev || ev.t > horizon) break;
    if (ev.t - lastYield >= 1) {
      await yieldTask(); // let sessions' continuations run up to this virtual time
      lastYield = ev.t;
    }
    now = ev.t;
    ev.fn();
    if (nodes.every((n) => n.heldAt >= 0)) {
      await yieldTask();
      break;
    }
  }
  const times = nodes.map((n) => (n.heldAt < 0 ? Infinity : n.heldAt - T0)).sort((x, y) => x - y);
  const pct = (p: number) => times[Math.min(N - 1, Math.ceil(p * N) - 1)];
  const bytes = nodes.map((n) => n.bytes).sort((x, y) => x - y);
  const msgs = nodes.map((n) => n.messages).sort((x, y) => x - y);
  return {
    scenario: name,
    nodes: N,
    t50ms: Math.round(pct(0.5)),
    t99ms: Math.round(pct(0.99)),
    t100ms: Math.round(pct(1)),
    afterHealMs: name === "partition" ? Math.round(pct(1) - PARTITION_MS) : undefined,
    bytesPerNodeMedian: bytes[N >> 1],
    bytesPerNodeMax: bytes[N - 1],
    messagesPerNodeMedian: msgs[N >> 1],
    virtualSeconds: Math.round(now / 1000),
  };
}

const seed = Number(args.seed);
const results = [];
for (const name of ["push", "churn", "partition"] as const) {
  const t = performance.now();
  const r = await scenario(name, seed);
  results.push({ ...r, realSeconds: Math.round((performance.now() - t) / 100) / 10 });
}
channel.port1.close();
channel.port2.close();
if (args.json) console.log(JSON.stringify(results, null, 2));
else {
  console.log(
    `nodes ${N}, mesh degree ~${DEGREE}, latency ${LAT}+U(0,${JIT}) ms, loss ${LOSS}, ` +
      `sync every ${SYNC_MS / 1000} s, churn ${CHURN}, partition ${PARTITION_MS / 1000} s`,
  );
  console.log(
    "scenario   t50 ms  t99 ms  t100 ms  after-heal ms  bytes/node (median, max)  msgs/node",
  );
  for (const r of results) {
    console.log(
      `${r.scenario.padEnd(10)} ${String(r.t50ms).padStart(6)} ${String(r.t99ms).padStart(7)} ${
        String(r.t100ms).padStart(8)
      } ${
        String(r.afterHealMs ?? "-").padStart(14)
      }  ${r.bytesPerNodeMedian}, ${r.bytesPerNodeMax}  ${r.messagesPerNodeMedian}   (${r.realSeconds} s real)`,
    );
  }
}
