/**
 * The registry at scale (issue 11, item 5): a page of 100,000 names against a page of 10, in the
 * same run, served by the real `djdns run` (the `djdns` task's flags).
 *
 * - start to first answer: the server is spawned and asked for the page's last name over UDP
 *   every 5 ms until it answers; the time from spawn to that answer, and the server's RSS then
 *   (VmRSS and its peak VmHWM from /proc). Both for a page file (`--pages`) and for a signed page
 *   held in a data directory (`--data`: a genesis, 100,000 signed ADD_BRANCH events and the
 *   materialized state, as the node stores them).
 * - throughput: dnsperf against the 100,000-name page with names it does not hold (each one a
 *   cache miss: 100,000 distinct names under the page's suffix, NXDOMAIN) and with its names,
 *   and against the 10-name page with its names, in the same run.
 *
 * Run: `npx -y deno@2.9.6 run --allow-all tools/bench_scale.ts [--rounds 3] [--seconds 5]
 * [--baseline DIR]` (as root it installs dnsperf through tools/test_deps.sh); `--baseline` runs
 * the 100,000-name measurements with another tree's djdns too (e.g. `git archive` of an older
 * commit, after `deno install` there). Prints Markdown tables.
 *
 * @module
 */
import { parseArgs } from "node:util";
import dgram from "node:dgram";
import { host, pageDir, signedDirs } from "./bench/scale_fixtures.ts";
import { dnsperf, freePort, query, taskArgs } from "./bench/server_args.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    names: { type: "string", default: "100000" },
    baseline: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const BIG = Number(values.names);
const SMALL = 10;
const LIMIT_MS = 60_000;

interface Server {
  child: Deno.ChildProcess;
  port: number;
  stop(): Promise<void>;
}

// The `deno run …` words of a tree's `djdns` task (this tree's by default), with its main.ts.
async function spawn(
  args: string[],
  name: string,
  tree?: string,
): Promise<{ server: Server; ms: number; rss: number; hwm: number; rcode: number }> {
  const port = freePort();
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  const answered = new Promise<Uint8Array>((r) => sock.on("message", (m) => r(m)));
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
      ...args,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const q = query(name, 0x1234);
  let reply: Uint8Array | null = null;
  while (reply === null) {
    sock.send(q, port, "127.0.0.1");
    reply = await Promise.race([answered, new Promise<null>((r) => setTimeout(() => r(null), 5))]);
    if (reply === null && performance.now() - t0 > LIMIT_MS) {
      // The code before this work validated a signed page's branches in quadratic time.
      sock.close();
      child.kill("SIGKILL");
      await child.status;
      if (tree === undefined) throw new Error(`no answer within ${LIMIT_MS / 1000} s`);
      const none = { child, port, stop: () => Promise.resolve() };
      return { server: none, ms: Infinity, rss: NaN, hwm: NaN, rcode: -1 };
    }
  }
  const ms = performance.now() - t0;
  sock.close();
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  const rcode = reply[3] & 0xf;
  if (tree === undefined && (rcode !== 0 || reply[7] !== 1)) {
    throw new Error(`first answer rcode ${rcode}`);
  }
  const server = {
    child,
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
  return { server, ms, rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024, rcode };
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const deps = await new Deno.Command("bash", { args: [`${ROOT}tools/test_deps.sh`, "dnsperf"] })
    .output();
  if (!deps.success) throw new Error("cannot install dnsperf");

  console.error(`building fixtures: ${BIG} names (page file and signed page), ${SMALL} names…`);
  const big = await pageDir(BIG);
  const small = await pageDir(SMALL);
  const signed = await signedDirs(BIG);
  const files: Record<string, string> = {};
  const tmp = await Deno.makeTempDir({ prefix: "djdns-scale-q-" });
  const write = async (name: string, lines: string[]) => {
    files[name] = `${tmp}/${name}.txt`;
    await Deno.writeTextFile(files[name], lines.join("\n") + "\n");
  };
  await write("unknown", Array.from({ length: 100_000 }, (_, i) => `nx${i}.example A`));
  await write("known", Array.from({ length: 100_000 }, (_, i) => `${host((i * 7919) % BIG)} A`));
  await write("small", Array.from({ length: 1000 }, (_, i) => `${host(i % SMALL)} A`));

  const starts: Record<string, { ms: number[]; rss: number[]; hwm: number[] }> = {};
  const perf: Record<string, number[]> = {};
  const record = (k: string, r: { ms: number; rss: number; hwm: number }) => {
    starts[k] ??= { ms: [], rss: [], hwm: [] };
    starts[k].ms.push(r.ms);
    starts[k].rss.push(r.rss);
    starts[k].hwm.push(r.hwm);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const s = await spawn(["--pages", small], host(SMALL - 1));
    record("10-name page file", s);
    perf["10-name page, its names"] ??= [];
    perf["10-name page, its names"].push((await dnsperf(s.server.port, files.small, SECONDS)).qps);
    await s.server.stop();

    const b = await spawn(["--pages", big], host(BIG - 1));
    record(`${BIG}-name page file`, b);
    for (const [label, file] of [["unknown names", files.unknown], ["its names", files.known]]) {
      const r = await dnsperf(b.server.port, file, SECONDS);
      (perf[`${BIG}-name page, ${label}`] ??= []).push(r.qps);
      console.error(`round ${round}: ${label}: ${r.qps} qps, lost ${r.lost}, ${r.rcodes}`);
    }
    await b.server.stop();

    const g = await spawn(["--pages", signed.pages, "--data", signed.data], host(BIG - 1));
    record(`${BIG}-name signed page (data directory)`, g);
    await g.server.stop();

    // The same with another tree (the code before this work), for before/after in one run.
    const base = values.baseline;
    if (base !== undefined) {
      const rc = (
        r: { rcode: number },
      ) => (r.rcode === 0 ? "" : ` (first answer rcode ${r.rcode})`);
      const bb = await spawn(["--pages", big], host(BIG - 1), base);
      record(`baseline: ${BIG}-name page file${rc(bb)}`, bb);
      const r = await dnsperf(bb.server.port, files.unknown, SECONDS);
      (perf[`baseline: ${BIG}-name page, unknown names`] ??= []).push(r.qps);
      console.error(`round ${round}: baseline unknown names: ${r.qps} qps, ${r.rcodes}`);
      await bb.server.stop();
      const bg = await spawn(["--pages", signed.pages, "--data", signed.data], host(BIG - 1), base);
      record(`baseline: ${BIG}-name signed page${rc(bg)}`, bg);
      await bg.server.stop();
    }
  }

  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
  console.log(
    `\nMachine: nproc ${navigator.hardwareConcurrency}, ${cpu}, Deno ${Deno.version.deno}, ` +
      `${new Date().toISOString()}; ${ROUNDS} rounds, medians.\n`,
  );
  console.log("| start, page | to first answer | RSS then | peak RSS (VmHWM) |");
  console.log("| --- | --- | --- | --- |");
  for (const [k, v] of Object.entries(starts)) {
    const ms = median(v.ms);
    const time = ms === Infinity ? `> ${LIMIT_MS / 1000} s (no answer)` : `${ms.toFixed(0)} ms`;
    console.log(
      `| ${k} | ${time} | ${median(v.rss).toFixed(0)} MB | ${median(v.hwm).toFixed(0)} MB |`,
    );
  }
  console.log("\n| dnsperf -c 1 -q 100, " + SECONDS + " s | qps |");
  console.log("| --- | --- |");
  for (const [k, v] of Object.entries(perf)) console.log(`| ${k} | ${median(v).toFixed(0)} |`);

  for (const d of [big, small, signed.pages, signed.data, tmp]) {
    await Deno.remove(d, { recursive: true });
  }
}

if (import.meta.main) await main();
