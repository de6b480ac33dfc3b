/**
 * A raw DNS client for tests: builds queries byte by byte (so they can be malformed on purpose),
 * sends them over UDP (`node:dgram`) or TCP (`Deno.connect`, 2-byte length framing) and reads
 * the header of replies without trusting them to be well formed.
 *
 * @example
 * ```ts
 * const client = await UdpClient.open();
 * const reply = await client.exchange(port, buildQuery({ name: "In.RoOt.DeMo" }));
 * // header(reply!).rcode === 0
 * client.close();
 * ```
 *
 * @module
 */
import dgram from "node:dgram";
import dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";

/** Wire form of `name` (labels as given, case preserved; "" or "." is the root). */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.replace(/\.$/, "");
  const out: number[] = [];
  if (trimmed !== "") {
    for (const label of trimmed.split(".")) {
      const bytes = new TextEncoder().encode(label);
      out.push(bytes.length, ...bytes);
    }
  }
  out.push(0);
  return Uint8Array.from(out);
}

/** Fields of a query built by {@linkcode buildQuery}. */
export interface QuerySpec {
  /** Message id; default 0x1234. */
  id?: number;
  /** Query name (see {@linkcode encodeName}); ignored when `rawName` is given. */
  name?: string;
  /** The question's owner name as raw bytes, for names `encodeName` cannot express. */
  rawName?: Uint8Array;
  /** QTYPE; default 1 (A). */
  qtype?: number;
  /** QCLASS; default 1 (IN). */
  qclass?: number;
  /** Opcode; default 0 (QUERY). */
  opcode?: number;
  /** Recursion desired; default true. */
  rd?: boolean;
  /** Checking disabled; default false. */
  cd?: boolean;
  /** Add an OPT record; default none. */
  edns?: { udpSize?: number; version?: number; dnssecOk?: boolean };
}

/** An EDNS0 OPT record (owner root) advertising `udpSize`. */
export function optRecord(udpSize = 1232, version = 0, dnssecOk = false): Uint8Array {
  // owner root, TYPE 41, CLASS = payload size, TTL = ext-rcode/version/flags, RDLENGTH 0
  return Uint8Array.of(
    0,
    0,
    41,
    udpSize >> 8,
    udpSize & 0xff,
    0,
    version,
    dnssecOk ? 0x80 : 0,
    0,
    0,
    0,
  );
}

/** Builds a well-formed query (one question, optional OPT). */
export function buildQuery(spec: QuerySpec = {}): Uint8Array {
  const id = spec.id ?? 0x1234;
  const name = spec.rawName ?? encodeName(spec.name ?? "in.root.demo");
  const qtype = spec.qtype ?? 1;
  const qclass = spec.qclass ?? 1;
  const opt = spec.edns
    ? optRecord(spec.edns.udpSize, spec.edns.version, spec.edns.dnssecOk)
    : new Uint8Array(0);
  const out = new Uint8Array(12 + name.length + 4 + opt.length);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = ((spec.opcode ?? 0) << 3) | ((spec.rd ?? true) ? 1 : 0);
  out[3] = spec.cd ? 0x10 : 0;
  out[5] = 1;
  out[11] = spec.edns ? 1 : 0;
  out.set(name, 12);
  const q = 12 + name.length;
  out[q] = qtype >> 8;
  out[q + 1] = qtype & 0xff;
  out[q + 2] = qclass >> 8;
  out[q + 3] = qclass & 0xff;
  out.set(opt, q + 4);
  return out;
}

/** Header fields of a reply, read directly from its first 12 bytes. */
export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  cd: boolean;
  /** The 4-bit rcode of the header (the OPT record's extended bits not included). */
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

/** Reads the header of `msg`; throws when it is shorter than 12 bytes. */
export function header(msg: Uint8Array): Header {
  if (msg.length < 12) throw new Error(`reply of ${msg.length} bytes has no header`);
  const flags = (msg[2] << 8) | msg[3];
  const u16 = (o: number) => (msg[o] << 8) | msg[o + 1];
  return {
    id: u16(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: u16(4),
    ancount: u16(6),
    nscount: u16(8),
    arcount: u16(10),
  };
}

/** Decodes a whole reply with dns-packet (throws when it is malformed). */
export function decode(msg: Uint8Array): dnsPacket.DecodedPacket {
  return dnsPacket.decode(Buffer.from(msg));
}

/**
 * A UDP socket on 127.0.0.1 (or ::1) that sends datagrams and collects every reply, so tests
 * can both wait for one reply and count replies to a burst.
 */
export class UdpClient {
  #socket: dgram.Socket;
  #host: string;
  #replies: Uint8Array[] = [];
  #waiters = new Set<() => void>();

  private constructor(socket: dgram.Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.on("message", (msg) => {
      this.#replies.push(new Uint8Array(msg));
      for (const w of this.#waiters) w();
    });
  }

  /** Opens a client bound to a free port of `host` (default 127.0.0.1). */
  static open(host = "127.0.0.1"): Promise<UdpClient> {
    const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, host, () => {
        socket.off("error", reject);
        resolve(new UdpClient(socket, host));
      });
    });
  }

  /** Sends one datagram to `port` without waiting. */
  send(port: number, bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#socket.send(bytes, port, this.#host, (err) => (err ? reject(err) : resolve()))
    );
  }

  /** Forgets replies received so far. */
  drain(): void {
    this.#replies = [];
  }

  /**
   * Waits for a reply that `match` accepts (default: any), removing it from the queue; null
   * when none arrives within `timeoutMs`.
   */
  async next(
    timeoutMs = 2000,
    match: (msg: Uint8Array) => boolean = () => true,
  ): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#replies.findIndex(match);
      if (i >= 0) return this.#replies.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  /**
   * Sends `bytes` and waits for the reply carrying the same id (the first two bytes; any reply
   * when the message is shorter); null on timeout.
   */
  async exchange(port: number, bytes: Uint8Array, timeoutMs = 2000): Promise<Uint8Array | null> {
    const id = bytes.length >= 2 ? (bytes[0] << 8) | bytes[1] : -1;
    await this.send(port, bytes);
    return await this.next(
      timeoutMs,
      (m) => id < 0 || (m.length >= 2 && ((m[0] << 8) | m[1]) === id),
    );
  }

  /** Number of replies waiting in the queue. */
  get pending(): number {
    return this.#replies.length;
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Frames `msg` for DNS over TCP (2-byte big-endian length prefix). */
export function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/**
 * A DNS-over-TCP connection that reads framed replies in the background, so tests can write
 * arbitrary bytes and then wait for replies or for the server to close the connection.
 */
export class TcpClient {
  #conn: Deno.TcpConn;
  #replies: Uint8Array[] = [];
  #waiters = new Set<() => void>();
  #closed = false;
  /** Resolves when the server closed (or reset) the connection. */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.closed = this.#readLoop();
  }

  /** Connects to `host:port` (default host 127.0.0.1). */
  static async connect(port: number, host = "127.0.0.1"): Promise<TcpClient> {
    const conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new TcpClient(conn);
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const merged = new Uint8Array(buf.length + n);
        merged.set(buf);
        merged.set(chunk.subarray(0, n), buf.length);
        buf = merged;
        while (buf.length >= 2 && buf.length >= 2 + ((buf[0] << 8) | buf[1])) {
          const len = (buf[0] << 8) | buf[1];
          this.#replies.push(buf.slice(2, 2 + len));
          buf = buf.subarray(2 + len);
        }
        this.#wake();
      }
    } catch {
      // A reset, or our own close(): either way the connection is over.
    }
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  /** Whether the server has closed the connection. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Writes raw bytes (no framing added). */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  /** Writes one framed message. */
  send(msg: Uint8Array): Promise<void> {
    return this.write(frame(msg));
  }

  /** Shuts down our sending side (half-close); the server may still reply. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /**
   * Waits for the next reply; null when the connection closes or `timeoutMs` passes first.
   */
  async next(timeoutMs = 2000): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#replies.length > 0) return this.#replies.shift()!;
      const left = deadline - Date.now();
      if (this.#closed || left <= 0) return null;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  /** Sends a framed query and waits for the next reply. */
  async exchange(msg: Uint8Array, timeoutMs = 2000): Promise<Uint8Array | null> {
    await this.send(msg);
    return await this.next(timeoutMs);
  }

  /** Resolves true when the server closes the connection within `timeoutMs`, else false. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.closed.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes our end and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.closed;
  }
}

/** A seeded pseudo-random generator, so fuzz inputs reproduce (see ./prng.ts). */
export { prng as seededRandom } from "./prng.ts";
