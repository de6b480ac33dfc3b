/**
 * Run by tests/dns_fast_test.ts inside a private network namespace whose loopback device also
 * holds 198.18.0.1 (the servers) and 198.19.0.2 (a client that is not loopback). Starts djdns
 * twice, with the node:dgram face and with `--udp-native`, each with an upstream and
 * `--rrl-rate 20 --rrl-slip 2`, asks both the same things from both kinds of client, and prints
 * what each face did as one line of JSON on stdout.
 *
 * @module
 */
import dgram from "node:dgram";
import { fixtureRegistry, type RunningServer, startDjdns } from "./djdns.ts";
import { buildQuery, header } from "./raw_dns.ts";
import { startUpstream } from "./upstream_server.ts";

const SERVER = "198.18.0.1";
const CLIENT = "198.19.0.2";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `names` (n copies each, ids from 0) from `from` to `to:port`; the replies after 1 s. */
async function exchange(from: string, to: string, port: number, names: string[], n = 1) {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, from, () => r()));
  const replies: Uint8Array[] = [];
  sock.on("message", (m: Uint8Array) => replies.push(new Uint8Array(m)));
  let id = 0;
  for (const name of names) {
    for (let i = 0; i < n; i++) sock.send(buildQuery({ id: id++, name }), port, to);
  }
  await sleep(1000);
  sock.close();
  return replies;
}

async function probe(s: RunningServer) {
  const loopPort = Number(/listening on "?127\.0\.0\.1:(\d+)/.exec(s.log())?.[1]);
  const [registry, forwarded] = await Promise.all([
    exchange(CLIENT, SERVER, s.port, ["in.root.demo"]),
    exchange(CLIENT, SERVER, s.port, ["www.example.com"]),
  ]);
  const [loop] = await Promise.all([
    exchange("127.0.0.1", "127.0.0.1", loopPort, ["www.example.com"]),
  ]);
  await sleep(1200); // the client's bucket refills
  const burst = await exchange(CLIENT, SERVER, s.port, ["in.root.demo"], 100);
  const tc = burst.filter((r) => header(r).tc).length;
  return {
    acl: {
      registry: header(registry[0]).rcode,
      forwarded: header(forwarded[0]).rcode,
      ra: header(forwarded[0]).ra,
    },
    loopback: { forwarded: header(loop[0]).rcode, ra: header(loop[0]).ra },
    rrl: { replies: burst.length, full: burst.length - tc, truncated: tc },
  };
}

const up = await startUpstream({
  zone: { "www.example.com": [{ type: "A", data: "192.0.2.10" }] },
});
const dir = await fixtureRegistry(up.port);
const args = [
  "--pages",
  dir,
  "--upstream",
  `127.0.0.1:${up.port}`,
  "--listen",
  `${SERVER}:0`,
  "--listen",
  "127.0.0.1:0",
  "--rrl-rate",
  "20",
  "--rrl-slip",
  "2",
];
const normal = await startDjdns(args);
const native = await startDjdns([...args, "--udp-native"], { task: "djdns-ffi" });
try {
  await sleep(300);
  const out = { normal: await probe(normal), native: await probe(native) };
  console.log(JSON.stringify(out));
} finally {
  await normal.stop("SIGKILL");
  await native.stop("SIGKILL");
  await up.close();
  await Deno.remove(dir, { recursive: true });
}
