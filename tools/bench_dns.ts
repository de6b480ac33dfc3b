/**
 * DNS benchmark: djdns against dnsmasq, both answering the same 500 names (A and AAAA) from
 * memory on 127.0.0.1, loaded by `dnsperf`. Runs are interleaved (djdns, dnsmasq, dnsmasq,
 * djdns, … alternating which goes first) for several rounds, and the figures that count are
 * the median ratios djdns/dnsmasq of queries per second and of server CPU time per answered
 * query (utime+stime of the server process from /proc/PID/stat), because the machine is shared
 * and absolute numbers drift.
 *
 * Run (as root it installs dnsperf and dnsmasq when missing):
 *
 *   npx -y deno@2.9.6 run --allow-all tools/bench_dns.ts [--rounds 3] [--seconds 5]
 *     [--variants 1x100,4x200] [--quick] [--baseline DIR] [--native] [--no-flood]
 *     [--flood-only]
 *
 * `--variants` lists dnsperf load shapes as CLIENTSxOUTSTANDING (`-c` and `-q`). `--quick` is
 * one round of 2 s with the first variant. The server is started exactly as the `djdns` task
 * of deno.json starts it: `djdns run --pages tools/bench/registry --listen 127.0.0.1:PORT
 * --no-upstream --log-level warning`. Fixtures: `tools/bench/` (see make_fixtures.ts).
 *
 * `--baseline DIR` also runs the djdns of another source tree (for instance
 * `git archive REV | tar -x -C DIR`) in the same interleaved rounds, as server "baseline", and
 * prints the median ratios djdns/baseline: the before/after figures of a change.
 *
 * `--native` also runs djdns with `--udp-native` (the `djdns-ffi` task: the same flags plus
 * `--allow-ffi`), as server "native"; with `--baseline DIR` too, the baseline tree runs with
 * `--udp-native` only, as "baseline-native". After the dnsperf rounds comes the flood case (see
 * `floodRounds`; `--no-flood` skips it, `--flood-only` runs only it): every server flooded with
 * one cached name at the rate dnsmasq sustains, while probes ask other names; the share of
 * probes not answered is the figure.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { djdnsTaskArgs } from "../tests/helpers/djdns.ts";
import { probeUdp } from "../tests/helpers/attack.ts";
import {
  freePort as freePortOn,
  output,
  type Server,
  spawn,
  stop,
  waitReady as waitReadyFor,
} from "./servers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BENCH = `${ROOT}tools/bench/`;
const REGISTRY = `${BENCH}registry`;
const HOSTS = `${BENCH}hosts`;
const QUERIES = `${BENCH}queries.txt`;
const HOST = "127.0.0.1";

const { values } = parseArgs({
  args: Deno.args,
  allowNegative: true,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    variants: { type: "string", default: "1x100,4x200" },
    quick: { type: "boolean", default: false },
    baseline: { type: "string" },
    native: { type: "boolean", default: false },
    flood: { type: "boolean", default: true },
    "flood-only": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: bench_dns.ts [--rounds N] [--seconds S] [--variants CxQ,CxQ…] [--quick] " +
      "[--baseline DIR] [--native] [--no-flood] [--flood-only]",
  );
  Deno.exit(0);
}
const rounds = values.quick ? 1 : bounded(values.rounds, "rounds", 1, 50);
const seconds = values.quick ? 2 : bounded(values.seconds, "seconds", 1, 120);
const variants = values.variants.split(",").slice(0, values.quick ? 1 : undefined).map((v) => {
  const m = /^(\d+)x(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`--variants: '${v}' is not CLIENTSxOUTSTANDING`);
  return { clients: bounded(m[1], "clients", 1, 64), outstanding: bounded(m[2], "q", 1, 10000) };
});

function bounded(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${what} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Header id 0x1234, RD, one question: host000.bench A IN. */
const READY_QUERY = Uint8Array.from(
  [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    .concat(...["host000", "bench"].map((t) => [t.length, ...new TextEncoder().encode(t)]))
    .concat([0, 0, 1, 0, 1]),
);
const waitReady = (s: Server) => waitReadyFor(s, HOST, READY_QUERY);

async function startDjdns(port: number, tree?: string, native = false): Promise<Server> {
  const task = await djdnsTaskArgs(native ? "djdns-ffi" : "djdns");
  const args = [
    ...(tree ? task.map((a) => a.endsWith("/main.ts") ? `${tree}/main.ts` : a) : task),
    "run",
    "--pages",
    REGISTRY,
    "--listen",
    `${HOST}:${port}`,
    "--no-upstream",
    "--log-level",
    "warning",
    ...(native ? ["--udp-native"] : []),
  ];
  const name = (tree ? "baseline" : native ? "native" : "djdns") +
    (tree && native ? "-native" : "");
  const s = spawn(name, Deno.execPath(), args, port);
  await waitReady(s);
  return s;
}

async function startDnsmasq(port: number): Promise<Server> {
  const root = Deno.uid() === 0;
  const args = [
    "--keep-in-foreground",
    "--conf-file=/dev/null", // no system configuration
    "--pid-file=", // no pid file
    "--no-resolv",
    "--no-hosts",
    `--addn-hosts=${HOSTS}`,
    `--port=${port}`,
    `--listen-address=${HOST}`,
    "--bind-interfaces",
    "--cache-size=10000",
    "--local-ttl=3600",
    ...(root ? ["--user=root", "--group=root"] : []),
  ];
  const s = spawn("dnsmasq", "dnsmasq", args, port);
  await waitReady(s);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Measuring

const CLK_TCK = Number((await output("getconf", ["CLK_TCK"])).stdout.trim()) || 100;

/** CPU seconds (user + system) the process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15: utime, stime
}

interface Run {
  server: string;
  round: number;
  clients: number;
  outstanding: number;
  qps: number;
  completed: number;
  lost: number;
  noerror: number;
  latencyMs: number;
  /** Server CPU microseconds per answered query. */
  cpuUs: number;
}

async function dnsperf(
  s: Server,
  v: { clients: number; outstanding: number },
  secs: number,
  round: number,
  load: { file?: string; rate?: number } = {},
): Promise<Run> {
  const before = await cpuSeconds(s.pid);
  const out = await output("dnsperf", [
    ...(load.rate ? ["-Q", String(load.rate)] : []),
    "-s",
    HOST,
    "-p",
    String(s.port),
    "-d",
    load.file ?? QUERIES,
    "-c",
    String(v.clients),
    "-q",
    String(v.outstanding),
    "-l",
    String(secs),
    "-t",
    load.rate ? "1" : "2",
  ], (secs + 30) * 1000);
  const after = await cpuSeconds(s.pid);
  if (out.code !== 0) throw new Error(`dnsperf failed (${out.code}):\n${out.stderr}${out.stdout}`);
  const num = (re: RegExp) => {
    const m = re.exec(out.stdout);
    if (!m) throw new Error(`dnsperf output lacks ${re}:\n${out.stdout}`);
    return Number(m[1]);
  };
  const completed = num(/Queries completed:\s+(\d+)/);
  const noerror = /NOERROR (\d+)/.exec(out.stdout);
  return {
    server: s.name,
    round,
    ...v,
    qps: num(/Queries per second:\s+([\d.]+)/),
    completed,
    lost: num(/Queries lost:\s+(\d+)/),
    noerror: noerror ? Number(noerror[1]) : 0,
    latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    cpuUs: completed > 0 ? ((after - before) / completed) * 1e6 : NaN,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Main

const deps = await output("bash", [`${ROOT}tools/test_deps.sh`, "dnsperf", "dnsmasq"], 600_000);
if (deps.code !== 0) throw new Error(`cannot install dnsperf/dnsmasq:\n${deps.stderr}`);

const cpuModel = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ??
  "unknown";
const nproc = (await output("nproc", [])).stdout.trim();
const perfHelp = await output("dnsperf", ["-h"]);
const dnsperfVersion = /Version ([\d.]+)/.exec(perfHelp.stdout + perfHelp.stderr)?.[1];
const dnsmasqVersion = /version ([\d.]+)/.exec((await output("dnsmasq", ["--version"])).stdout)
  ?.[1];
console.log(
  `machine: nproc ${nproc}, CPU "${cpuModel}"; Deno ${Deno.version.deno}; ` +
    `dnsperf ${dnsperfVersion}; dnsmasq ${dnsmasqVersion}; ${new Date().toISOString()}`,
);
console.log(
  `${rounds} round(s) x ${seconds} s, variants ${
    variants.map((v) => `-c ${v.clients} -q ${v.outstanding}`).join(", ")
  }; queries: ${QUERIES.slice(ROOT.length)}`,
);

const servers: Server[] = [];
const runs: Run[] = [];
const floods: {
  server: string;
  round: number;
  rate: number;
  qps: number;
  cpuUs: number;
  probes: number;
  lost: number;
}[] = [];
try {
  const ports: number[] = [];
  const port = async () => {
    ports.push(await freePortOn(HOST, ports));
    return ports[ports.length - 1];
  };
  servers.push(await startDjdns(await port()));
  servers.push(await startDnsmasq(await port()));
  // With --native, the baseline tree runs only with --udp-native ("baseline-native").
  if (values.baseline && !values.native) {
    servers.push(await startDjdns(await port(), Deno.realPathSync(values.baseline)));
  }
  if (values.native) servers.push(await startDjdns(await port(), undefined, true));
  if (values.native && values.baseline) {
    servers.push(await startDjdns(await port(), Deno.realPathSync(values.baseline), true));
  }
  // Warm-up (fills djdns's answer cache and lets V8 compile the request path); not measured.
  for (const s of servers) await dnsperf(s, variants[0], 2, 0);
  for (let round = 1; round <= (values["flood-only"] ? 0 : rounds); round++) {
    for (const v of variants) {
      // Rotate which server goes first so drift in the machine's load favours none.
      const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]);
      if (round % 2 === 0) order.reverse();
      for (const s of order) {
        const r = await dnsperf(s, v, seconds, round);
        runs.push(r);
        console.log(
          `round ${round} -c ${v.clients} -q ${v.outstanding} ${s.name.padEnd(8)} ` +
            `${r.qps.toFixed(0).padStart(7)} qps  lost ${r.lost}  ` +
            `${r.cpuUs.toFixed(2)} µs CPU/query  latency ${r.latencyMs.toFixed(3)} ms  ` +
            `NOERROR ${r.noerror}/${r.completed}`,
        );
        if (r.noerror !== r.completed) {
          throw new Error(`${s.name} answered ${r.completed - r.noerror} queries with an error`);
        }
      }
    }
  }
  if (values.flood) await floodRounds();
} finally {
  for (const s of servers) await stop(s);
}

/**
 * The flood case: every server is flooded with one cached name (`host000.bench A`) at the rate
 * dnsmasq sustains for it (its `-c 1 -q 100` rate on that name, measured first in this run, or
 * what it answers of an open-loop flood at that rate when that is less than 95 %), by
 * dnsperf with up to 60,000 queries outstanding and a 1 s timeout, so it keeps sending at that
 * rate whether or not replies come (an open-loop flood); meanwhile a probe asks
 * another cached name every 10 ms (1 s deadline, each on its own id), and the probes that got
 * no NOERROR answer count as lost.
 */
async function floodRounds(): Promise<void> {
  const file = await Deno.makeTempFile({ prefix: "bench-flood-", suffix: ".txt" });
  await Deno.writeTextFile(file, "host000.bench A\n");
  try {
    const dnsmasq = servers.find((s) => s.name === "dnsmasq")!;
    const sustained = await dnsperf(dnsmasq, variants[0], seconds, 0, { file });
    let rate = Math.round(sustained.qps / 1000) * 1000;
    // Sent open-loop (the load generator's own cost included), dnsmasq may answer less than it
    // does closed-loop on this shared machine: then the rate it answers open-loop is the one it
    // sustains.
    const open = await dnsperf(dnsmasq, { clients: 1, outstanding: 60_000 }, seconds, 0, {
      file,
      rate,
    });
    if (open.qps < 0.95 * rate) rate = Math.round(open.qps / 1000) * 1000;
    console.log(
      `\nflood: one cached name at ${fmt(rate)} queries/s (dnsmasq answered ` +
        `${fmt(sustained.qps)}/s closed-loop, ${fmt(open.qps)}/s of an open-loop flood at ` +
        `that rate), probes every 10 ms`,
    );
    for (let round = 1; round <= rounds; round++) {
      const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]);
      if (round % 2 === 0) order.reverse();
      for (const s of order) {
        const stopProbes = new AbortController();
        const probes = probeUdp({
          port: s.port,
          make: (i) => ({ name: `host${String(1 + (i % 499)).padStart(3, "0")}.bench` }),
          everyMs: 10,
          timeoutMs: 1000,
          signal: stopProbes.signal,
          check: (reply) => (reply[3] & 0x0f) === 0,
        });
        let r: Run;
        try {
          r = await dnsperf(s, { clients: 1, outstanding: 60_000 }, seconds, round, { file, rate });
        } finally {
          stopProbes.abort();
        }
        const p = await probes;
        const lost = p.sent - p.answered;
        floods.push({
          server: s.name,
          round,
          rate,
          qps: r.qps,
          cpuUs: r.cpuUs,
          probes: p.sent,
          lost,
        });
        console.log(
          `flood round ${round} ${s.name.padEnd(8)} answered ${r.qps.toFixed(0).padStart(7)}/s ` +
            `${r.cpuUs.toFixed(2)} µs CPU/query  probes lost ${lost}/${p.sent} ` +
            `(${((100 * lost) / p.sent).toFixed(1)} %)  probe median ${
              (p.latencies[p.latencies.length >> 1] ?? NaN).toFixed(2)
            } ms`,
        );
      }
    }
  } finally {
    await Deno.remove(file);
  }
}

const compared = [
  ["djdns", "dnsmasq"],
  ...servers.filter((s) => s.name !== "djdns" && s.name !== "dnsmasq").flatMap((s) => [
    [s.name, "dnsmasq"],
    [s.name, "djdns"],
  ]),
  ...(servers.some((s) => s.name === "baseline-native") ? [["native", "baseline-native"]] : []),
];
for (const [a, b] of compared) {
  console.log(
    `\n| dnsperf | ${a} qps | ${b} qps | qps ratio | ${a} CPU/q | ${b} CPU/q | CPU ratio | lost |`,
  );
  console.log("| --- | --: | --: | --: | --: | --: | --: | --: |");
  for (const v of variants) {
    const pick = (name: string) =>
      runs.filter((r) =>
        r.server === name && r.clients === v.clients && r.outstanding === v.outstanding
      );
    const x = pick(a);
    const y = pick(b);
    // Ratios pair the runs of the same round, then take the median over rounds.
    const qpsRatio = median(x.map((r, i) => r.qps / y[i].qps));
    const cpuRatio = median(x.map((r, i) => r.cpuUs / y[i].cpuUs));
    const lost = (rs: Run[]) => rs.reduce((n, r) => n + r.lost, 0);
    console.log(
      `| \`-c ${v.clients} -q ${v.outstanding}\` | ${fmt(median(x.map((r) => r.qps)))} | ${
        fmt(median(y.map((r) => r.qps)))
      } | **${qpsRatio.toFixed(2)}×** | ${median(x.map((r) => r.cpuUs)).toFixed(2)} µs | ${
        median(y.map((r) => r.cpuUs)).toFixed(2)
      } µs | **${cpuRatio.toFixed(2)}×** | ${lost(x)} / ${lost(y)} |`,
    );
  }
}
if (floods.length) {
  console.log(
    `\n| flood at ${fmt(floods[0].rate)}/s | answered/s (median) | CPU/answer | probes lost ` +
      "(all rounds) | worst round |",
  );
  console.log("| --- | --: | --: | --: | --: |");
  for (const s of servers) {
    const f = floods.filter((x) => x.server === s.name);
    const sent = f.reduce((n, x) => n + x.probes, 0);
    const lost = f.reduce((n, x) => n + x.lost, 0);
    const worst = Math.max(...f.map((x) => x.lost / x.probes));
    console.log(
      `| ${s.name} | ${fmt(median(f.map((x) => x.qps)))} | ${
        median(f.map((x) => x.cpuUs)).toFixed(2)
      } µs | **${lost}/${sent} = ${((100 * lost) / sent).toFixed(1)} %** | ${
        (100 * worst).toFixed(1)
      } % |`,
    );
  }
}
console.log(
  "\nqps ratio = median over rounds of the per-round qps ratio (higher is better); CPU ratio = " +
    "the same for server CPU time per answered query (lower is better); lost = dnsperf's lost " +
    "queries summed over rounds.",
);

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
