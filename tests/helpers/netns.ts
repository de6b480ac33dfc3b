/**
 * A network namespace of the test's own, joined to this one by a veth pair, so a test can be a
 * client whose address is not loopback on any machine where it runs as root. The pair gets a
 * /30 of 198.18.0.0/15 (RFC 2544, benchmarking; never routed): `hostAddress` on this side,
 * `clientAddress` inside. Nothing is routed beyond the pair.
 *
 * @example
 * ```ts
 * const ns = await createNetns(); // root only: see needs.netns()
 * try {
 *   await ns.run("dig", [`@${ns.hostAddress}`, "-p", "5300", "in.root.demo"]);
 * } finally {
 *   await ns.close();
 * }
 * ```
 *
 * @module
 */
import { run } from "./djdns.ts";

/** A namespace joined to ours by a veth pair. */
export interface Netns {
  /** Namespace name (for `ip netns exec`). */
  name: string;
  /** Our end of the pair: servers listen here. */
  hostAddress: string;
  /** The namespace's end: its clients send from here. */
  clientAddress: string;
  /** Runs a program inside the namespace. */
  run(program: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Deletes the pair and the namespace. */
  close(): Promise<void>;
}

let made = 0;

async function ip(...args: string[]): Promise<void> {
  const r = await run("ip", args);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.trim()}`);
}

/** Creates the namespace and the pair; needs root and iproute2. */
export async function createNetns(): Promise<Netns> {
  const tag = `${Deno.pid % 100_000}x${made++}`;
  const name = `djdns-t${tag}`;
  const outer = `djt${tag}a`;
  const inner = `djt${tag}b`;
  // A /30 whose addresses no interface here holds (other runs on the machine pick at random).
  const held = (await run("ip", ["-4", "-o", "addr", "show"])).stdout;
  let hostAddress = "";
  let clientAddress = "";
  for (let i = 0; i < 20 && hostAddress === ""; i++) {
    const n = crypto.getRandomValues(new Uint16Array(1))[0];
    const prefix = `198.${18 + (n >> 15)}.${(n >> 6) & 0xff}.`;
    const last = (n & 0x3f) << 2;
    const pair = [`${prefix}${last + 1}`, `${prefix}${last + 2}`];
    if (!pair.some((a) => held.includes(` ${a}/`))) [hostAddress, clientAddress] = pair;
  }
  if (hostAddress === "") throw new Error("no free /30 in 198.18.0.0/15");
  await ip("netns", "add", name);
  try {
    await ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", name);
    await ip("addr", "add", `${hostAddress}/30`, "dev", outer);
    await ip("link", "set", outer, "up");
    await ip("-n", name, "addr", "add", `${clientAddress}/30`, "dev", inner);
    await ip("-n", name, "link", "set", inner, "up");
    await ip("-n", name, "link", "set", "lo", "up");
  } catch (e) {
    await run("ip", ["link", "del", outer]);
    await run("ip", ["netns", "del", name]);
    throw e;
  }
  return {
    name,
    hostAddress,
    clientAddress,
    run: (program, args) => run("ip", ["netns", "exec", name, program, ...args]),
    async close() {
      await run("ip", ["link", "del", outer]); // takes its peer with it
      await ip("netns", "del", name);
    },
  };
}

/**
 * Runs the Deno `script` (with --allow-all) inside a private network namespace of its own
 * (`unshare --net`, root only) whose loopback device also holds 198.18.0.1 (for servers) and
 * 198.19.0.2 (a client that is not loopback); traffic never leaves it. Resolves with the last
 * line of its stdout, parsed as JSON; throws with its output when it fails.
 */
export async function runInPrivateNetns(script: string): Promise<unknown> {
  const setup = "ip link set lo up && ip addr add 198.18.0.1/32 dev lo && " +
    "ip addr add 198.19.0.2/32 dev lo";
  const out = await new Deno.Command("unshare", {
    args: [
      "--net",
      "--",
      "sh",
      "-c",
      `${setup} && exec "$0" run -A --v8-flags=--enable-experimental-regexp-engine "$1"`,
      Deno.execPath(),
      script,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(text + new TextDecoder().decode(out.stderr));
  return JSON.parse(text.trim().split("\n").pop()!);
}

/** Whether {@linkcode runInPrivateNetns} can run here (Linux, root, unshare(1) allowed). */
export function privateNetnsAvailable(): boolean {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  try {
    return new Deno.Command("unshare", { args: ["--net", "--", "true"] }).outputSync().success;
  } catch {
    return false;
  }
}
