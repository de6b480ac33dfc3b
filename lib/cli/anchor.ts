/**
 * `djdns anchor export`: a trust anchor file for a page the data directory holds, so that a node
 * can be rooted there (`djdns run --anchor FILE`) and proofs checked against it
 * (`djdns verify-proof --anchor FILE`). Format: docs/PROTOCOL.md §10.1, lib/anchor/file.ts.
 *
 * @module
 */
import { encodeAnchorFile } from "../anchor/file.ts";
import { openAnchor, type TrustAnchor } from "../page/mod.ts";
import {
  idArg,
  InputError,
  openData,
  reportErrors,
  storedLog,
  writeFileAtomic,
} from "./pagedata.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns anchor`. */
export const ANCHOR_HELP = `Usage: djdns anchor export PAGE-ID --data DIR --out FILE

Write a trust anchor for a page: its id and genesis, and its checkpoint chain with the state at
the last checkpoint when it has one (a node rooted there verifies only the events after it).
Reads the data directory without locking it (works beside a running node).

Options:
  --data DIR               data directory holding the page
  --out FILE               where to write the anchor (replaced atomically)
  -h, --help               show this help`;

/** The trust anchor of a verified page log (with its checkpoint chain, if any). */
export function anchorOf(log: ReturnType<typeof openAnchor>): TrustAnchor {
  const chain = log.checkpoints();
  if (chain.length === 0) return { page: log.pageId, genesis: log.genesis };
  const last = chain.at(-1)!.checkpoint;
  const state = log.stateAt(last.event);
  if (state === undefined) {
    throw new InputError(`page ${log.pageId}: no state at checkpoint event ${last.event}`);
  }
  return { page: log.pageId, genesis: log.genesis, checkpoints: chain, state };
}

/** Runs `djdns anchor …`. */
export async function anchorMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    data: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    console.log(ANCHOR_HELP);
    return 0;
  }
  if (positionals[0] !== "export") {
    throw new UsageError(
      positionals[0] === undefined
        ? "missing command: export"
        : `unknown anchor command '${positionals[0]}'`,
    );
  }
  const pageId = idArg(positionals[1]);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError("anchor export needs --out FILE");
  return await reportErrors(async () => {
    const store = openData(values.data as string | undefined, "read");
    let anchor: TrustAnchor;
    try {
      anchor = anchorOf(storedLog(store, pageId));
    } finally {
      store.close();
    }
    // What is written must open: the same check a node makes.
    openAnchor(anchor);
    await writeFileAtomic(out, encodeAnchorFile(anchor));
    const cps = anchor.checkpoints?.length ?? 0;
    console.error(
      `wrote the trust anchor of page ${pageId} to ${out}` +
        (cps ? ` (${cps} checkpoint(s))` : " (genesis only)"),
    );
    console.log(pageId);
    return 0;
  });
}
