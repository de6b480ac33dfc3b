/**
 * Run by tests/rrl_test.ts inside a private network namespace whose loopback device also holds
 * 198.18.0.1 (the server) and 198.19.0.2 (a client that is not loopback). Starts djdns with
 * `--rrl-rate 20 --rrl-slip 2`, sends bursts from both kinds of client, and prints the counts as
 * one line of JSON on stdout.
 *
 * @module
 */
import { fixtureRegistry, run, startDjdns } from "./djdns.ts";
import dgram from "node:dgram";
import { buildQuery, header } from "./raw_dns.ts";

const SERVER = "198.18.0.1";
const CLIENT = "198.19.0.2";

const dir = await fixtureRegistry();
const s = await startDjdns([
  "--pages",
  dir,
  "--no-upstream",
  "--listen",
  `${SERVER}:0`,
  "--listen",
  "127.0.0.1:0",
  "--rrl-rate",
  "20",
  "--rrl-slip",
  "2",
]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function burst(from: string, to: string, port: number, n: number) {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, from, () => r()));
  const replies: Uint8Array[] = [];
  sock.on("message", (m: Uint8Array) => replies.push(new Uint8Array(m)));
  for (let i = 0; i < n; i++) {
    sock.send(buildQuery({ id: i, name: "in.root.demo" }), port, to);
  }
  await sleep(1000);
  sock.close();
  const tc = replies.filter((r) => header(r).tc).length;
  return { replies: replies.length, full: replies.length - tc, truncated: tc };
}

try {
  await sleep(300);
  const loopPort = Number(/listening on "?127\.0\.0\.1:(\d+)/.exec(s.log())?.[1]);
  const outside = await burst(CLIENT, SERVER, s.port, 100);
  const loopback = await burst("127.0.0.1", "127.0.0.1", loopPort, 100);
  // Over the limit a real client still gets its answer: TC=1, then TCP (dig does so itself).
  await burst(CLIENT, SERVER, s.port, 60);
  const viaDig = await run("dig", [
    "-b",
    CLIENT,
    `@${SERVER}`,
    "-p",
    String(s.port),
    "+time=2",
    "+tries=1",
    "+short",
    "in.root.demo",
  ]);
  console.log(JSON.stringify({ outside, loopback, dig: viaDig.stdout.trim() }));
} finally {
  await s.stop("SIGKILL");
  await Deno.remove(dir, { recursive: true });
}
