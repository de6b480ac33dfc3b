/**
 * A UDP socket in native hands, through `Deno.dlopen` of libc: `socket`, `setsockopt`
 * (SO_REUSEPORT, so several threads or processes can each hold a socket on one port and the
 * kernel spreads datagrams over them), `bind`, `poll`, and batched `recvmmsg`/`sendmmsg`.
 *
 * Why: Deno's `node:dgram` costs an async op, two copies and a fresh buffer per datagram (perf
 * put ~36 % of djdns's time per query in the runtime), and neither it nor `Deno.listenDatagram`
 * can set SO_REUSEPORT (see BENCHMARKS.md, DNS). Here one `recvmmsg` reads up to
 * {@linkcode BATCH} datagrams into fixed buffers and one `sendmmsg` sends their replies, so the
 * per-datagram cost is the request path's own work. The only async call is `poll`, made when the
 * socket has nothing to read; under load the loop stays synchronous for a few batches before it
 * yields to the event loop.
 *
 * Linux only (x86-64 and arm64 share these struct layouts), and only with `--allow-ffi`:
 * {@linkcode ffiUnavailable} says why it cannot be used. Nothing here decides what to answer.
 *
 * @module
 */

/** Datagrams read (and replies sent) per system call at most. */
export const BATCH = 64;
/** Bytes of a datagram read at most; longer ones arrive cut, as with the `node:dgram` face. */
export const RECV_SIZE = 4096;
/** Bytes reserved per peer address (a sockaddr_in6 takes 28). */
const NAME_SIZE = 32;
/** Bytes of a `struct mmsghdr` on LP64 Linux (a 56-byte msghdr, msg_len, padding). */
const MMSG_SIZE = 64;

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEPORT = 15;
const SO_RCVBUF = 8;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const POLLIN = 1;
const EAGAIN = 11;
const EINTR = 4;
const SHUT_RDWR = 2;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  // Runs on a thread of its own: the only call that waits.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // Also on a thread of its own: the coalescing pause (see NativeUdp.pause).
  usleep: { parameters: ["u32"], result: "i32", nonblocking: true },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | undefined;

/**
 * Why the native socket cannot be used in this process (missing `--allow-ffi`, not Linux, no
 * libc found), or null when it can.
 */
export function ffiUnavailable(): string | null {
  if (Deno.build.os !== "linux") return `native UDP needs Linux (this is ${Deno.build.os})`;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `native UDP needs x86-64 or arm64 (this is ${Deno.build.arch})`;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "native UDP needs the --allow-ffi permission (run djdns as 'deno task djdns-ffi run …')";
  }
  try {
    load();
  } catch (e) {
    return `cannot load libc: ${(e as Error).message}`;
  }
  return null;
}

function load(): Libc {
  if (libc) return libc;
  const paths = Deno.build.arch === "x86_64"
    ? ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "libc.so.6"]
    : ["/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6", "libc.so.6"];
  let last: unknown;
  for (const p of paths) {
    try {
      libc = Deno.dlopen(p, SYMBOLS).symbols;
      return libc;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

function errno(c: Libc): number {
  const p = c.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

function errorText(c: Libc, code: number): string {
  const p = c.strerror(code);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${code}`;
}

/** A system call failed: the message names the call and the C library's reason. */
export class SocketError extends Error {
  override name = "SocketError";
  constructor(call: string, readonly code: number, text: string) {
    super(`${call}: ${text}`);
  }
}

function check(c: Libc, call: string, result: number | bigint): number {
  if (Number(result) >= 0) return Number(result);
  const code = errno(c);
  throw new SocketError(call, code, errorText(c, code));
}

/** Writes a sockaddr for `host:port` into `out`; its length. */
function sockaddr(out: Uint8Array, port: number, bytes: Uint8Array): number {
  out.fill(0);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (bytes.length === 4) {
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port);
    out.set(bytes, 4);
    return 16;
  }
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port);
  out.set(bytes, 8);
  return 28;
}

/** One received datagram's source, as read from its sockaddr. */
export interface Peer {
  /** 4 or 6. */
  family: 4 | 6;
  port: number;
  /** The address bytes (a view into the receive area: copy to keep). */
  address: Uint8Array;
}

/** A bound native UDP socket. Not safe to share between threads; each worker opens its own. */
export interface NativeUdp {
  /** The bound port. */
  readonly port: number;
  /**
   * Reads the datagrams waiting, up to {@linkcode BATCH}, without blocking; their count (0 when
   * none). Each stays readable through {@linkcode datagram} and {@linkcode peer} until the next
   * call.
   */
  receive(): number;
  /** Resolves once a datagram waits to be read, or after `timeoutMs` (whichever first). */
  readable(timeoutMs: number): Promise<void>;
  /** Resolves after about `us` microseconds (without a timer of the event loop's, which counts ms). */
  pause(us: number): Promise<void>;
  /** The `i`th datagram of the last receive (a view into the receive area). */
  datagram(i: number): Uint8Array;
  /** The source of the `i`th datagram of the last receive. */
  peer(i: number): Peer;
  /** The `i`th datagram's raw sockaddr (copied), to {@linkcode sendTo} it later. */
  peerAddress(i: number): Uint8Array;
  /** Queues `reply` (at most {@linkcode RECV_SIZE} bytes) to the source of datagram `i`. */
  queue(i: number, reply: Uint8Array): void;
  /**
   * Sends the queued replies with `sendmmsg`, never blocking: replies the socket's send buffer
   * has no room for are dropped, as the kernel drops datagrams. Counts of sent and failed.
   */
  flush(): { sent: number; failed: number };
  /** Sends one datagram to a sockaddr from {@linkcode peerAddress}; false when it failed. */
  sendTo(reply: Uint8Array, address: Uint8Array): boolean;
  /** Closes the socket. A pending {@linkcode readable} resolves within its timeout. */
  close(): void;
}

/** Options of {@linkcode openNativeUdp}. */
export interface NativeUdpOptions {
  /** Set SO_REUSEPORT, so other sockets (threads, processes) can bind the same port. */
  reusePort?: boolean;
  /** SO_RCVBUF in bytes, as far as net.core.rmem_max allows (default: the system's). */
  receiveBuffer?: number;
}

/** Opens and binds a socket on `host:port` (an address literal; port 0 picks one). */
export function openNativeUdp(
  host: string,
  addressBytes: Uint8Array,
  port: number,
  options: NativeUdpOptions = {},
): NativeUdp {
  const c = load();
  const v6 = addressBytes.length === 16;
  const fd = check(
    c,
    "socket",
    c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
  );
  let open = true;
  try {
    const one = new Int32Array([1]);
    if (options.reusePort) {
      check(c, "setsockopt(SO_REUSEPORT)", c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4));
    }
    // Best effort: the kernel caps it at net.core.rmem_max (and doubles it for bookkeeping).
    if (options.receiveBuffer) {
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, new Int32Array([options.receiveBuffer]), 4);
    }
    // As node:dgram does for a "udp6" socket bound to "::": IPv4 clients too.
    if (v6) c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, new Int32Array([0]), 4);
    const addr = new Uint8Array(NAME_SIZE);
    const len = sockaddr(addr, port, addressBytes);
    check(c, `bind ${host}:${port}`, c.bind(fd, addr, len));
    const lenBox = new Uint32Array([NAME_SIZE]);
    check(c, "getsockname", c.getsockname(fd, addr, lenBox));
    const boundPort = (addr[2] << 8) | addr[3];
    return nativeSocket(c, fd, boundPort, () => open = false);
  } catch (e) {
    if (open) c.close(fd);
    throw e;
  }
}

function nativeSocket(c: Libc, fd: number, port: number, closed: () => void): NativeUdp {
  // Receive side: BATCH message headers, each with one iovec over its own RECV_SIZE buffer and
  // its own sockaddr. The pointers are written once; only lengths change per call.
  const recvData = new Uint8Array(BATCH * RECV_SIZE);
  const recvNames = new Uint8Array(BATCH * NAME_SIZE);
  const recvIov = new BigUint64Array(BATCH * 2);
  const recvMsgs = new Uint8Array(BATCH * MMSG_SIZE);
  // Send side: the same shape; replies and addresses are copied in (a reply is ~100 bytes:
  // cheaper than taking a pointer to each one).
  const sendData = new Uint8Array(BATCH * RECV_SIZE);
  const sendNames = new Uint8Array(BATCH * NAME_SIZE);
  const sendIov = new BigUint64Array(BATCH * 2);
  const sendMsgs = new Uint8Array(BATCH * MMSG_SIZE);
  const address = (a: BufferSource) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
  const layout = (
    data: Uint8Array<ArrayBuffer>,
    names: Uint8Array<ArrayBuffer>,
    iov: BigUint64Array<ArrayBuffer>,
    msgs: Uint8Array<ArrayBuffer>,
  ) => {
    const base = address(data);
    const nameBase = address(names);
    const iovBase = address(iov);
    const m64 = new BigUint64Array(msgs.buffer);
    const m32 = new Uint32Array(msgs.buffer);
    for (let i = 0; i < BATCH; i++) {
      iov[i * 2] = base + BigInt(i * RECV_SIZE);
      iov[i * 2 + 1] = BigInt(RECV_SIZE);
      const q = (i * MMSG_SIZE) / 8;
      m64[q] = nameBase + BigInt(i * NAME_SIZE); // msg_name
      m32[q * 2 + 2] = NAME_SIZE; // msg_namelen
      m64[q + 2] = iovBase + BigInt(i * 16); // msg_iov
      m64[q + 3] = 1n; // msg_iovlen
    }
    return m32;
  };
  // The kernel reads these through the pointers written above; nothing else refers to some of
  // them, so this array keeps them from being collected while the socket lives.
  const pinned = [recvData, recvNames, recvIov, recvMsgs, sendData, sendNames, sendIov, sendMsgs];
  const recv32 = layout(recvData, recvNames, recvIov, recvMsgs);
  const send32 = layout(sendData, sendNames, sendIov, sendMsgs);
  // iov_len as two 32-bit halves, so setting a reply's length makes no BigInt.
  const sendIov32 = new Uint32Array(sendIov.buffer);
  // Off the V8 heap (a small typed array may live on it and move during the call).
  const pollFd = new Uint8Array(new ArrayBuffer(64), 0, 8);
  new DataView(pollFd.buffer).setInt32(0, fd, true);
  new DataView(pollFd.buffer).setInt16(4, POLLIN, true);
  let queued = 0;
  let isOpen = true;
  let polling: Promise<unknown> | null = null;

  const peerPort = (i: number) =>
    (recvNames[i * NAME_SIZE + 2] << 8) | recvNames[i * NAME_SIZE + 3];
  return {
    port,
    receive() {
      if (!isOpen) return 0;
      // MSG_WAITFORONE is not needed: the socket is nonblocking.
      const n = c.recvmmsg(fd, recvMsgs, BATCH, 0, null);
      if (n < 0) {
        const code = errno(c);
        if (code === EAGAIN || code === EINTR) return 0;
        throw new SocketError("recvmmsg", code, errorText(c, code));
      }
      return n;
    },
    readable(timeoutMs) {
      if (!isOpen) return Promise.resolve();
      polling ??= c.poll(pollFd, 1n, timeoutMs).finally(() => polling = null);
      return polling.then(() => {});
    },
    pause(us) {
      return c.usleep(us).then(() => {});
    },
    datagram(i) {
      const len = recv32[(i * MMSG_SIZE) / 4 + 14]; // msg_len
      recv32[(i * MMSG_SIZE) / 4 + 2] = NAME_SIZE; // msg_namelen, for the next call
      return recvData.subarray(i * RECV_SIZE, i * RECV_SIZE + Math.min(len, RECV_SIZE));
    },
    peer(i) {
      const at = i * NAME_SIZE;
      const family = recvNames[at] | (recvNames[at + 1] << 8);
      return family === AF_INET
        ? { family: 4, port: peerPort(i), address: recvNames.subarray(at + 4, at + 8) }
        : { family: 6, port: peerPort(i), address: recvNames.subarray(at + 8, at + 24) };
    },
    peerAddress(i) {
      return recvNames.slice(i * NAME_SIZE, (i + 1) * NAME_SIZE);
    },
    queue(i, reply) {
      if (queued === BATCH || reply.length > RECV_SIZE) return;
      const j = queued++;
      sendData.set(reply, j * RECV_SIZE);
      sendIov32[j * 4 + 2] = reply.length; // iov_len, low half (the high half stays 0)
      sendNames.set(recvNames.subarray(i * NAME_SIZE, (i + 1) * NAME_SIZE), j * NAME_SIZE);
      send32[(j * MMSG_SIZE) / 4 + 2] = recvNames[i * NAME_SIZE] === AF_INET ? 16 : 28;
    },
    flush() {
      let sent = 0;
      let failed = 0;
      while (sent + failed < queued && isOpen) {
        const from = sent + failed;
        const n = c.sendmmsg(fd, sendMsgs.subarray(from * MMSG_SIZE), queued - from, 0);
        if (n > 0) {
          sent += n;
          continue;
        }
        const code = n < 0 ? errno(c) : 0;
        if (code === EINTR) continue;
        // A full send buffer drops the rest; any other error (a destination the kernel
        // refuses) costs only that one reply.
        if (code === EAGAIN) {
          failed += queued - from;
          break;
        }
        failed++;
      }
      queued = 0;
      return { sent, failed };
    },
    sendTo(reply, addr) {
      if (!isOpen) return false;
      const len = addr[0] === AF_INET ? 16 : 28;
      return Number(c.sendto(fd, reply, BigInt(reply.length), 0, addr, len)) >= 0;
    },
    close() {
      if (!isOpen) return;
      isOpen = false;
      pinned.length = 0;
      closed();
      // Wakes a pending poll (it returns POLLHUP) before the descriptor goes.
      c.shutdown(fd, SHUT_RDWR);
      const fdNow = fd;
      if (polling) void polling.finally(() => c.close(fdNow));
      else c.close(fdNow);
    },
  };
}
