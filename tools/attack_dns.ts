/**
 * DNS under attack: djdns beside Unbound and dnsmasq, in the same run, each on 127.0.0.1 with
 * an equivalent configuration: names under `demo.` answered from the server's own data
 * (djdns: the fixture registry; Unbound: a static local zone; dnsmasq: `--local`/`--address`),
 * everything else forwarded to one upstream that swallows every query
 * (tests/helpers/upstream_server.ts, `dropAll`). Each server meets, in turn:
 *
 * 1. `flood`: one forwarded name at `--rate` datagrams/s for `--seconds` (issue 11 item 1);
 * 2. `random`: a new forwarded name every 50 ms, same rate and time;
 * 2b. `unique`: a new forwarded name in every datagram (random-subdomain flood);
 * 3. `tcp`: 100 TCP connections pipelining 20,000 queries each and never reading, closed after
 *    3 s (item 2);
 * 4. `slowloris`: 150 one-byte TCP connections, then one real TCP query (item 3).
 *
 * Meanwhile a probe sends a fresh local name (`probeN.demo`, NXDOMAIN from local data) every
 * 50 ms with a 1.5 s deadline. Reported: probes answered, their median latency, peak RSS of the
 * server process and RSS after the attack, server CPU seconds in the 1 s starting 2 s after the
 * attack (idle means ~0), and for slowloris the time of the TCP answer. Everything is bounded
 * in count and time and aimed at loopback only.
 *
 * Run (as root it installs unbound and dnsmasq when missing):
 *
 *   deno run --allow-all tools/attack_dns.ts [--rate 40000] [--seconds 5]
 *     [--servers djdns,unbound,dnsmasq] [--baseline DIR]
 *
 * `--baseline DIR` also attacks the djdns of another source tree (for instance
 * `git archive REV | tar -x -C DIR`), as server "baseline": the before/after of a change.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { djdnsTaskArgs, fixtureRegistry } from "../tests/helpers/djdns.ts";
import { startUpstream } from "../tests/helpers/upstream_server.ts";
import {
  cpuSeconds,
  floodUdp,
  type ProbeResult,
  probeUdp,
  rssKb,
  sampleRss,
  slowloris,
  tcpNoRead,
} from "../tests/helpers/attack.ts";
import { buildQuery, TcpClient } from "../tests/helpers/raw_dns.ts";
import { freePort, output, type Server, sleep, spawn, stop, waitReady } from "./servers.ts";

const HOST = "127.0.0.1";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "40000" },
    seconds: { type: "string", default: "5" },
    servers: { type: "string", default: "djdns,unbound,dnsmasq" },
    attacks: { type: "string", default: "flood,random,unique,tcp,slowloris" },
    baseline: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: attack_dns.ts [--rate N] [--seconds S] [--servers djdns,unbound,dnsmasq,baseline] " +
      "[--attacks flood,random,unique,tcp,slowloris] [--baseline DIR]",
  );
  Deno.exit(0);
}
function bounded(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${what} must be a whole number from ${min} to ${max}`);
  }
  return n;
}
const rate = bounded(values.rate, "rate", 1000, 100_000);
const seconds = bounded(values.seconds, "seconds", 1, 30);
const serverNames = values.servers.split(",").map((s) => s.trim());
if (values.baseline && !serverNames.includes("baseline")) serverNames.push("baseline");
const attacks = values.attacks.split(",").map((s) => s.trim());

const READY_QUERY = buildQuery({ id: 0x4242, name: "in.root.demo" });

async function startServer(name: string, upstreamPort: number, dir: string): Promise<Server> {
  const port = await freePort(HOST);
  let s: Server;
  if (name === "djdns" || name === "baseline") {
    const task = await djdnsTaskArgs();
    const tree = name === "baseline" ? values.baseline! : undefined;
    s = spawn(name, Deno.execPath(), [
      ...(tree ? task.map((a) => a.endsWith("/main.ts") ? `${tree}/main.ts` : a) : task),
      "run",
      "--pages",
      dir,
      "--listen",
      `${HOST}:${port}`,
      "--upstream",
      `${HOST}:${upstreamPort}`,
      "--log-level",
      "error",
    ], port);
  } else if (name === "unbound") {
    const conf = await Deno.makeTempFile({ prefix: "attack-unbound-", suffix: ".conf" });
    await Deno.writeTextFile(
      conf,
      `server:
  interface: ${HOST}
  port: ${port}
  do-daemonize: no
  username: ""
  chroot: ""
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-ip6: no
  so-reuseport: no
  module-config: "iterator"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  local-zone: "demo." static
  local-data: "in.root.demo. 1800 IN A 1.2.3.4"
forward-zone:
  name: "."
  forward-addr: ${HOST}@${upstreamPort}
`,
    );
    s = spawn(name, "unbound", ["-d", "-c", conf], port);
  } else if (name === "dnsmasq") {
    s = spawn(name, "dnsmasq", [
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--pid-file=",
      "--no-resolv",
      "--no-hosts",
      `--server=${HOST}#${upstreamPort}`,
      `--port=${port}`,
      `--listen-address=${HOST}`,
      "--bind-interfaces",
      "--cache-size=10000",
      "--local=/demo/",
      "--address=/in.root.demo/1.2.3.4",
      ...(Deno.uid() === 0 ? ["--user=root", "--group=root"] : []),
    ], port);
  } else throw new Error(`unknown server ${name}`);
  await waitReady(s, HOST, READY_QUERY);
  return s;
}

interface Figures {
  server: string;
  attack: string;
  /** What the attack sent (datagrams, or queries written over TCP, or connections). */
  sent: number;
  probes: string;
  probeMedianMs: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /** CPU seconds used in the 1 s starting 2 s after the attack ended. */
  cpuAfter: number;
  /** Slowloris: ms until a real TCP query was answered (-1: not within 2 s). */
  tcpAnswerMs?: number;
}

const mb = (kb: number) => Math.round(kb / 1024);

async function attack(s: Server, kind: string): Promise<Figures> {
  const before = rssKb(s.pid);
  const rss = sampleRss(s.pid, 50);
  const stopProbes = new AbortController();
  const probes: Promise<ProbeResult> = probeUdp({
    port: s.port,
    make: (i) => ({ name: `probe${i}-${kind}.demo` }),
    everyMs: 50,
    timeoutMs: 1500,
    signal: stopProbes.signal,
    check: (r) => (r[3] & 0xf) === 3,
  });
  let sent = 0;
  let tcpAnswerMs: number | undefined;
  if (kind === "flood") {
    sent = await floodUdp({
      port: s.port,
      spec: { name: "flood.example.net" },
      durationMs: seconds * 1000,
      maxPackets: rate * seconds,
      rate,
    });
  } else if (kind === "random") {
    // floodUdp repeats one name; vary it batch by batch so each batch asks fresh names.
    const end = Date.now() + seconds * 1000;
    for (let b = 0; Date.now() < end; b++) {
      sent += await floodUdp({
        port: s.port,
        spec: { name: `r${b}-${Math.random().toString(36).slice(2, 8)}.example.net` },
        durationMs: 50,
        maxPackets: Math.ceil(rate / 20),
        rate,
        batch: 50,
      });
    }
  } else if (kind === "unique") {
    const tag = Math.random().toString(36).slice(2, 8);
    sent = await floodUdp({
      port: s.port,
      spec: { name: "x.example.net" },
      make: (i) => ({ name: `u${i}-${tag}.example.net` }),
      durationMs: seconds * 1000,
      maxPackets: rate * seconds,
      rate,
    });
  } else if (kind === "tcp") {
    sent = await tcpNoRead({
      port: s.port,
      spec: { name: "in.root.demo" },
      connections: 100,
      queriesPerConnection: 20_000,
      holdMs: 3000,
    });
  } else if (kind === "slowloris") {
    const a = await slowloris({ port: s.port, count: 150 });
    sent = a.open();
    const t0 = performance.now();
    let c: TcpClient | undefined;
    try {
      c = await Promise.race([
        TcpClient.connect(s.port),
        sleep(2000).then(() => {
          throw new Error("connect timed out");
        }),
      ]);
      const reply = await c.exchange(buildQuery({ id: 77, name: "in.root.demo" }), 2000);
      tcpAnswerMs = reply ? Math.round(performance.now() - t0) : -1;
    } catch {
      tcpAnswerMs = -1;
    } finally {
      await c?.close();
    }
    await sleep(1000);
    a.close();
  }
  await sleep(2000);
  const cpu0 = cpuSeconds(s.pid);
  await sleep(1000);
  const cpuAfter = cpuSeconds(s.pid) - cpu0;
  stopProbes.abort();
  const p = await probes;
  const peak = rss.stop();
  return {
    server: s.name,
    attack: kind,
    sent,
    probes: `${p.answered}/${p.sent}`,
    probeMedianMs: Math.round((p.latencies[p.latencies.length >> 1] ?? NaN) * 10) / 10,
    rssBeforeMb: mb(before),
    rssPeakMb: mb(peak),
    rssAfterMb: mb(rssKb(s.pid)),
    cpuAfter: Math.round(cpuAfter * 100) / 100,
    tcpAnswerMs,
  };
}

const deps = await output("bash", [
  new URL("test_deps.sh", import.meta.url).pathname,
  "dnsmasq",
  "unbound",
], 600_000);
if (deps.code !== 0) throw new Error(`cannot install unbound/dnsmasq:\n${deps.stderr}`);
const versions = {
  unbound: /Version ([\d.]+)/.exec((await output("unbound", ["-V"])).stdout)?.[1],
  dnsmasq: /version ([\d.]+)/.exec((await output("dnsmasq", ["--version"])).stdout)?.[1],
};
const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
console.log(
  `# ${new Date().toISOString()}; ${navigator.hardwareConcurrency} cores, ${cpu}; ` +
    `deno ${Deno.version.deno}; unbound ${versions.unbound}; dnsmasq ${versions.dnsmasq}; ` +
    `rate ${rate}/s for ${seconds} s`,
);

const upstream = await startUpstream({ dropAll: true });
const dir = await fixtureRegistry(upstream.port);
const results: Figures[] = [];
try {
  // Each attack on a fresh server, so one attack's leftovers do not count against the next.
  for (const kind of attacks) {
    for (const name of serverNames) {
      const s = await startServer(name, upstream.port, dir);
      try {
        await sleep(500);
        const f = await attack(s, kind);
        results.push(f);
        console.log(JSON.stringify(f));
      } finally {
        await stop(s);
      }
    }
  }
} finally {
  await upstream.close();
  await Deno.remove(dir, { recursive: true });
}

console.log(
  "\n| attack | server | sent | local probes answered | median ms | RSS before → peak → after " +
    "(MB) | CPU s in 1 s after | TCP answer ms |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const f of results) {
  console.log(
    `| ${f.attack} | ${f.server} | ${f.sent} | ${f.probes} | ${f.probeMedianMs} | ${f.rssBeforeMb} → ${f.rssPeakMb} → ${f.rssAfterMb} | ${f.cpuAfter} | ${
      f.tcpAnswerMs ?? ""
    } |`,
  );
}
