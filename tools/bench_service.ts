/**
 * The service figures of issue 12, djdns beside dnsmasq and Unbound measured the same way in the
 * same run (interleaved rounds): the time from spawning the server to its first answer, its RSS
 * when idle, and its RSS after a load — each with one name held and with 100,000 names held
 * (djdns: a signed page of 100,000 names in its data directory, as a node stores it; dnsmasq: an
 * `addn-hosts` file; Unbound: `local-data`).
 *
 * Run: `npx -y deno@2.9.6 run --allow-all tools/bench_service.ts [--rounds 3] [--seconds 5]`
 * (needs dnsmasq, unbound and dnsperf: `bash tools/test_deps.sh dnsperf dnsmasq unbound`).
 * Prints a Markdown table for BENCHMARKS.md.
 *
 * @module
 */
import { parseArgs } from "node:util";
import dgram from "node:dgram";
import { djdnsTaskArgs } from "../tests/helpers/djdns.ts";
import { host, ip, signedDirs } from "./bench/scale_fixtures.ts";
import { dnsperf, freePort, query } from "./bench/server_args.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    names: { type: "string", default: "100000" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const N = Number(values.names);

function memory(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

interface Started {
  child: Deno.ChildProcess;
  port: number;
  /** Spawn to first NOERROR answer with one record. */
  ms: number;
}

// Spawns `cmd`, then asks for `name` every 5 ms until an answer with one record comes back.
async function start(cmd: string, args: string[], port: number, name: string): Promise<Started> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  const answered = new Promise<Uint8Array>((r) => sock.on("message", (m) => r(m)));
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
    .spawn();
  const q = query(name, 0x4242);
  let reply: Uint8Array | null = null;
  while (reply === null) {
    sock.send(q, port, "127.0.0.1");
    reply = await Promise.race([answered, new Promise<null>((r) => setTimeout(() => r(null), 5))]);
    if (performance.now() - t0 > 60_000) throw new Error(`${cmd}: no answer within 60 s`);
  }
  const ms = performance.now() - t0;
  sock.close();
  if ((reply[3] & 0xf) !== 0 || reply[7] !== 1) {
    throw new Error(`${cmd}: first answer has rcode ${reply[3] & 0xf}, ${reply[7]} answers`);
  }
  return { child, port, ms };
}

async function stop(s: Started) {
  s.child.kill("SIGTERM");
  await s.child.status;
}

type Server = "djdns" | "dnsmasq" | "unbound";
type Size = "1 name" | `${number} names`;

async function launch(server: Server, big: boolean, fx: Fixtures): Promise<Started> {
  const port = freePort();
  const name = big ? host(N - 1) : host(0);
  switch (server) {
    case "djdns":
      return start(
        Deno.execPath(),
        [
          ...await djdnsTaskArgs(),
          "run",
          "--listen",
          `127.0.0.1:${port}`,
          "--no-upstream",
          "--log-level",
          "error",
          "--pages",
          big ? fx.signed.pages : fx.small.pages,
          "--data",
          big ? fx.signed.data : fx.small.data,
        ],
        port,
        name,
      );
    case "dnsmasq":
      return start(
        "dnsmasq",
        [
          "-k",
          "-C",
          "/dev/null",
          "--no-resolv",
          "--no-hosts",
          "--bind-interfaces",
          "--listen-address=127.0.0.1",
          `--port=${port}`,
          "--cache-size=10000",
          `--addn-hosts=${big ? fx.hostsBig : fx.hostsSmall}`,
          "--pid-file=",
          "--user=root",
        ],
        port,
        name,
      );
    case "unbound": {
      const conf = `${fx.dir}/unbound-${port}.conf`;
      await Deno.writeTextFile(
        conf,
        `server:\n  interface: 127.0.0.1\n  port: ${port}\n  do-daemonize: no\n  use-syslog: no\n` +
          `  chroot: ""\n  username: ""\n  pidfile: ""\n  directory: "${fx.dir}"\n  num-threads: 1\n` +
          `  access-control: 127.0.0.0/8 allow\n  do-ip6: no\n  verbosity: 0\n` +
          `  include: "${big ? fx.unboundBig : fx.unboundSmall}"\n`,
      );
      return start("unbound", ["-d", "-c", conf], port, name);
    }
  }
}

interface Fixtures {
  dir: string;
  small: { pages: string; data: string };
  signed: { pages: string; data: string };
  hostsSmall: string;
  hostsBig: string;
  unboundSmall: string;
  unboundBig: string;
  queries: string;
}

async function fixtures(): Promise<Fixtures> {
  const dir = await Deno.makeTempDir({ prefix: "djdns-bench-service-" });
  console.error(`building fixtures: a signed page of ${N} names, hosts and local-data files…`);
  const small = await signedDirs(1);
  const signed = await signedDirs(N);
  const hosts = (n: number) =>
    Array.from({ length: n }, (_, i) => `${ip(i)} ${host(i)}`).join("\n");
  const local = (n: number) =>
    `  local-zone: "example." static\n` +
    Array.from({ length: n }, (_, i) => `  local-data: "${host(i)}. 3600 IN A ${ip(i)}"`).join(
      "\n",
    );
  await Deno.writeTextFile(`${dir}/hosts-small`, hosts(1) + "\n");
  await Deno.writeTextFile(`${dir}/hosts-big`, hosts(N) + "\n");
  await Deno.writeTextFile(`${dir}/local-small.conf`, `server:\n${local(1)}\n`);
  await Deno.writeTextFile(`${dir}/local-big.conf`, `server:\n${local(N)}\n`);
  await Deno.writeTextFile(
    `${dir}/queries`,
    Array.from({ length: 100_000 }, (_, i) => `${host((i * 7919) % N)} A`).join("\n") + "\n",
  );
  return {
    dir,
    small,
    signed,
    hostsSmall: `${dir}/hosts-small`,
    hostsBig: `${dir}/hosts-big`,
    unboundSmall: `${dir}/local-small.conf`,
    unboundBig: `${dir}/local-big.conf`,
    queries: `${dir}/queries`,
  };
}

interface Sample {
  startMs: number;
  idleMb: number;
  loadMb: number;
  qps: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const fx = await fixtures();
  const results = new Map<string, Sample[]>();
  const servers: Server[] = ["djdns", "dnsmasq", "unbound"];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const big of [false, true]) {
        for (const server of servers) {
          const s = await launch(server, big, fx);
          try {
            await new Promise((r) => setTimeout(r, 2000)); // settle, then idle RSS
            const idle = memory(s.child.pid).rss;
            const qps = big ? (await dnsperf(s.port, fx.queries, SECONDS)).qps : 0;
            const load = memory(s.child.pid).hwm;
            const key = `${server}|${big ? `${N} names` : "1 name"}`;
            const list = results.get(key) ?? [];
            list.push({ startMs: s.ms, idleMb: idle, loadMb: load, qps });
            results.set(key, list);
            console.error(
              `round ${round + 1}: ${key}: start ${s.ms.toFixed(0)} ms, idle ${
                idle.toFixed(1)
              } MB` +
                (big ? `, peak under load ${load.toFixed(1)} MB, ${qps.toFixed(0)} qps` : ""),
            );
          } finally {
            await stop(s);
          }
        }
      }
    }
  } finally {
    await Deno.remove(fx.dir, { recursive: true });
    for (const d of [fx.small.pages, fx.small.data, fx.signed.pages, fx.signed.data]) {
      await Deno.remove(d, { recursive: true });
    }
  }
  const rows = [
    "| server | names held | start to first answer | RSS idle | peak RSS after load | qps under load |",
    "|---|---|---|---|---|---|",
  ];
  for (const [key, samples] of results) {
    const [server, size] = key.split("|") as [Server, Size];
    const m = (f: (s: Sample) => number) => median(samples.map(f));
    rows.push(
      `| ${server} | ${size} | ${m((s) => s.startMs).toFixed(0)} ms | ${
        m((s) => s.idleMb).toFixed(1)
      } MB | ` +
        (size === "1 name"
          ? "– | – |"
          : `${m((s) => s.loadMb).toFixed(1)} MB | ${m((s) => s.qps).toFixed(0)} |`),
    );
  }
  console.log(rows.join("\n"));
  console.log(
    `\n(medians of ${ROUNDS} interleaved rounds; load: dnsperf -c 1 -q 100 for ${SECONDS} s over ${N} held names)`,
  );
}

if (import.meta.main) await main();
