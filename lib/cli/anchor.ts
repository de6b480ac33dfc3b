/**
 * `djdns anchor export`: a trust anchor file for a page the data directory holds, so that a node
 * can be rooted there (`djdns run --anchor FILE`) and proofs checked against it
 * (`djdns verify-proof --anchor FILE`). Format: docs/PROTOCOL.md §10.1, lib/anchor/file.ts.
 *
 * @module
 */
import { anchorLog } from "../anchor/bundle.ts";
import { encodeAnchorFile } from "../anchor/file.ts";
import { ROOT_ANCHOR, ROOT_BUNDLE, ROOT_IS_TESTNET, ROOT_PAGE_ID } from "../anchor/root_anchor.ts";
import { openAnchor, type TrustAnchor } from "../page/mod.ts";
import {
  idArg,
  InputError,
  openData,
  pageAccess,
  reportErrors,
  storedLog,
  writeFileAtomic,
} from "./pagedata.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns anchor`. */
export const ANCHOR_HELP =
  `Usage: djdns anchor export PAGE-ID (--data DIR | --node HOST:PORT) --out FILE
       djdns anchor show [--json]

show: print the root trust anchor embedded in this build (the page id, whether it is the public
testnet, its participants and thresholds, the bundled history and the head it leads to); with
--json, the anchor file itself.

export: write a trust anchor for a page: its id and genesis, and its checkpoint chain with the
state at the last checkpoint when it has one (a node rooted there verifies only the events after
it). Reads the data directory without locking it (works beside a running node), or fetches the
page from a running node and verifies it here.

Options:
  --data DIR               data directory holding the page
  --node HOST:PORT         a running node holding the page (its gossip port)
  --out FILE               where to write the anchor (replaced atomically)
  --json                   show: print the embedded anchor file
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
    node: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    console.log(ANCHOR_HELP);
    return 0;
  }
  if (positionals[0] === "show") {
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    return showEmbedded(values.json === true);
  }
  if (values.json) throw new UsageError("--json belongs to anchor show");
  if (positionals[0] !== "export") {
    throw new UsageError(
      positionals[0] === undefined
        ? "missing command: export or show"
        : `unknown anchor command '${positionals[0]}'`,
    );
  }
  const pageId = idArg(positionals[1]);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError("anchor export needs --out FILE");
  if (values.data !== undefined && values.node !== undefined) {
    throw new UsageError("--data and --node exclude each other");
  }
  return await reportErrors(async () => {
    let anchor: TrustAnchor;
    if (values.node !== undefined) {
      // The node's copy, verified here from the genesis (and its checkpoint chain).
      const access = await pageAccess({ node: values.node });
      try {
        anchor = anchorOf(await access.load(pageId));
      } finally {
        access.close();
      }
    } else {
      const store = openData(values.data as string | undefined, "read");
      try {
        anchor = anchorOf(storedLog(store, pageId));
      } finally {
        store.close();
      }
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

// `anchor show`: the embedded root anchor, verified, with the head its bundle leads to.
function showEmbedded(json: boolean): number {
  if (json) {
    console.log(encodeAnchorFile(ROOT_ANCHOR).trimEnd());
    return 0;
  }
  const log = anchorLog(ROOT_ANCHOR, ROOT_BUNDLE);
  const gov = log.state().governance;
  const lines = [
    `root page   ${ROOT_PAGE_ID}`,
    `network     ${
      ROOT_IS_TESTNET
        ? "TESTNET (its keys are published in testnet/keys: anyone can change it)"
        : "production (chosen at build time)"
    }`,
    `checkpoints ${ROOT_ANCHOR.checkpoints?.length ?? 0}`,
    `bundled     ${ROOT_BUNDLE.length} object(s) after the anchor, head ${log.head()}`,
  ];
  if (gov) {
    lines.push(
      `thresholds  content ${gov.thresholds.content}, membership ${gov.thresholds.membership}`,
    );
    for (const [key, p] of Object.entries(gov.participants)) {
      lines.push(`participant ${key} weight ${p.weight}${p.name ? ` (${p.name})` : ""}`);
    }
  }
  console.log(lines.join("\n"));
  return 0;
}
