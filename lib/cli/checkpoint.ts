/**
 * `djdns checkpoint propose|approve`: participants agree that the state at the head hashes to a
 * value (PROTOCOL §9), so that new nodes can start there instead of replaying old history.
 *
 * A checkpoint needs approvals reaching the membership threshold of the previous checkpoint's
 * governance (the genesis governance for the first). Until it has them it is pending: with a
 * data directory it waits in `pending-checkpoints.json` beside the store (which keeps verified
 * objects only); with a node it is published and the node holds it. The approval that makes it
 * valid moves it into the page's verified chain.
 *
 * @module
 */
import {
  approveCheckpoint,
  type Checkpoint,
  type CheckpointApproval,
  countPower,
  createCheckpoint,
  type Governance,
  objectId,
  type PageLog,
  type SignedObject,
  stateHash,
  verifyCheckpointApproval,
  voteTable,
} from "../page/mod.ts";
import { type ParticipantKey, readKeyFile } from "./key.ts";
import {
  ACCESS_HELP,
  ACCESS_OPTIONS,
  idArg,
  InputError,
  type PageAccess,
  pageAccess,
  reportErrors,
} from "./pagedata.ts";
import { weightText } from "./propose.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns checkpoint`. */
export const CHECKPOINT_HELP =
  `Usage: djdns checkpoint propose PAGE-ID --key FILE (--data DIR | --node HOST:PORT)
       djdns checkpoint approve PAGE-ID CHECKPOINT-ID --key FILE (--data DIR | --node HOST:PORT)

Checkpoints let new nodes skip old history: participants approve "the state at event E hashes
to H". A checkpoint is valid once its approvals reach the membership threshold of the previous
checkpoint's governance (which must be above 0.5). 'djdns page show' lists pending checkpoints
with their approving power.

Commands:
  propose PAGE-ID          propose a checkpoint at the head, approved with your key; prints
                           its id last
  approve PAGE-ID CP-ID    approve a pending checkpoint; prints its id last

Options:
  --key FILE               your key file (a participant of the previous checkpoint's
                           governance)
${ACCESS_HELP}
  -h, --help               show this help`;

/** A pending checkpoint with its verified approvals and their power. */
export interface PendingCheckpoint {
  readonly id: string;
  readonly checkpoint: Checkpoint;
  readonly approvals: CheckpointApproval[];
  /** Approving power in micro-weight. */
  readonly power: number;
  /** Power needed, in micro-weight. */
  readonly needed: number;
}

/** The governance that approves the next checkpoint of `log`'s chain. */
export function chainGovernance(log: PageLog): Governance {
  return log.checkpoints().at(-1)?.checkpoint.governance ?? log.genesis.state.governance;
}

function tipId(log: PageLog): string | null {
  const last = log.checkpoints().at(-1);
  return last ? objectId(last.checkpoint) : null;
}

/**
 * The checkpoints among `objects` that extend `log`'s chain and match its history (event accepted
 * at that height with that state hash), each with its approvals whose signatures verify and
 * whose keys are participants of the approving governance, and their power. Stale or forged
 * proposals are left out.
 */
export function pendingCheckpoints(log: PageLog, objects: SignedObject[]): PendingCheckpoint[] {
  const gov = chainGovernance(log);
  const table = voteTable(gov);
  const needed = table.membershipPpm * table.totalWeight;
  const prev = tipId(log);
  const out: PendingCheckpoint[] = [];
  for (const cp of objects) {
    if (cp.type !== "checkpoint" || cp.page !== log.pageId || cp.prev !== prev) continue;
    const state = log.stateAt(cp.event);
    if (
      state === undefined || log.status(cp.event).status !== "accepted" ||
      log.height(cp.event) !== cp.height || stateHash(state) !== cp.stateHash
    ) continue;
    const id = objectId(cp);
    const byKey = new Map<string, CheckpointApproval>();
    for (const a of objects) {
      if (
        a.type === "checkpoint-approval" && a.checkpoint === id && a.page === log.pageId &&
        table.power.has(a.key) && !byKey.has(a.key) && verifyCheckpointApproval(a)
      ) byKey.set(a.key, a);
    }
    if (out.some((p) => p.id === id)) continue;
    out.push({
      id,
      checkpoint: cp,
      approvals: [...byKey.values()],
      power: countPower(table, byKey, new Set()),
      needed,
    });
  }
  return out;
}

/** Adds `approval` to the pending checkpoint; moves it into the chain once it is valid. */
async function settle(
  access: PageAccess,
  log: PageLog,
  held: SignedObject[],
  cp: Checkpoint,
  added: SignedObject[],
): Promise<PendingCheckpoint> {
  const all = [...held, ...added];
  const id = objectId(cp);
  const p = pendingCheckpoints(log, all).find((x) => x.id === id)!;
  if (p.power >= p.needed) {
    try {
      log.addCheckpoint({ checkpoint: cp, approvals: p.approvals });
    } catch (e) {
      throw new InputError(`checkpoint ${id}: ${(e as Error).message}`);
    }
    await access.submit(log, [cp, ...p.approvals]);
    // Proposals that extended the old tip are stale now.
    await access.submitPending(log.pageId, [], []);
  } else {
    // Keep only what still counts: live proposals and their approvals.
    const live = new Set(pendingCheckpoints(log, all).map((x) => x.id));
    const keep = all.filter((o) =>
      (o.type === "checkpoint" && live.has(objectId(o))) ||
      (o.type === "checkpoint-approval" && live.has(o.checkpoint))
    );
    await access.submitPending(log.pageId, keep, added);
  }
  return p;
}

/**
 * A checkpoint is a function of the history (page, previous checkpoint, event, height, state hash,
 * governance): one proposed at an event of the head chain after the last checkpoint can be built
 * again from the log when only its id is known (a node holds pending checkpoints but does not hand
 * them out).
 */
function rebuild(log: PageLog, id: string): Checkpoint | undefined {
  const last = log.checkpoints().at(-1)?.checkpoint.event;
  const chain = log.headChain();
  for (const ev of chain.slice(last === undefined ? 0 : chain.indexOf(last) + 1)) {
    if (ev === log.pageId) continue;
    const cp = createCheckpoint(log, ev);
    if (objectId(cp) === id) return cp;
  }
  return undefined;
}

function requireChainParticipant(log: PageLog, key: ParticipantKey, keyFile: string) {
  if (!Object.hasOwn(chainGovernance(log).participants, key.publicHex)) {
    throw new InputError(
      `key ${key.publicHex} (${keyFile}) is not a participant of the governance that approves ` +
        `checkpoints of page ${log.pageId}`,
    );
  }
  const table = voteTable(chainGovernance(log));
  if (table.membershipPpm * 2 <= 1_000_000) {
    throw new InputError(
      `page ${log.pageId}: the membership threshold must be above 0.5 to approve checkpoints`,
    );
  }
}

function report(p: PendingCheckpoint, access: PageAccess): void {
  const valid = p.power >= p.needed;
  if (!valid && access.describe.startsWith("node ")) {
    // A node keeps pending checkpoints to itself: what we count is only what we signed.
    console.error(
      `checkpoint ${p.id} at height ${p.checkpoint.height} published to ${access.describe}, ` +
        "which holds it until approvals with enough power reach it (send them to the same node); " +
        `needs ${weightText(p.needed)}`,
    );
    return;
  }
  console.error(
    `checkpoint ${p.id} at height ${p.checkpoint.height} (event ${p.checkpoint.event}) on ` +
      `${access.describe}: ${valid ? "valid, now part of the chain" : "pending"} ` +
      `(approving power ${weightText(p.power)}, needs ${weightText(p.needed)})`,
  );
}

/** Runs `djdns checkpoint …`. */
export async function checkpointMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...ACCESS_OPTIONS,
    key: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 3);
  if (values.help) {
    console.log(CHECKPOINT_HELP);
    return 0;
  }
  const [command, rawPage, rawCp] = positionals;
  if (command !== "propose" && command !== "approve") {
    throw new UsageError(
      command === undefined
        ? "missing command: propose or approve"
        : `unknown checkpoint command '${command}'`,
    );
  }
  const pageId = idArg(rawPage);
  const cpId = command === "approve" ? idArg(rawCp, "CHECKPOINT-ID") : undefined;
  if (command === "propose" && rawCp !== undefined) {
    throw new UsageError(`unexpected argument '${rawCp}'`);
  }
  const keyFile = values.key as string | undefined;
  if (!keyFile) throw new UsageError("--key FILE is required");
  return await reportErrors(async () => {
    const key = await readKeyFile(keyFile);
    const access = await pageAccess(values);
    try {
      const log = await access.load(pageId);
      requireChainParticipant(log, key, keyFile);
      const held = await access.pending(pageId);
      let cp: Checkpoint;
      if (command === "propose") {
        if (log.height(log.head()) === 0) {
          throw new InputError(`page ${pageId} has no event yet: nothing to checkpoint`);
        }
        if (log.checkpoints().some((l) => l.checkpoint.event === log.head())) {
          throw new InputError(`the head ${log.head()} is checkpointed already`);
        }
        cp = createCheckpoint(log);
      } else {
        if (log.checkpoints().some((l) => objectId(l.checkpoint) === cpId)) {
          console.error(`checkpoint ${cpId} is valid already (part of the chain)`);
          console.log(cpId);
          return 0;
        }
        const found = pendingCheckpoints(log, held).find((p) => p.id === cpId)?.checkpoint ??
          rebuild(log, cpId!);
        if (found === undefined) {
          throw new InputError(
            `checkpoint ${cpId} is not a pending checkpoint of page ${pageId} (${access.describe})`,
          );
        }
        cp = found;
      }
      const id = objectId(cp);
      const mine = pendingCheckpoints(log, held).find((p) => p.id === id)?.approvals
        .some((a) => a.key === key.publicHex);
      const added: SignedObject[] = mine ? [] : [approveCheckpoint(key.secretKey, cp)];
      if (!held.some((o) => objectId(o) === id)) added.unshift(cp);
      const settled = await settle(access, log, held, cp, added);
      if (settled.power < settled.needed && access.describe.startsWith("node ")) {
        // The node may hold approvals we cannot see: ask it whether the chain moved.
        const after = await access.load(pageId);
        if (after.checkpoints().some((l) => objectId(l.checkpoint) === id)) {
          console.error(`checkpoint ${id}: valid at ${access.describe}, now part of the chain`);
          console.log(id);
          return 0;
        }
      }
      report(settled, access);
      console.log(id);
      return 0;
    } finally {
      access.close();
    }
  });
}
