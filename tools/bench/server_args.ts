/**
 * What the server benchmarks share: a DNS query for one name, a free loopback port, the
 * `deno run` arguments of the `djdns` task of this tree or of another checkout (`--baseline`),
 * and a dnsperf run.
 *
 * @module
 */
import { djdnsTaskArgs } from "../../tests/helpers/djdns.ts";

/** A DNS query (RD set, class IN, type A) for `name` with message id `id`. */
export function query(name: string, id: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  return new Uint8Array([
    id >> 8,
    id & 255,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...labels,
    0,
    0,
    1,
    0,
    1,
  ]);
}

/** A port that is free on 127.0.0.1 now (TCP; UDP is the same number in practice). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The `djdns` task's `deno run` arguments, of this tree or of the checkout at `tree`. */
export async function taskArgs(tree?: string): Promise<string[]> {
  if (tree === undefined) return await djdnsTaskArgs();
  const config = JSON.parse(await Deno.readTextFile(`${tree}/deno.json`));
  return (config.tasks.djdns as string).split(/\s+/).slice(1)
    .map((w) => (w === "main.ts" ? `${tree}/main.ts` : w));
}

/** dnsperf `-c 1 -q 100` for `seconds` against 127.0.0.1:`port` with the queries in `file`. */
export async function dnsperf(
  port: number,
  file: string,
  seconds: number,
): Promise<{ qps: number; lost: number; rcodes: string }> {
  const out = await new Deno.Command("dnsperf", {
    args: [
      "-s",
      "127.0.0.1",
      "-p",
      String(port),
      "-d",
      file,
      "-l",
      String(seconds),
      "-c",
      "1",
      "-q",
      "100",
      "-t",
      "2",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(text)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(text)?.[1]);
  const rcodes = /Response codes:\s+(.*)/.exec(text)?.[1] ?? "?";
  if (!(qps > 0)) {
    throw new Error(`dnsperf failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return { qps, lost, rcodes };
}
