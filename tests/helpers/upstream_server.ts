/**
 * A small scriptable DNS server for tests: UDP (node:dgram) and TCP (Deno.listen) on one random
 * port of a loopback address, answering authoritatively from an in-memory zone, with hooks to
 * misbehave (drop, delay, spoof, truncate, fail).
 *
 * @example
 * ```ts
 * const upstream = await startUpstream({
 *   zone: { "www.example.test.": [{ type: "A", ttl: 60, data: "192.0.2.1" }] },
 *   dropFirst: 1,
 * });
 * // dig -p ${upstream.port} @${upstream.host} www.example.test
 * await upstream.close();
 * ```
 *
 * Answers: records of the asked type (or ANY), following CNAMEs inside the zone (at most 8);
 * NXDOMAIN with the SOA in the authority section for a name not in the zone; NODATA (NOERROR,
 * SOA in authority) for a name without that type. AA is set, RD is copied, an EDNS0 OPT is
 * returned when the query had one, and a UDP reply larger than the client's payload size (512
 * without EDNS) is truncated (TC=1, question only).
 *
 * @module
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from "dns-packet";

/** A record of the test zone, in dns-packet form (`data` as dns-packet encodes it). */
export interface ZoneRecord {
  /** Record type, e.g. `"A"`, `"AAAA"`, `"CNAME"`, `"TXT"`, `"MX"`. */
  type: string;
  /** TTL in seconds; default 300. */
  ttl?: number;
  /** Record data as dns-packet expects for `type`. */
  data: unknown;
}

/** The test zone: owner names (trailing dot optional, case-insensitive) to their records. */
export type Zone = Record<string, ZoneRecord[]>;

/**
 * A bogus reply sent before the real one, to test that clients ignore it. Each carries the
 * spoofed answer {@linkcode SPOOFED_ADDRESS} so a client that wrongly accepts it is caught.
 * - `wrong-id`: message id differs from the query's
 * - `wrong-question`: question name differs in its first letter (same length, so only a
 *   byte-by-byte name check catches it)
 * - `wrong-type`: question type differs (A ↔ AAAA)
 * - `not-response`: QR bit clear
 * - `wrong-source`: correct id and question, but sent from another port (UDP only)
 * - `garbage`: correct id, then random bytes (not decodable)
 * - `forged`: a spoofed reply that passes every check (id, question, source): the control that
 *   shows a client does take a bogus reply that arrives first, so tests of the others can fail
 */
export type BadReply =
  | "forged"
  | "wrong-id"
  | "wrong-question"
  | "wrong-type"
  | "not-response"
  | "wrong-source"
  | "garbage";

/** The A record data of every bogus reply (TEST-NET-1). */
export const SPOOFED_ADDRESS = "192.0.2.66";

/** Options of {@linkcode startUpstream}. */
export interface TestUpstreamOptions {
  /** Loopback address to listen on; default `"127.0.0.1"` (use `"::1"` for IPv6). */
  host?: string;
  /** Records to answer from. Default: empty. */
  zone?: Zone;
  /** The SOA put in the authority section of negative answers. Default: `test.` with MINIMUM 60. */
  soa?: { name: string; ttl: number; data: dnsPacket.SoaData };
  /** Ignore the first N queries (any transport); later queries are answered. */
  dropFirst?: number;
  /** Ignore every query (a dead upstream that still has an open port). */
  dropAll?: boolean;
  /** Wait this long before sending the real reply. */
  delayMs?: number;
  /** Bogus replies sent at once over UDP, before the real reply (which waits `delayMs`). */
  badReplies?: readonly BadReply[];
  /** Send only the bogus replies, never the real one. */
  badRepliesOnly?: boolean;
  /** Always answer UDP with TC=1 and no records, to force a TCP retry. */
  truncateUdp?: boolean;
  /** Reply with this RCODE (e.g. `"SERVFAIL"`, `"REFUSED"`) to every query, without records. */
  rcode?: string;
  /** Per-name RCODE overrides (names as in `zone`); win over `rcode`. */
  rcodes?: Record<string, string>;
  /** Write the question name upper-case in replies (as a 0x20-randomising server might). */
  upcaseQuestion?: boolean;
}

/** A running test upstream, as returned by {@linkcode startUpstream}. */
export interface TestUpstream {
  /** Address it listens on. */
  host: string;
  /** Port it listens on, for UDP and TCP alike. */
  port: number;
  /** Queries received so far, over both transports (dropped ones included). */
  readonly queries: number;
  /** Queries received over UDP. */
  readonly udpQueries: number;
  /** Queries received over TCP. */
  readonly tcpQueries: number;
  /** The last query received, decoded. */
  readonly lastQuery: DecodedPacket | undefined;
  /** The raw bytes of the question section of the last UDP query (names exactly as sent). */
  readonly lastQuestionBytes: Uint8Array | undefined;
  /** Bogus replies (`badReplies`) sent so far. */
  readonly badRepliesSent: number;
  /** Where the last query came from. */
  readonly lastClient: { address: string; port: number; transport: "udp" | "tcp" } | undefined;
  /** Stops listening, closes connections and cancels pending delayed replies. */
  close(): Promise<void>;
}

const DEFAULT_SOA = {
  name: "test",
  ttl: 300,
  data: {
    mname: "ns.test",
    rname: "hostmaster.test",
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 60,
  },
};

const RCODES: Record<string, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};

const normalize = (name: string) => name.toLowerCase().replace(/\.$/, "");

/** Starts a test upstream on a random port of `options.host` (UDP and TCP on the same port). */
export async function startUpstream(options: TestUpstreamOptions = {}): Promise<TestUpstream> {
  const host = options.host ?? "127.0.0.1";
  const zone = new Map<string, ZoneRecord[]>();
  for (const [name, records] of Object.entries(options.zone ?? {})) {
    zone.set(normalize(name), records);
  }
  const rcodes = new Map(
    Object.entries(options.rcodes ?? {}).map(([name, rcode]) => [normalize(name), rcode]),
  );
  for (const rcode of [options.rcode, ...rcodes.values()]) {
    if (rcode !== undefined && !(rcode.toUpperCase() in RCODES)) {
      throw new Error(`unknown rcode ${rcode}`);
    }
  }
  const soa = options.soa ?? DEFAULT_SOA;
  const stats = {
    queries: 0,
    udp: 0,
    tcp: 0,
    last: undefined as DecodedPacket | undefined,
    client: undefined as TestUpstream["lastClient"],
    bogus: 0,
  };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const connections = new Set<Deno.Conn>();
  let closed = false;

  const { udp, tcp, port } = await bindBoth(host);
  let spoofSocket: dgram.Socket | undefined;

  function later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) fn();
    }, ms);
    timers.add(timer);
  }

  function answer(query: DecodedPacket): Packet & { rcode?: string } {
    const question = query.questions?.[0];
    const edns = query.additionals?.find((r) => r.type === "OPT");
    const reply: Packet = {
      type: "response",
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0),
      questions: query.questions,
      answers: [],
      authorities: [],
      additionals: edns ? [{ type: "OPT", name: ".", udpPayloadSize: 1232 } as Answer] : [],
    };
    if (question === undefined) return withRcode(reply, "FORMERR");
    if (options.upcaseQuestion) {
      reply.questions = [{ ...question, name: question.name.toUpperCase() }];
    }
    const qname = normalize(question.name);
    const forced = rcodes.get(qname) ?? options.rcode;
    if (forced !== undefined) return withRcode(reply, forced);
    if (!zone.has(qname)) {
      reply.authorities = [soaRecord()];
      return withRcode(reply, "NXDOMAIN");
    }
    let owner = question.name;
    for (let hops = 0; hops < 8; hops++) {
      const records = zone.get(normalize(owner));
      if (records === undefined) break; // CNAME target outside the zone: the client continues
      const matching = records.filter((r) =>
        r.type === question.type || (question.type as string) === "ANY"
      );
      if (matching.length > 0) {
        reply.answers!.push(...matching.map((r) => toAnswer(owner, r)));
        break;
      }
      const cname = records.find((r) => r.type === "CNAME");
      if (cname === undefined || question.type === "CNAME") break;
      reply.answers!.push(toAnswer(owner, cname));
      owner = String(cname.data);
    }
    if (reply.answers!.length === 0) reply.authorities = [soaRecord()];
    return withRcode(reply, "NOERROR");
  }

  function soaRecord(): Answer {
    return { type: "SOA", name: soa.name, ttl: soa.ttl, data: soa.data };
  }

  function bogus(query: DecodedPacket, kind: BadReply): Uint8Array {
    const question = query.questions?.[0] ?? { name: "x", type: "A" as const };
    const spoofed: Packet = {
      type: kind === "not-response" ? "query" : "response",
      id: kind === "wrong-id"
        ? (query.id! + 1 + Math.floor(Math.random() * 0xfffe)) & 0xffff
        : query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [
        kind === "wrong-question"
          ? { ...question, name: sameLengthOtherName(question.name) }
          : kind === "wrong-type"
          ? { ...question, type: question.type === "A" ? "AAAA" : "A" }
          : question,
      ],
      answers: [{ type: "A", name: question.name, ttl: 666, data: SPOOFED_ADDRESS }],
    };
    if (kind === "garbage") {
      const bytes = crypto.getRandomValues(new Uint8Array(40));
      bytes[0] = query.id! >> 8;
      bytes[1] = query.id! & 0xff;
      bytes[2] = 0x84; // QR=1, AA=1: looks like a reply until parsed
      bytes[5] = 1;
      bytes[7] = 200; // claims 200 answers it does not carry
      return bytes;
    }
    return dnsPacket.encode(spoofed);
  }

  function sendUdp(bytes: Uint8Array, rinfo: dgram.RemoteInfo, from = udp): void {
    if (closed) return;
    try {
      from.send(bytes, rinfo.port, rinfo.address);
    } catch {
      // Socket closing under us at shutdown.
    }
  }

  function received(
    query: DecodedPacket,
    transport: "udp" | "tcp",
    from: { address: string; port: number },
  ): boolean {
    stats.queries++;
    if (transport === "udp") stats.udp++;
    else stats.tcp++;
    stats.last = query;
    stats.client = { address: from.address, port: from.port, transport };
    return !(options.dropAll || stats.queries <= (options.dropFirst ?? 0));
  }

  udp.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    try {
      onUdpQuery(msg, rinfo);
    } catch (err) {
      // Only a bad zone (data dns-packet cannot encode) gets here; say so instead of crashing.
      console.error("test upstream:", err);
    }
  });

  // Real servers echo the question byte for byte; dns-packet re-encodes names from dotted text
  // and so cannot keep a label that holds a dot. Splice the query's own question back in.
  function questionEnd(buf: Uint8Array): number {
    let off = 12;
    while (off < buf.length && buf[off] !== 0) off += (buf[off] & 0xc0) === 0xc0 ? 1 : buf[off] + 1;
    return off + 5;
  }
  function echoQuestion(reply: Uint8Array, query: Uint8Array): Uint8Array {
    const q = query.subarray(12, questionEnd(query));
    const rest = reply.subarray(questionEnd(reply));
    const out = new Uint8Array(12 + q.length + rest.length);
    out.set(reply.subarray(0, 12));
    out.set(q, 12);
    out.set(rest, 12 + q.length);
    return out;
  }
  let lastQuestionBytes: Uint8Array | undefined;

  function onUdpQuery(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // a test server ignores what it cannot parse
    }
    if (query.type !== "query" || !received(query, "udp", rinfo)) return;
    lastQuestionBytes = new Uint8Array(msg.subarray(12, questionEnd(msg)));
    for (const kind of options.badReplies ?? []) {
      stats.bogus++;
      if (kind === "forged") {
        const bytes = dnsPacket.encode({
          ...answer(query),
          answers: [{ type: "A", name: query.questions![0].name, ttl: 666, data: SPOOFED_ADDRESS }],
        });
        sendUdp(echoQuestion(bytes, msg), rinfo);
      } else if (kind === "wrong-source") {
        spoofSocket ??= dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
        const bytes = dnsPacket.encode({
          ...answer(query),
          answers: [{ type: "A", name: query.questions![0].name, ttl: 666, data: SPOOFED_ADDRESS }],
        });
        sendUdp(bytes, rinfo, spoofSocket);
      } else {
        sendUdp(bogus(query, kind), rinfo);
      }
    }
    if (options.badRepliesOnly) return;
    later(options.delayMs ?? 0, () => {
      let reply = answer(query);
      const edns = query.additionals?.find((r) => r.type === "OPT");
      const limit = edns ? Math.max(512, (edns as { udpPayloadSize: number }).udpPayloadSize) : 512;
      let bytes = dnsPacket.encode(reply);
      if (options.truncateUdp || bytes.length > limit) {
        reply = {
          ...reply,
          flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
          answers: [],
          authorities: [],
        };
        bytes = dnsPacket.encode(reply);
      }
      sendUdp(options.upcaseQuestion ? bytes : echoQuestion(bytes, msg), rinfo);
    });
  }
  udp.on("error", () => {}); // e.g. ICMP errors for vanished clients: not the server's problem

  const serving = (async () => {
    for await (const conn of tcp) {
      if (closed) {
        conn.close();
        break;
      }
      connections.add(conn);
      serveTcp(conn).finally(() => connections.delete(conn));
    }
  })().catch(() => {});

  async function serveTcp(conn: Deno.Conn): Promise<void> {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer = { address: remote.hostname, port: remote.port };
    try {
      while (!closed) {
        const header = await readExact(conn, 2);
        if (header === null) break;
        const message = await readExact(conn, (header[0] << 8) | header[1]);
        if (message === null) break;
        let query: DecodedPacket;
        try {
          query = dnsPacket.decode(Buffer.from(message));
        } catch {
          break;
        }
        if (query.type !== "query" || !received(query, "tcp", peer)) continue;
        const bytes = dnsPacket.encode(answer(query));
        const frame = new Uint8Array(2 + bytes.length);
        frame[0] = bytes.length >> 8;
        frame[1] = bytes.length & 0xff;
        frame.set(bytes, 2);
        await new Promise<void>((resolve) => later(options.delayMs ?? 0, resolve));
        if (closed) break;
        let offset = 0;
        while (offset < frame.length) offset += await conn.write(frame.subarray(offset));
      }
    } catch {
      // Client went away or we are closing.
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  return {
    host,
    port,
    get queries() {
      return stats.queries;
    },
    get udpQueries() {
      return stats.udp;
    },
    get tcpQueries() {
      return stats.tcp;
    },
    get lastQuery() {
      return stats.last;
    },
    get lastQuestionBytes() {
      return lastQuestionBytes;
    },
    get badRepliesSent() {
      return stats.bogus;
    },
    get lastClient() {
      return stats.client;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      tcp.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Already closed by its handler.
        }
      }
      await serving;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (spoofSocket) await new Promise<void>((resolve) => spoofSocket!.close(() => resolve()));
    },
  };
}

function sameLengthOtherName(name: string): string {
  const first = name[0]?.toLowerCase() === "x" ? "y" : "x";
  return first + name.slice(1);
}

function withRcode(packet: Packet, rcode: string): Packet & { rcode?: string } {
  const code = RCODES[rcode.toUpperCase()];
  if (code === undefined) throw new Error(`unknown rcode ${rcode}`);
  return { ...packet, flags: ((packet.flags ?? 0) & ~0xf) | code };
}

function toAnswer(owner: string, record: ZoneRecord): Answer {
  return { name: owner, type: record.type, ttl: record.ttl ?? 300, data: record.data } as Answer;
}

async function readExact(conn: Deno.Conn, length: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const n = await conn.read(out.subarray(offset));
    if (n === null) return null;
    offset += n;
  }
  return out;
}

// UDP and TCP must share a port so that a TC=1 retry reaches the same server; the kernel's free
// UDP port may be taken for TCP, so try a few.
async function bindBoth(
  host: string,
): Promise<{ udp: dgram.Socket; tcp: Deno.TcpListener; port: number }> {
  for (let i = 0; i < 20; i++) {
    const udp = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(0, host, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    const port = udp.address().port;
    try {
      const tcp = Deno.listen({ hostname: host, port, transport: "tcp" });
      return { udp, tcp, port };
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    }
  }
  throw new Error(`no free UDP+TCP port on ${host}`);
}
