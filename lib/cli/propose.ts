/**
 * `djdns propose`, `djdns approve` and `djdns delegate`: a moderator's changes to a page.
 *
 * Each command verifies the page from its genesis, checks that the key is a participant where
 * its signature would count, signs, feeds what it signed into the page engine (which verifies it
 * again) and only then stores or publishes it. The proposer's signature is its approval. A
 * participant that approved one child of an event and then another equivocates (its power then
 * counts for neither, PROTOCOL §8), so these commands refuse to sign a second child of the same
 * parent with the same key.
 *
 * Output: notes on stderr, the id of what was created on stdout (the last and only line), so
 * `ID=$(djdns propose …)` works.
 *
 * @module
 */
import {
  approve,
  type EventStatus,
  type Json,
  objectId,
  type PageEvent,
  type PageLog,
  proposeEvent,
  SignedPageError,
} from "../page/mod.ts";
import { buildChange, CHANGE_HELP, describeEvent, eventFor } from "./change.ts";
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
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns propose`. */
export const PROPOSE_HELP =
  `Usage: djdns propose PAGE-ID --key FILE (--data DIR | --node HOST:PORT) CHANGE

Propose a change on the head of a page, signed with the key in FILE; the proposer's signature
is its approval. Prints the new event id last. The key must be a participant of the page.

Options:
  --key FILE               the proposer's key file (see 'djdns key')
${ACCESS_HELP}
  --ttl N                  add-record: the record's TTL in seconds (default 1800)
  -h, --help               show this help

${CHANGE_HELP}`;

/** Help of `djdns approve`. */
export const APPROVE_HELP =
  `Usage: djdns approve PAGE-ID EVENT-ID --key FILE (--data DIR | --node HOST:PORT)

Approve a pending event of a page with the key in FILE (a participant of the state the event
applies to). Prints the event id last, and on stderr whether the event is now accepted. Refuses to
approve a second child of the same parent event (that would be equivocation, and the key's power
would count for neither).

Options:
  --key FILE               the approver's key file
${ACCESS_HELP}
  -h, --help               show this help`;

/** Help of `djdns delegate`. */
export const DELEGATE_HELP =
  `Usage: djdns delegate PAGE-ID --key FILE --to PUB=PERCENT... (--data DIR | --node HOST:PORT)
       djdns delegate PAGE-ID --key FILE --revoke (--data DIR | --node HOST:PORT)

Hand a share of your vote power to other participants while you are away ("digitally
distributed democracy"): each --to PUB=PERCENT gives PUB that percent of your power on every
event you do not approve yourself (a direct approval always overrides). At most 8 delegates, the
percents adding up to at most 100, with at most four decimals. --revoke removes all your
delegations. A delegation replaces the previous one; it needs only your own signature. Prints
the event id last.

Options:
  --key FILE               the delegator's key file
  --to PUB=PERCENT         a delegate and its share (repeatable)
  --revoke                 remove all delegations
${ACCESS_HELP}
  -h, --help               show this help`;

/** `1.5` for 1_500_000 micro-weight. */
export function weightText(micro: number): string {
  return String(micro / 1e6);
}

/** "power 1 of 1.02 needed (content)", for an event status. */
export function powerText(s: EventStatus): string {
  const track = s.track === undefined
    ? ""
    : s.track.kind === "delegation"
    ? ", delegation track of " + s.track.delegator.slice(0, 12) + "…"
    : `, ${s.track.kind} track`;
  if (s.power === undefined || s.needed === undefined) return track.slice(2);
  return `approving power ${weightText(s.power)}, needs ${weightText(s.needed)}${track}`;
}

/** One line: the status of an event and why. */
export function statusText(s: EventStatus): string {
  switch (s.status) {
    case "accepted":
      return `accepted${s.power !== undefined ? ` (${powerText(s)})` : ""}`;
    case "pending":
      return `pending: ${s.code === "insufficient-power" ? powerText(s) : (s.reason ?? s.code)}`;
    case "rejected":
      return `rejected: ${s.code}${s.reason ? `: ${s.reason}` : ""}`;
    case "lost-fork":
      return "lost-fork: accepted but not on the head chain; propose it again on the head";
    case "unknown":
      return "unknown";
  }
}

/** The sibling of `eventId` (another child of `parent`) that `key` approved, if any. */
export function approvedSibling(
  log: PageLog,
  key: string,
  parent: string,
  eventId?: string,
): string | undefined {
  for (const e of log.events()) {
    if (e.parent !== parent) continue;
    const id = objectId(e);
    if (id === eventId) continue;
    if (log.approvals(id).some((a) => a.key === key)) return id;
  }
  return undefined;
}

function requireParticipant(log: PageLog, key: ParticipantKey, keyFile: string, at: string) {
  const state = log.stateAt(at);
  if (state === undefined) {
    throw new InputError(`event ${at} has no state here yet (its history is incomplete)`);
  }
  if (!Object.hasOwn(state.governance.participants, key.publicHex)) {
    throw new InputError(
      `key ${key.publicHex} (${keyFile}) is not a participant of page ${log.pageId}` +
        (at === log.head() ? "" : ` at event ${at}`),
    );
  }
}

/**
 * Signs `change` on the head of the log, checks, feeds and submits it; prints the id. The common
 * end of propose, delegate and zone import.
 */
export async function proposeOnHead(
  access: PageAccess,
  log: PageLog,
  key: ParticipantKey,
  keyFile: string,
  change: { handler: PageEvent["handler"]; args: Json; summary: string },
): Promise<string> {
  const head = log.head();
  requireParticipant(log, key, keyFile, head);
  let event: PageEvent;
  try {
    event = eventFor(log.pageId, head, log.state(), change).event;
  } catch (e) {
    if (e instanceof SignedPageError) {
      throw new InputError(`the change would be rejected: ${e.message}`);
    }
    throw e;
  }
  const id = objectId(event);
  const sibling = approvedSibling(log, key.publicHex, head, id);
  if (sibling !== undefined) {
    throw new InputError(
      `${keyFile} already approved event ${sibling} on the head ${head}; a second proposal there ` +
        "would be equivocation: get that one accepted (or approve it) first, or combine changes",
    );
  }
  const approval = approve(key.secretKey, event);
  try {
    log.addEvent(event);
    log.addApproval(approval);
  } catch (e) {
    throw new InputError(`refused by the page engine: ${(e as Error).message}`);
  }
  await access.submit(log, [event, approval]);
  console.error(`proposed on ${access.describe}: ${change.summary}`);
  console.error(`event ${id}: ${statusText(log.status(id))}`);
  console.log(id);
  return id;
}

const KEY_OPTIONS = {
  ...ACCESS_OPTIONS,
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function keyFileArg(values: Record<string, unknown>): string {
  const k = values.key as string | undefined;
  if (!k) throw new UsageError("--key FILE is required");
  return k;
}

/** Opens the access and the verified log, runs `body`, closes. */
async function withPage(
  values: Record<string, unknown>,
  pageId: string,
  body: (access: PageAccess, log: PageLog, key: ParticipantKey, keyFile: string) => Promise<void>,
): Promise<number> {
  return await reportErrors(async () => {
    const keyFile = keyFileArg(values);
    const key = await readKeyFile(keyFile);
    const access = await pageAccess(values);
    try {
      await body(access, await access.load(pageId), key, keyFile);
      return 0;
    } finally {
      access.close();
    }
  });
}

/** Runs `djdns propose …`. */
export async function proposeMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...KEY_OPTIONS,
    ttl: { type: "string" },
  });
  if (values.help) {
    console.log(PROPOSE_HELP);
    return 0;
  }
  const pageId = idArg(positionals[0]);
  const words = positionals.slice(1);
  if (words.length === 0) throw new UsageError("missing CHANGE");
  keyFileArg(values);
  return await withPage(values, pageId, async (access, log, key, keyFile) => {
    const change = buildChange(log.state(), words, values.ttl as string | undefined);
    await proposeOnHead(access, log, key, keyFile, change);
  });
}

/** Runs `djdns approve …`. */
export async function approveMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, KEY_OPTIONS, 2);
  if (values.help) {
    console.log(APPROVE_HELP);
    return 0;
  }
  const pageId = idArg(positionals[0]);
  const eventId = idArg(positionals[1], "EVENT-ID");
  keyFileArg(values);
  return await withPage(values, pageId, async (access, log, key, keyFile) => {
    const event = log.events().find((e) => objectId(e) === eventId);
    if (event === undefined) {
      throw new InputError(`event ${eventId} is not in page ${pageId} (${access.describe})`);
    }
    const before = log.status(eventId);
    if (before.status === "rejected") {
      throw new InputError(
        `event ${eventId} was ${statusText(before)}; approving it changes nothing`,
      );
    }
    requireParticipant(log, key, keyFile, event.parent);
    if (log.approvals(eventId).some((a) => a.key === key.publicHex)) {
      console.error(`${keyFile} approved event ${eventId} already: ${statusText(before)}`);
      console.log(eventId);
      return;
    }
    const sibling = approvedSibling(log, key.publicHex, event.parent, eventId);
    if (sibling !== undefined) {
      throw new InputError(
        `${keyFile} already approved event ${sibling}, another child of ${event.parent}; ` +
          "approving this one too would be equivocation (the key's power would count for neither)",
      );
    }
    const approval = approve(key.secretKey, event);
    try {
      log.addApproval(approval);
    } catch (e) {
      throw new InputError(`refused by the page engine: ${(e as Error).message}`);
    }
    await access.submit(log, [approval]);
    console.error(`approved on ${access.describe}: ${describeEvent(event)}`);
    console.error(`event ${eventId}: ${statusText(log.status(eventId))}`);
    console.log(eventId);
  });
}

/** Parses `PUB=PERCENT` into a delegate and a fraction (exact, at most six decimals). */
export function delegationArg(text: string, self: string): [string, number] {
  const m = /^([0-9a-f]{64})=(\d{1,3}(?:\.\d{1,4})?)%?$/.exec(text);
  if (!m) throw new UsageError(`--to '${text}' is not PUB=PERCENT (PERCENT up to four decimals)`);
  const [int, dec = ""] = m[2].split(".");
  const ppm = Number(int) * 10_000 + Number(dec.padEnd(4, "0"));
  if (ppm <= 0 || ppm > 1_000_000) {
    throw new UsageError(`--to '${text}': PERCENT must be above 0 and at most 100`);
  }
  if (m[1] === self) throw new UsageError("--to: a participant cannot delegate to itself");
  return [m[1], ppm / 1_000_000];
}

/** Runs `djdns delegate …`. */
export async function delegateMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...KEY_OPTIONS,
    to: { type: "string", multiple: true },
    revoke: { type: "boolean" },
  }, 1);
  if (values.help) {
    console.log(DELEGATE_HELP);
    return 0;
  }
  const pageId = idArg(positionals[0]);
  const to = (values.to as string[] | undefined) ?? [];
  if (values.revoke && to.length > 0) throw new UsageError("--to and --revoke exclude each other");
  if (!values.revoke && to.length === 0) throw new UsageError("give --to PUB=PERCENT or --revoke");
  if (to.length > 8) throw new UsageError("at most 8 delegates");
  keyFileArg(values);
  return await withPage(values, pageId, async (access, log, key, keyFile) => {
    const delegations: Record<string, number> = {};
    let total = 0;
    for (const t of to) {
      const [d, f] = delegationArg(t, key.publicHex);
      if (Object.hasOwn(delegations, d)) throw new UsageError(`--to: ${d} given twice`);
      delegations[d] = f;
      total += Math.round(f * 1e6);
    }
    if (total > 1_000_000) throw new UsageError("--to: the percents add up to more than 100");
    const participants = log.state().governance.participants;
    for (const d of Object.keys(delegations)) {
      if (!Object.hasOwn(participants, d)) {
        console.error(`note: ${d} is not a participant: power delegated to it is lost until it is`);
      }
    }
    if (values.revoke && participants[key.publicHex]?.delegations === undefined) {
      throw new InputError(`${key.publicHex} has no delegations to revoke`);
    }
    const change = {
      handler: "SET_DELEGATIONS" as const,
      args: { participant: key.publicHex, delegations },
      summary: "",
    };
    change.summary = describeEvent(proposeEvent(pageId, pageId, change.handler, change.args));
    await proposeOnHead(access, log, key, keyFile, change);
  });
}
