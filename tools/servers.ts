/**
 * Server processes for the DNS tools (bench_dns.ts, attack_dns.ts): spawn one, wait until it
 * answers, stop it, find a free port, run a command to completion.
 *
 * @module
 */
import dgram from "node:dgram";

/** A spawned server process. */
export interface Server {
  /** What the tool calls it ("djdns", "dnsmasq", "baseline", …). */
  name: string;
  port: number;
  pid: number;
  child: Deno.ChildProcess;
  /** The last 8 KiB of its stderr. */
  log(): string;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((r) => setTimeout(r, ms));
}

/** Runs `program` to completion (killed after `timeoutMs`); its exit code and output. */
export async function output(program: string, args: string[], timeoutMs = 30_000) {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Spawns a server, keeping the tail of its stderr for error messages. */
export function spawn(name: string, program: string, args: string[], port: number): Server {
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  (async () => {
    const d = new TextDecoder();
    for await (const chunk of child.stderr) text = (text + d.decode(chunk)).slice(-8192);
  })();
  return { name, port, pid: child.pid, child, log: () => text };
}

/** SIGTERM, then SIGKILL after 5 s; waits for the exit. */
export async function stop(s: Server): Promise<void> {
  try {
    s.child.kill("SIGTERM");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      s.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 5000);
  await s.child.status;
  clearTimeout(timer);
}

/** A port free for both UDP and TCP on `host`, not in `avoid`. */
export async function freePort(host: string, avoid: number[] = []): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if (avoid.includes(port)) continue;
    try {
      Deno.listen({ hostname: host, port }).close();
      const sock = dgram.createSocket("udp4");
      await new Promise<void>((ok, fail) => {
        sock.once("error", fail);
        sock.bind(port, host, () => ok());
      });
      await new Promise<void>((done) => sock.close(() => done()));
      return port;
    } catch { /* taken, try another */ }
  }
  throw new Error("no free port found");
}

/**
 * Sends `query` (its id is its first two bytes) to the server until it answers NOERROR, the
 * process exits, or the time is up.
 */
export async function waitReady(
  s: Server,
  host: string,
  query: Uint8Array,
  timeoutMs = 30_000,
): Promise<void> {
  const sock = dgram.createSocket("udp4");
  const answered = new Promise<boolean>((resolve) => {
    sock.on("message", (m) => {
      if (m[0] === query[0] && m[1] === query[1] && (m[3] & 0xf) === 0) resolve(true);
    });
  });
  const exited = s.child.status.then(() => false);
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      sock.send(query, s.port, host);
      const r = await Promise.race([answered, exited, sleep(200).then(() => null)]);
      if (r === true) return;
      if (r === false) throw new Error(`${s.name} exited before answering:\n${s.log()}`);
    }
    throw new Error(`${s.name} did not answer within ${timeoutMs} ms:\n${s.log()}`);
  } finally {
    sock.close();
  }
}
