/**
 * Honest forwarding under normal load: dnsperf asks distinct forwarded names through djdns
 * (answer cache off, so every query goes upstream) to a fast local upstream (dnsmasq answering
 * every name itself with `--address=/#/…`), beside dnsmasq forwarding to the same upstream as
 * the same-run reference. Rounds are interleaved; the figures are dnsperf's queries per second,
 * lost queries and SERVFAIL answers (a query the forwarder's in-flight bound turned away shows
 * as SERVFAIL). Loopback only, bounded in time.
 *
 *   deno run --allow-all tools/bench_forward.ts [--seconds 5] [--rounds 2] [--load 4x200]
 *     [--baseline DIR]
 *
 * `--load` is dnsperf's CLIENTSxOUTSTANDING (`-c`, `-q`). `--baseline DIR` also runs the djdns
 * of another source tree (`git archive REV | tar -x -C DIR`) as "baseline".
 *
 * @module
 */
import { parseArgs } from "node:util";
import { djdnsTaskArgs } from "../tests/helpers/djdns.ts";
import { buildQuery } from "../tests/helpers/raw_dns.ts";
import { freePort, output, type Server, sleep, spawn, stop, waitReady } from "./servers.ts";

const HOST = "127.0.0.1";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "2" },
    load: { type: "string", default: "4x200" },
    baseline: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const [clients, outstanding] = values.load.split("x").map(Number);
if (
  !(seconds >= 1 && seconds <= 60 && rounds >= 1 && rounds <= 10 && clients >= 1 &&
    outstanding >= 1)
) {
  throw new Error("bad --seconds, --rounds or --load");
}

const deps = await output("bash", [
  new URL("test_deps.sh", import.meta.url).pathname,
  "dnsperf",
  "dnsmasq",
], 600_000);
if (deps.code !== 0) throw new Error(`cannot install dnsperf/dnsmasq:\n${deps.stderr}`);

const READY = buildQuery({ id: 0x4242, name: "ready.example.net" });

function dnsmasq(name: string, port: number, extra: string[]): Server {
  return spawn(name, "dnsmasq", [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--pid-file=",
    "--no-resolv",
    "--no-hosts",
    `--port=${port}`,
    `--listen-address=${HOST}`,
    "--bind-interfaces",
    ...(Deno.uid() === 0 ? ["--user=root", "--group=root"] : []),
    ...extra,
  ], port);
}

async function djdns(name: string, tree: string | undefined, up: number, pages: string) {
  const port = await freePort(HOST);
  const task = await djdnsTaskArgs();
  return spawn(name, Deno.execPath(), [
    ...(tree ? task.map((a) => a.endsWith("/main.ts") ? `${tree}/main.ts` : a) : task),
    "run",
    "--pages",
    pages,
    "--listen",
    `${HOST}:${port}`,
    "--upstream",
    `${HOST}:${up}`,
    "--cache-entries",
    "0",
    "--log-level",
    "error",
  ], port);
}

const file = await Deno.makeTempFile({ prefix: "bench-forward-", suffix: ".txt" });
const tag = Math.random().toString(36).slice(2, 8);
await Deno.writeTextFile(
  file,
  Array.from({ length: 50_000 }, (_, i) => `n${i}-${tag}.example.net A\n`).join(""),
);
const pages = new URL("bench/registry", import.meta.url).pathname;

const upPort = await freePort(HOST);
const upstream = dnsmasq("upstream", upPort, ["--address=/#/192.0.2.1", "--cache-size=0"]);
const servers: Server[] = [];
try {
  await waitReady(upstream, HOST, READY);
  const refPort = await freePort(HOST, [upPort]);
  servers.push(dnsmasq("dnsmasq", refPort, [`--server=${HOST}#${upPort}`, "--cache-size=0"]));
  servers.push(await djdns("djdns", undefined, upPort, pages));
  if (values.baseline) servers.push(await djdns("baseline", values.baseline, upPort, pages));
  for (const s of servers) await waitReady(s, HOST, READY);
  const rows: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...servers].reverse() : servers;
    for (const s of order) {
      const out = await output("dnsperf", [
        "-s",
        HOST,
        "-p",
        String(s.port),
        "-d",
        file,
        "-c",
        String(clients),
        "-q",
        String(outstanding),
        "-l",
        String(seconds),
        "-t",
        "2",
      ], (seconds + 30) * 1000);
      const qps = /Queries per second:\s+([\d.]+)/.exec(out.stdout)?.[1];
      const lost = /Queries lost:\s+(\d+)/.exec(out.stdout)?.[1];
      const completed = /Queries completed:\s+(\d+)/.exec(out.stdout)?.[1];
      const servfail = /SERVFAIL (\d+)/.exec(out.stdout)?.[1] ?? "0";
      const row = `| ${r + 1} | ${s.name} | ${qps} | ${completed} | ${lost} | ${servfail} |`;
      rows.push(row);
      console.log(row);
      await sleep(500);
    }
  }
  console.log(
    `\n# ${new Date().toISOString()}; dnsperf -c ${clients} -q ${outstanding} -l ${seconds}\n` +
      "| round | server | qps | completed | lost | SERVFAIL |\n|---|---|---|---|---|---|\n" +
      rows.join("\n"),
  );
} finally {
  for (const s of servers) await stop(s);
  await stop(upstream);
  await Deno.remove(file);
}
