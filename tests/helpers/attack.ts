/**
 * Denial-of-service attacks for tests and for `tools/attack_dns.ts`, all bounded in count and
 * time and aimed at a loopback server: a UDP flood of one question, TCP clients that pipeline
 * queries and never read, one-byte (slowloris) connections, and probes that measure whether the
 * server still answers meanwhile. Plus readers of a process's RSS and CPU time from `/proc`.
 *
 * @module
 */
import dgram from "node:dgram";
import { buildQuery, type QuerySpec } from "./raw_dns.ts";

/** Resident set size of process `pid`, in KiB (VmRSS of /proc/PID/status). */
export function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** CPU time (user + system) used by process `pid` so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces) start at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Samples `pid`'s RSS every `everyMs` until stopped; returns the peak in KiB. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number; peak(): number } {
  let peak = rssKb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssKb(pid));
    } catch { /* process gone */ }
  }, everyMs);
  return {
    peak: () => peak,
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends the query `spec` (a fresh id each time) to `host:port` over UDP as fast as the socket
 * takes it, in batches, for `durationMs` or until `maxPackets` are sent; replies are ignored.
 * Resolves with the number sent.
 */
export async function floodUdp(opts: {
  port: number;
  host?: string;
  spec: QuerySpec;
  durationMs: number;
  maxPackets: number;
  /** Datagrams per batch; the flood yields to the event loop between batches. */
  batch?: number;
  /** Datagrams per second at most (default: as fast as the socket takes them). */
  rate?: number;
  /** A different query per datagram (the `i`-th sent), instead of `spec` every time. */
  make?: (i: number) => QuerySpec;
}): Promise<number> {
  const host = opts.host ?? "127.0.0.1";
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  // Replies are not read: the kernel drops them once the socket buffer is full.
  socket.on("message", () => {});
  const query = buildQuery(opts.spec);
  const batch = opts.batch ?? 200;
  const begin = Date.now();
  const end = begin + opts.durationMs;
  let sent = 0;
  try {
    while (Date.now() < end && sent < opts.maxPackets) {
      if (opts.rate) {
        const ahead = begin + (sent / opts.rate) * 1000 - Date.now();
        if (ahead > 0) await sleep(ahead);
      }
      const n = Math.min(batch, opts.maxPackets - sent);
      await new Promise<void>((resolve) => {
        let left = n;
        for (let i = 0; i < n; i++) {
          const q = opts.make ? buildQuery(opts.make(sent + i)) : query.slice();
          q[0] = (sent + i) >> 8;
          q[1] = (sent + i) & 0xff;
          socket.send(q, opts.port, host, () => {
            if (--left === 0) resolve();
          });
        }
      });
      sent += n;
    }
  } finally {
    await new Promise<void>((r) => socket.close(() => r()));
  }
  return sent;
}

/** Outcome of {@linkcode probeUdp}. */
export interface ProbeResult {
  sent: number;
  answered: number;
  /** Reply times of the answered probes, in ms, sorted. */
  latencies: number[];
}

/**
 * Sends one query from `make(i)` every `everyMs` until `signal` aborts, each on its own
 * socket-level exchange with a `timeoutMs` deadline, and counts the replies with the same id
 * that `check` accepts.
 */
export async function probeUdp(opts: {
  port: number;
  host?: string;
  make: (i: number) => QuerySpec;
  everyMs: number;
  timeoutMs: number;
  signal: AbortSignal;
  check?: (reply: Uint8Array) => boolean;
}): Promise<ProbeResult> {
  const host = opts.host ?? "127.0.0.1";
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  const waiting = new Map<number, { at: number; done: (ok: boolean) => void }>();
  socket.on("message", (msg: Uint8Array) => {
    const id = (msg[0] << 8) | msg[1];
    const w = waiting.get(id);
    if (!w) return;
    if (opts.check && !opts.check(new Uint8Array(msg))) return;
    w.done(true);
  });
  const result: ProbeResult = { sent: 0, answered: 0, latencies: [] };
  const all: Promise<void>[] = [];
  for (let i = 0; !opts.signal.aborted; i++) {
    const id = (i * 7919 + 1) & 0xffff;
    const at = performance.now();
    all.push(
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => done(false), opts.timeoutMs);
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (ok) {
            result.answered++;
            result.latencies.push(performance.now() - at);
          }
          resolve();
        };
        waiting.set(id, { at, done });
      }),
    );
    result.sent++;
    socket.send(buildQuery({ ...opts.make(i), id }), opts.port, host);
    await sleep(opts.everyMs);
  }
  await Promise.all(all);
  await new Promise<void>((r) => socket.close(() => r()));
  result.latencies.sort((a, b) => a - b);
  return result;
}

/**
 * Opens `connections` TCP connections that each write `queriesPerConnection` framed copies of
 * `spec` (pipelined, in large writes) and never read; after `holdMs` every connection is
 * closed (with unread replies pending, so the kernel resets it). Resolves with the number of
 * queries written.
 */
export async function tcpNoRead(opts: {
  port: number;
  host?: string;
  spec: QuerySpec;
  connections: number;
  queriesPerConnection: number;
  holdMs: number;
}): Promise<number> {
  const host = opts.host ?? "127.0.0.1";
  const q = buildQuery(opts.spec);
  const framed = new Uint8Array(q.length + 2);
  framed[0] = q.length >> 8;
  framed[1] = q.length & 0xff;
  framed.set(q, 2);
  const chunkQueries = 512;
  const chunk = new Uint8Array(framed.length * chunkQueries);
  for (let i = 0; i < chunkQueries; i++) chunk.set(framed, i * framed.length);
  const conns: Deno.TcpConn[] = [];
  let written = 0;
  const writers: Promise<void>[] = [];
  for (let c = 0; c < opts.connections; c++) {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        hostname: host,
        port: opts.port,
        transport: "tcp",
        signal: AbortSignal.timeout(1000),
      });
    } catch {
      continue;
    }
    conns.push(conn);
    writers.push((async () => {
      try {
        for (let sent = 0; sent < opts.queriesPerConnection; sent += chunkQueries) {
          let off = 0;
          while (off < chunk.length) off += await conn.write(chunk.subarray(off));
          written += chunkQueries;
        }
      } catch { /* closed by the server, or by us after holdMs */ }
    })());
  }
  await sleep(opts.holdMs);
  for (const c of conns) {
    try {
      c.close();
    } catch { /* already closed */ }
  }
  await Promise.all(writers);
  return written;
}

/**
 * Opens `count` TCP connections that each send one byte (the first of a length prefix) and
 * nothing more (a connection not accepted within 1 s is given up). Returns a function that
 * closes them all.
 */
export async function slowloris(opts: {
  port: number;
  host?: string;
  count: number;
}): Promise<{ open: () => number; close: () => void }> {
  const host = opts.host ?? "127.0.0.1";
  const conns: Deno.TcpConn[] = [];
  const closed = new Set<Deno.TcpConn>();
  // All at once: a server that stops accepting must not make the attack take count seconds.
  await Promise.all(Array.from({ length: opts.count }, async () => {
    try {
      const conn = await Deno.connect({
        hostname: host,
        port: opts.port,
        transport: "tcp",
        signal: AbortSignal.timeout(1000),
      });
      conns.push(conn);
      await conn.write(Uint8Array.of(0));
      // Notice when the server closes it.
      conn.read(new Uint8Array(1)).then(() => closed.add(conn), () => closed.add(conn));
    } catch { /* refused, or not accepted in time */ }
  }));
  return {
    open: () => conns.length - closed.size,
    close() {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}
