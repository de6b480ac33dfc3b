/**
 * Request/response over a libp2p stream: varint length-prefixed frames of UTF-8 JSON, one
 * response per request, several requests per stream. Every frame is bounded
 * ({@linkcode MAX_FRAME}), every read has a deadline, and a stream carries a bounded number of
 * requests. docs/PROTOCOL.md §15.
 *
 * @module
 */
import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";

/** Largest frame (a genesis may be 8 MiB; JSON escaping adds a little). */
export const MAX_FRAME = 9 * 1024 * 1024;
/** Longest wait for the next request on an open stream, or for a response. */
export const FRAME_TIMEOUT_MS = 10_000;
/** Most requests served on one stream. */
export const MAX_REQUESTS_PER_STREAM = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A frame that is not JSON, too large, or late: the sender broke the protocol. */
export class FrameError extends Error {
  override name = "FrameError";
}

/** What a served request turned out to be, for counters and scoring. */
export type ServeEvent = "garbage" | "timeout" | "served";

/**
 * Serves requests on an inbound stream until the remote closes it, breaks the protocol or goes
 * quiet: `handle` gets each parsed JSON value and returns the response (or throws; a thrown
 * error ends the stream after an `err` response and counts as garbage).
 */
export async function serveStream(
  stream: Stream,
  connection: Connection,
  handle: (request: unknown, peer: string) => unknown | Promise<unknown>,
  report: (event: ServeEvent, detail?: string) => void,
): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME });
  const peer = connection.remotePeer.toString();
  try {
    for (let i = 0; i < MAX_REQUESTS_PER_STREAM; i++) {
      let frame: Uint8Array;
      try {
        frame = (await lp.read({ signal: AbortSignal.timeout(FRAME_TIMEOUT_MS) })).subarray();
      } catch (e) {
        const name = (e as Error).name;
        if (name === "UnexpectedEOFError" || (e as { code?: string }).code === "ERR_UNDER_READ") {
          return; // the client is done
        }
        if (name === "TimeoutError" || name === "AbortError") report("timeout");
        else report("garbage", (e as Error).message);
        stream.abort(e as Error);
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(decoder.decode(frame));
      } catch {
        report("garbage", "frame is not UTF-8 JSON");
        await writeFrame(lp, { t: "err", code: "malformed", message: "not JSON" });
        stream.abort(new FrameError("not JSON"));
        return;
      }
      let response: unknown;
      try {
        response = await handle(value, peer);
      } catch (e) {
        report("garbage", (e as Error).message);
        await writeFrame(lp, {
          t: "err",
          code: "malformed",
          message: String((e as Error).message).slice(0, 200),
        });
        await stream.close().catch(() => stream.abort(e as Error));
        return;
      }
      report("served");
      await writeFrame(lp, response);
    }
    await stream.close();
  } catch (e) {
    stream.abort(e as Error);
  }
}

async function writeFrame(lp: ReturnType<typeof lpStream>, value: unknown): Promise<void> {
  const bytes = encoder.encode(JSON.stringify(value));
  if (bytes.length > MAX_FRAME) throw new FrameError("response frame too large");
  await lp.write(bytes, { signal: AbortSignal.timeout(FRAME_TIMEOUT_MS) });
}

/** The client end of a request/response stream. */
export interface RpcClient {
  /** Sends one request and returns the response's parsed JSON. */
  call(request: unknown): Promise<unknown>;
  /** Closes the stream. */
  close(): Promise<void>;
}

/** Wraps an outbound stream as an {@linkcode RpcClient}. */
export function rpcClient(stream: Stream, timeoutMs = FRAME_TIMEOUT_MS): RpcClient {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME });
  return {
    async call(request) {
      const bytes = encoder.encode(JSON.stringify(request));
      if (bytes.length > MAX_FRAME) throw new FrameError("request frame too large");
      const signal = AbortSignal.timeout(timeoutMs);
      await lp.write(bytes, { signal });
      const frame = (await lp.read({ signal })).subarray();
      try {
        return JSON.parse(decoder.decode(frame));
      } catch {
        throw new FrameError("response is not UTF-8 JSON");
      }
    },
    async close() {
      try {
        await stream.close({ signal: AbortSignal.timeout(2000) });
      } catch (e) {
        stream.abort(e as Error);
      }
    },
  };
}
