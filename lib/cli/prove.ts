/**
 * `djdns prove` and `djdns verify-proof`: a portable proof of a registry answer (lib/proof),
 * written from the verified pages of a data directory and checked offline against a trust anchor.
 *
 * @module
 */
import { readAnchorFile } from "./anchor_file.ts";
import { anchorLog } from "../anchor/bundle.ts";
import { ROOT_ANCHOR, ROOT_BUNDLE } from "../anchor/root_anchor.ts";
import { typeName, typeNumber } from "../dns/types.ts";
import { openAnchor, type PageLog, type TrustAnchor } from "../page/mod.ts";
import { buildProof, type Proof, ProofError, resolveOver, verifyProof } from "../proof/mod.ts";
import type { Answer } from "../dns/message.ts";
import { formatRecord } from "./resolve.ts";
import {
  idArg,
  InputError,
  openData,
  pageAccess,
  readInputFile,
  reportErrors,
  storedLog,
  writeFileAtomic,
} from "./pagedata.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Largest proof file read. */
const MAX_PROOF_BYTES = 64 * 1024 * 1024;

/** Help of `djdns prove`. */
export const PROVE_HELP =
  `Usage: djdns prove NAME [TYPE] --out FILE [--data DIR | --node HOST:PORT] [--anchor FILE]

Write a proof that NAME (TYPE, default A) resolves as the registry answers it: the question,
the answer, and for every signed page the resolution walks, its genesis, its checkpoint chain
and state at the last checkpoint (when smaller than the history it replaces) and the head-chain
events after it with just enough approvals. 'djdns verify-proof' checks it offline. A proof shows
that the answer follows from accepted history; it cannot show that no newer change exists.

Options:
  --out FILE               where to write the proof
  --data DIR               data directory holding the verified pages (default: $XDG_DATA_HOME/djdns,
                           else ~/.local/share/djdns); read without locking
  --node HOST:PORT         fetch the pages from a running node instead (through its gossip
                           port; each is verified here, the node is not trusted)
  --anchor FILE            the root trust anchor (default: the one embedded in this build)
  -h, --help               show this help`;

/** Help of `djdns verify-proof`. */
export const VERIFY_PROOF_HELP = `Usage: djdns verify-proof FILE [--anchor FILE]

Check a proof written by 'djdns prove' offline, trusting nothing but the anchor: every page from
its genesis (or checkpoint chain), every signature and approval, every djdns: link, and the
resolution itself. Prints the verified answer; exits 1 with the reason when anything does not
check.

Options:
  --anchor FILE            the root trust anchor (default: the one embedded in this build)
  -h, --help               show this help`;

async function anchorOf(file: string | undefined): Promise<TrustAnchor> {
  if (file === undefined) return ROOT_ANCHOR;
  try {
    return await readAnchorFile(file);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

function qtypeArg(raw: string | undefined): string {
  const n = typeNumber(raw ?? "A");
  if (n === undefined) throw new UsageError(`unknown record type '${raw}'`);
  return typeName(n);
}

function printAnswer(rcode: number, answers: readonly Answer[]): void {
  const names: Record<number, string> = { 0: "NOERROR", 3: "NXDOMAIN" };
  console.log(`;; status: ${names[rcode] ?? rcode}`);
  for (const a of answers) console.log(formatRecord(a));
}

/** The proof from the verified pages of a data directory (read without locking). */
async function proveFromData(
  dir: string | undefined,
  anchor: TrustAnchor,
  anchorFile: string | undefined,
  name: string,
  qtype: string,
): Promise<Proof> {
  const store = openData(dir, "read");
  try {
    const logs = new Map<string, PageLog>();
    const lookup = (id: string) => {
      if (!logs.has(id)) {
        try {
          logs.set(id, storedLog(store, idArg(id)));
        } catch {
          return undefined;
        }
      }
      return logs.get(id);
    };
    // The root: as the data directory holds it, else the anchor (with the build's bundle).
    let root = lookup(anchor.page);
    if (!root) {
      root = anchorFile === undefined ? anchorLog(ROOT_ANCHOR, ROOT_BUNDLE) : openAnchor(anchor);
    }
    return await buildProof(root, lookup, name, qtype);
  } finally {
    store.close();
  }
}

/**
 * The proof from the pages a running node holds: each page the walk reaches is fetched through
 * the node's gossip port and verified here from its genesis (the node is not trusted; the proof
 * is checked again by whoever verifies it). At most 16 rounds: the resolver's page depth.
 */
async function proveThroughNode(
  values: Record<string, unknown>,
  anchor: TrustAnchor,
  name: string,
  qtype: string,
): Promise<Proof> {
  const access = await pageAccess({ node: values.node });
  try {
    const logs = new Map<string, PageLog>([[anchor.page, await access.load(anchor.page)]]);
    for (let round = 0; round < 16; round++) {
      const missing = new Set<string>();
      const lookup = (id: string) => {
        const log = logs.get(id);
        if (!log) missing.add(id);
        return log;
      };
      await resolveOver(logs.get(anchor.page)!, lookup, name, qtype).catch(() => {});
      if (missing.size === 0) break;
      for (const id of missing) {
        try {
          logs.set(id, await access.load(id));
        } catch (e) {
          throw new InputError(`page ${id} on the walk: ${(e as Error).message}`);
        }
      }
    }
    return await buildProof(logs.get(anchor.page)!, (id) => logs.get(id), name, qtype);
  } finally {
    access.close();
  }
}

/** Runs `djdns prove …`. */
export async function proveMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    out: { type: "string" },
    data: { type: "string" },
    node: { type: "string" },
    anchor: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    console.log(PROVE_HELP);
    return 0;
  }
  const [name, rawType] = positionals;
  if (!name) throw new UsageError("prove needs a NAME");
  const qtype = qtypeArg(rawType);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError("prove needs --out FILE");
  if (values.data !== undefined && values.node !== undefined) {
    throw new UsageError("--data and --node exclude each other");
  }
  return await reportErrors(async () => {
    const anchorFile = values.anchor as string | undefined;
    const anchor = await anchorOf(anchorFile);
    let proof: Proof;
    try {
      proof = await (values.node !== undefined
        ? proveThroughNode(values, anchor, name, qtype)
        : proveFromData(values.data as string | undefined, anchor, anchorFile, name, qtype));
    } catch (e) {
      if (e instanceof ProofError) throw new InputError(e.message);
      throw e;
    }
    const text = JSON.stringify(proof) + "\n";
    await writeFileAtomic(out, text);
    const events = proof.pages.reduce((n, p) => n + p.events.length, 0);
    const cps = proof.pages.filter((p) => p.checkpoints?.length).length;
    console.error(
      `wrote a proof of ${proof.name} ${qtype} to ${out}: ${
        new TextEncoder().encode(text).length
      } ` +
        `bytes, ${proof.pages.length} page(s) (${cps} from a checkpoint), ${events} event(s)`,
    );
    printAnswer(proof.answer.rcode, proof.answer.answers);
    return 0;
  });
}

/** Runs `djdns verify-proof …`. */
export async function verifyProofMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    anchor: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 1);
  if (values.help) {
    console.log(VERIFY_PROOF_HELP);
    return 0;
  }
  const [file] = positionals;
  if (!file) throw new UsageError("verify-proof needs a FILE");
  return await reportErrors(async () => {
    const anchor = await anchorOf(values.anchor as string | undefined);
    let proof: Proof;
    const text = await readInputFile(file, MAX_PROOF_BYTES);
    try {
      proof = JSON.parse(text);
    } catch (e) {
      throw new InputError(`${file}: not JSON (${(e as Error).message})`);
    }
    let r;
    try {
      r = await verifyProof(proof, anchor);
    } catch (e) {
      throw new InputError(`${file}: proof refused: ${(e as Error).message}`);
    }
    console.error(
      `${file}: verified from the anchor ${anchor.page} through ${r.pages} signed page(s)`,
    );
    printAnswer(r.rcode, r.answers);
    return 0;
  });
}
