/**
 * A Web Worker that runs {@linkcode openRecordScan} off the main thread: the node's event loop
 * (DNS answers) never waits for a slice, not even for one large state's hash. Started by
 * lib/node/store_check.ts with `{ path, sliceMs, share }`; posts `damage`, `progress`, then
 * `done` or `failed`, and ends on `stop` (answering `stopped` once its connection is closed).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  openRecordScan,
  type RecordScan,
  type ScanWorkerEvent,
  type ScanWorkerRequest,
} from "./record_scan.ts";

const post = (e: ScanWorkerEvent) => self.postMessage(e);
let scan: RecordScan | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;

self.onmessage = (e: MessageEvent<ScanWorkerRequest>) => {
  const req = e.data;
  if (req.type === "stop") {
    clearTimeout(timer);
    scan?.close();
    post({ type: "stopped", ...(scan?.counts() ?? { objects: 0, pages: 0 }) });
    return;
  }
  try {
    scan = openRecordScan(req.path, (damage) => post({ type: "damage", damage }));
  } catch (err) {
    post({ type: "failed", error: (err as Error).message });
    return;
  }
  const s = scan;
  let reported = 0;
  const tick = () => {
    const t = performance.now();
    let finished: boolean;
    try {
      finished = s.step(req.sliceMs);
    } catch (err) {
      post({ type: "failed", error: (err as Error).message });
      return;
    }
    if (finished) {
      post({ type: "done", ...s.counts() });
      return;
    }
    if (t - reported > 250) {
      reported = t;
      post({ type: "progress", ...s.counts() });
    }
    // Sleep so that the scan takes at most `share` of one core.
    const spent = performance.now() - t;
    timer = setTimeout(tick, Math.max(0, spent * (1 / req.share - 1)));
  };
  tick();
};
