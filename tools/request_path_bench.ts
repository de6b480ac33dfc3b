/**
 * In-process cost of the request path, before and after a change, in the same process: a cache
 * hit through `responder.handle`, and a forwarded miss (parse, the forward call with the question
 * the forwarder gets, the upstream query built as the forwarder builds it, template, reply) with
 * the network replaced by a canned reply. Rounds alternate the two trees; the figure that counts
 * is the median ratio after/before.
 *
 *   git archive REV lib | tar -x -C /tmp/before
 *   deno run --allow-read --v8-flags=--enable-experimental-regexp-engine \
 *     tools/request_path_bench.ts --before /tmp/before [--after DIR] [--rounds 5] [--n 300000]
 *
 * `--after` defaults to this source tree. The "before" tree must be a revision from before lib/dns/question.ts existed (the forwarder
 * then took text names): the adapters below know both shapes of the forward call.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import dnsPacket from "dns-packet";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    before: { type: "string" },
    after: { type: "string" },
    rounds: { type: "string", default: "5" },
    n: { type: "string", default: "300000" },
  },
});
if (!values.before) throw new Error("--before DIR (a source tree of the older revision)");
const ROUNDS = Number(values.rounds);
const N = Number(values.n);
const HERE = new URL("../", import.meta.url).pathname;

type Handle = (req: Uint8Array, origin: unknown) => unknown;
interface Tree {
  label: string;
  hit: Handle;
  miss: Handle;
}

const ORIGIN = { transport: "udp", recursion: true };
const NAME_COUNT = 4096;
const names = Array.from(
  { length: NAME_COUNT },
  (_, i) => `n${String(i).padStart(6, "0")}.example.net`,
);
const query = (name: string, id: number) =>
  new Uint8Array(dnsPacket.encode({
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: "A", class: "IN" }],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232 } as dnsPacket.Answer],
  }));
const requests = names.map((n, i) => query(n, i));
const cannedReply = (name: string) =>
  new Uint8Array(dnsPacket.encode({
    id: 0,
    type: "response",
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ name, type: "A", class: "IN" }],
    answers: [{ name, type: "A", ttl: 300, data: "192.0.2.1" }],
  }));
const canned = cannedReply(names[0]);
const cannedPacket = dnsPacket.decode(Buffer.from(canned));

async function load(root: string, label: string): Promise<Tree> {
  const { createResponder } = await import(`${root}/lib/server/responder.ts`);
  const notRegistry = () => Promise.resolve({ registry: false, trace: [] });
  let forward: (...args: unknown[]) => Promise<unknown>;
  try {
    // After: the forwarder gets the question's wire bytes and builds its query from them.
    const q = await import(`${root}/lib/dns/question.ts`);
    forward = (question: unknown, dnssecOk: unknown, cd: unknown) => {
      q.buildQuery({ id: 1, question, recursionDesired: true, dnssecOk, checkingDisabled: cd });
      return Promise.resolve({ bytes: canned, packet: cannedPacket });
    };
  } catch {
    // Before: text name, type and class numbers, encoded again in the forwarder.
    const m = await import(`${root}/lib/forwarder/message.ts`);
    forward = (name: unknown, qtype: unknown, qclass: unknown, dnssecOk: unknown, cd: unknown) => {
      const question = {
        name: m.encodeName(name),
        qtype: m.typeCode(qtype),
        qclass: m.classCode(qclass),
      };
      m.buildQuery({ id: 1, question, recursionDesired: true, dnssecOk, checkingDisabled: cd });
      return Promise.resolve({ bytes: canned, packet: cannedPacket });
    };
  }
  const hitResponder = createResponder({ resolve: notRegistry, forward });
  await hitResponder.handle(requests[0], ORIGIN); // fills the cache
  // No cache entries: every query is a miss that goes to the (canned) upstream.
  const missResponder = createResponder({ resolve: notRegistry, forward, cacheEntries: 0 });
  return {
    label,
    hit: (r, o) => hitResponder.handle(r, o),
    miss: (r, o) => missResponder.handle(r, o),
  };
}

function timeHits(t: Tree): number {
  const req = requests[0];
  const start = performance.now();
  for (let i = 0; i < N; i++) t.hit(req, ORIGIN);
  return ((performance.now() - start) * 1000) / N;
}

async function timeMisses(t: Tree): Promise<number> {
  const n = Math.max(1000, Math.floor(N / 10));
  const start = performance.now();
  for (let i = 0; i < n; i += 64) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 64); j++) {
      batch.push(t.miss(requests[j % NAME_COUNT], ORIGIN));
    }
    await Promise.all(batch);
  }
  return ((performance.now() - start) * 1000) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const before = await load(values.before.replace(/\/$/, ""), "before");
const after = await load((values.after ?? HERE).replace(/\/$/, ""), "after");
// Warm-up: let both trees reach optimized code.
for (const t of [before, after]) {
  timeHits(t);
  await timeMisses(t);
}
const results: Record<string, { hit: number[]; miss: number[] }> = {
  before: { hit: [], miss: [] },
  after: { hit: [], miss: [] },
};
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [before, after] : [after, before];
  for (const t of order) {
    results[t.label].hit.push(timeHits(t));
    results[t.label].miss.push(await timeMisses(t));
  }
}
const hitRatio = median(results.after.hit.map((a, i) => a / results.before.hit[i]));
const missRatio = median(results.after.miss.map((a, i) => a / results.before.miss[i]));
console.log(
  `cache hit:      before ${median(results.before.hit).toFixed(3)} µs, after ${
    median(results.after.hit).toFixed(3)
  } µs, after/before ${hitRatio.toFixed(3)}× (median of ${ROUNDS} paired rounds of ${N})`,
);
console.log(
  `forwarded miss: before ${median(results.before.miss).toFixed(3)} µs, after ${
    median(results.after.miss).toFixed(3)
  } µs, after/before ${missRatio.toFixed(3)}× (median of ${ROUNDS} paired rounds of ${
    Math.max(1000, Math.floor(N / 10))
  })`,
);
