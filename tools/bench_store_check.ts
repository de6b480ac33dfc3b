/**
 * The background check of stored records (issue 14 against issues 11/12): a node started on a
 * data directory holding a signed page of 100,000 names (genesis, 100,000 signed events and
 * their approvals, the materialized state: ~200,000 objects, ~132 MB) answers at once from the
 * page's verified state and checks every stored record afterwards, a slice at a time. Measured
 * with the real `djdns run` (the `djdns` task's flags):
 *
 * - start to first answer for the page's last name (polled every 5 ms over UDP), and the same
 *   for `--baseline DIR` (another tree, e.g. the one that checked every record at open);
 * - how long the background check takes (from the node's own log line);
 * - the latency of queries sent one after the other (every 5 ms) while the check runs, against
 *   the same queries once it has finished (same process, same run).
 *
 * Run: `npx -y deno@2.9.6 run --allow-all tools/bench_store_check.ts [--rounds 3]
 * [--baseline DIR] [--data DIR --pages DIR]` (without `--data`, the store is built first: ~40 s).
 *
 * @module
 */
import { parseArgs } from "node:util";
import dgram from "node:dgram";
import { host, signedDirs } from "./bench/scale_fixtures.ts";
import { freePort, query, taskArgs } from "./bench/server_args.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    baseline: { type: "string" },
    data: { type: "string" },
    pages: { type: "string" },
    names: { type: "string", default: "100000" },
  },
});
const ROUNDS = Number(values.rounds);
const N = Number(values.names);

/** One UDP client that sends a query and waits for its reply (ms), or null after `timeoutMs`. */
async function client() {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  let waiting: ((m: Uint8Array) => void) | undefined;
  let id = 0;
  sock.on("message", (m: Uint8Array) => {
    if (waiting && ((m[0] << 8) | m[1]) === id) waiting(m);
  });
  return {
    async ask(port: number, name: string, timeoutMs: number) {
      id = (id + 1) & 0xffff;
      const t = performance.now();
      const got = new Promise<Uint8Array>((r) => waiting = r);
      sock.send(query(name, id), port, "127.0.0.1");
      const m = await Promise.race([
        got,
        new Promise<null>((r) => setTimeout(() => r(null), timeoutMs)),
      ]);
      waiting = undefined;
      return m === null ? null : { ms: performance.now() - t, rcode: m[3] & 0xf, an: m[7] };
    },
    close: () => sock.close(),
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function round(dirs: { pages: string; data: string }, tree?: string) {
  const port = freePort();
  const c = await client();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...await taskArgs(tree),
      "run",
      "--listen",
      `127.0.0.1:${port}`,
      "--no-upstream",
      "--pages",
      dirs.pages,
      "--data",
      dirs.data,
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let log = "";
  const checked = Promise.withResolvers<number>();
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      log += chunk;
      const m = /store: checked \d+ stored object\(s\) and \d+ page\(s\) in (\d+) ms/.exec(log);
      if (m) checked.resolve(Number(m[1]));
    }
    checked.resolve(NaN);
  })();
  const last = host(N - 1);
  let first;
  while (!(first = await c.ask(port, last, 5))) {
    if (performance.now() - t0 > 60_000) throw new Error(`no answer in 60 s:\n${log}`);
  }
  const startMs = performance.now() - t0;
  if (first.rcode !== 0 || first.an !== 1) throw new Error(`first answer rcode ${first.rcode}`);
  // Queries one after the other while the check runs (names all over the page; the answer
  // cache holds them after their first time, so most are the cache path the server runs most).
  const during: number[] = [];
  let lost = 0;
  let scanMs = NaN;
  let done = false;
  void checked.promise.then((ms) => {
    scanMs = ms;
    done = true;
  });
  for (let i = 0; !done && performance.now() - t0 < 120_000; i++) {
    const r = await c.ask(port, host((i * 7919) % N), 2000);
    if (r === null) lost++;
    else during.push(r.ms);
    await new Promise((r) => setTimeout(r, 5));
  }
  const after: number[] = [];
  for (let i = 0; i < Math.max(200, during.length) && i < 2000; i++) {
    const r = await c.ask(port, host((i * 7919) % N), 2000);
    if (r === null) lost++;
    else after.push(r.ms);
    await new Promise((r) => setTimeout(r, 5));
  }
  c.close();
  child.kill("SIGTERM");
  await child.status;
  return { startMs, scanMs, during, after, lost };
}

async function startOnly(dirs: { pages: string; data: string }, tree: string) {
  const port = freePort();
  const c = await client();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...await taskArgs(tree),
      "run",
      "--listen",
      `127.0.0.1:${port}`,
      "--no-upstream",
      "--log-level",
      "error",
      "--pages",
      dirs.pages,
      "--data",
      dirs.data,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  while (!(await c.ask(port, host(N - 1), 5))) {
    if (performance.now() - t0 > 60_000) break;
  }
  const ms = performance.now() - t0;
  c.close();
  child.kill("SIGTERM");
  await child.status;
  return ms;
}

const dirs = values.data && values.pages
  ? { data: values.data, pages: values.pages }
  : await signedDirs(N);
const f = (n: number) => n.toFixed(n < 10 ? 2 : 0);
console.log(
  `| round | start to first answer | baseline start | check | queries during | p50 / p99 / max ` +
    `during (ms) | p50 / p99 / max after (ms) | lost |`,
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (let r = 1; r <= ROUNDS; r++) {
  const base = values.baseline ? await startOnly(dirs, values.baseline) : NaN;
  const x = await round(dirs);
  console.log(
    `| ${r} | ${f(x.startMs)} ms | ${Number.isNaN(base) ? "–" : `${f(base)} ms`} | ` +
      `${f(x.scanMs)} ms | ${x.during.length} | ${f(pct(x.during, 0.5))} / ` +
      `${f(pct(x.during, 0.99))} / ${f(Math.max(...x.during))} | ${f(pct(x.after, 0.5))} / ` +
      `${f(pct(x.after, 0.99))} / ${f(Math.max(...x.after))} | ${x.lost} |`,
  );
}
