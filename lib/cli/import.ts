/**
 * `djdns import pages|deje`: legacy DJDNS data into signed pages.
 *
 * - `import pages DIR --root FILE`: every page file reachable from the root of an original DJDNS
 *   page directory (python-djdns's flat files) becomes a signed page whose genesis holds its
 *   branches; a target naming another page file becomes `djdns:<id>` of that file's signed page,
 *   so sub-pages are imported first (their ids go into their parents). Targets are read relative
 *   to the page directory, as python-djdns read them.
 * - `import deje FILE`: the state at the tip of a DEJE Next document (the Go djdns page source)
 *   becomes one signed page.
 *
 * The key's holder (and any `--participant`) become the participants of every new page. What
 * cannot be carried is reported, one line each: invalid records, selectors and targets are
 * dropped (not the whole page), missing or invalid page files, and cycles of page files (a signed
 * page is named by its content, so two pages cannot name each other).
 *
 * @module
 */
import * as path from "node:path";
import { chooseTip, parseDocument, parseJsonText } from "../deje/mod.ts";
import {
  createGenesis,
  createPageLog,
  type JsonObject,
  type PageLog,
  type Participant,
} from "../page/mod.ts";
import { MAX_META_LENGTH, parseTarget } from "../registry/branches.ts";
import { parseRecord } from "../registry/rdata.ts";
import { compileSelector } from "../registry/selector.ts";
import { MAX_PAGE_FILE_BYTES, pageKey } from "../sources/mod.ts";
import { type HeadUpdate, pageLogBatch, type StoredObject } from "../store/mod.ts";
import { fractionArg, participantArg } from "./change.ts";
import { readKeyFile } from "./key.ts";
import { InputError, openData, readInputFile, reportErrors } from "./pagedata.ts";
import { MAX_INPUT_BYTES } from "./deje.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns import`. */
export const IMPORT_HELP =
  `Usage: djdns import pages DIR --key FILE --data DIR [--root FILE] [--participant PUB[:WEIGHT]]...
       djdns import deje FILE --key FILE --data DIR [--participant PUB[:WEIGHT]]...

Turn legacy DJDNS data into signed pages in a data directory (the node must be stopped).

Commands:
  pages DIR                every page file reachable from DIR/ROOT becomes a signed page;
                           targets naming page files become djdns:<id> links to the imported
                           sub-pages; prints the root page's id last
  deje FILE                the state at the tip of a DEJE Next document becomes a signed page;
                           prints its id last

The key's holder (weight 1) and every --participant become the participants of each page. What
cannot be carried (invalid records, selectors or targets, missing or invalid page files, cycles
of page files, deje:// and file targets of a DEJE document) is reported on stderr and left out.

Options:
  --key FILE               your key file: you become a participant of every page
  --data DIR               the data directory to write
  --root FILE              pages: the root page inside DIR (default root.json)
  --participant PUB[:WEIGHT]
                           another participant of every page (repeatable)
  --content-threshold F    thresholds of the new pages (defaults 0.34 and 0.7)
  --membership-threshold F
  -h, --help               show this help`;

/** Most page files one import reads. */
const MAX_FILES = 10_000;
/** Most `meta` keys a page state may hold (PROTOCOL §4.1). */
const MAX_META_KEYS = 16;

/** Where and what could not be carried. */
type Report = (where: string, what: string) => void;

/**
 * The state parts of a legacy page, with what does not validate dropped and reported.
 * `target` maps a page-file target to its new `djdns:` target, or undefined to drop it.
 */
async function cleanPage(
  value: unknown,
  where: string,
  report: Report,
  target: (file: string, where: string) => Promise<string | undefined>,
): Promise<{ meta?: JsonObject; branches: JsonObject[] } | undefined> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    report(where, "not a page (a JSON object with branches)");
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (!Array.isArray(v.branches)) {
    report(where, "no branches list: not a page");
    return undefined;
  }
  let meta: JsonObject | undefined;
  if (v.meta !== undefined) {
    if (v.meta === null || typeof v.meta !== "object" || Array.isArray(v.meta)) {
      report(where, "meta is not an object: dropped");
    } else {
      const kept: Record<string, string> = {};
      meta = kept;
      for (const [k, m] of Object.entries(v.meta)) {
        if (typeof m !== "string" || m.length > MAX_META_LENGTH) {
          report(where, `meta.${k}: not a string of at most ${MAX_META_LENGTH} characters`);
        } else if (Object.keys(meta).length >= MAX_META_KEYS) {
          report(where, `meta.${k}: more than ${MAX_META_KEYS} meta keys`);
        } else kept[k] = m;
      }
    }
  }
  const branches: JsonObject[] = [];
  for (const [i, raw] of (v.branches as unknown[]).entries()) {
    const at = `${where}: branch ${i}`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      report(at, "not an object");
      continue;
    }
    const b = { ...(raw as JsonObject) };
    try {
      compileSelector(b.selector as string);
    } catch (e) {
      report(at, `${(e as Error).message}: branch dropped`);
      continue;
    }
    if (b.records !== undefined && b.records !== null) {
      if (!Array.isArray(b.records)) {
        report(at, "records is not a list: dropped");
        delete b.records;
      } else {
        b.records = b.records.filter((r, j) => {
          try {
            parseRecord(r);
            return true;
          } catch (e) {
            report(`${at}: record ${j}`, `${(e as Error).message}: dropped`);
            return false;
          }
        });
      }
    }
    if (b.targets !== undefined && b.targets !== null) {
      if (!Array.isArray(b.targets)) {
        report(at, "targets is not a list: dropped");
        delete b.targets;
      } else {
        const out: string[] = [];
        for (const [j, t] of b.targets.entries()) {
          let parsed;
          try {
            parsed = parseTarget(t);
          } catch (e) {
            report(`${at}: target ${j}`, `${(e as Error).message}: dropped`);
            continue;
          }
          if (parsed.kind !== "file") {
            out.push(t as string);
            continue;
          }
          const linked = await target(parsed.path, `${at}: target ${j}`);
          if (linked !== undefined) out.push(linked);
        }
        b.targets = out;
      }
    }
    branches.push(b);
  }
  return { meta, branches };
}

interface ImportContext {
  participants: Record<string, Participant>;
  thresholds: { content?: number; membership?: number };
  logs: PageLog[];
  report: Report;
}

/** A signed page for the cleaned state, or undefined (reported) when it does not validate. */
function signedPageOf(
  ctx: ImportContext,
  where: string,
  page: { meta?: JsonObject; branches: JsonObject[] },
): string | undefined {
  try {
    const genesis = createGenesis({
      participants: ctx.participants,
      thresholds: ctx.thresholds,
      meta: page.meta && Object.keys(page.meta).length ? page.meta : undefined,
      branches: page.branches,
    });
    const log = createPageLog(genesis);
    if (!ctx.logs.some((l) => l.pageId === log.pageId)) ctx.logs.push(log);
    return log.pageId;
  } catch (e) {
    ctx.report(where, `${(e as Error).message}: page not carried`);
    return undefined;
  }
}

async function importPages(ctx: ImportContext, dir: string, rootFile: string): Promise<string> {
  const done = new Map<string, string | undefined>();
  const absDir = path.resolve(dir);
  const visit = async (key: string, stack: string[]): Promise<string | undefined> => {
    if (done.has(key)) return done.get(key);
    if (stack.includes(key)) {
      ctx.report(
        stack.at(-1)!,
        `target ${key} closes a cycle (${[...stack, key].join(" -> ")}): a signed page is named ` +
          "by its content, so pages cannot name each other; link dropped",
      );
      return undefined;
    }
    if (done.size >= MAX_FILES) {
      ctx.report(key, `more than ${MAX_FILES} page files: not carried`);
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(await readInputFile(path.join(absDir, key), MAX_PAGE_FILE_BYTES));
    } catch (e) {
      const why = (e as Error).message.replace(/^.*: no such file$/, "no such page file")
        .replace(`${path.join(absDir, key)}: `, "");
      ctx.report(key, `${why}: not carried`);
      done.set(key, undefined);
      return undefined;
    }
    const page = await cleanPage(value, key, ctx.report, async (file, where) => {
      let sub: string;
      try {
        sub = pageKey(file);
      } catch (e) {
        ctx.report(where, `${(e as Error).message}: dropped`);
        return undefined;
      }
      const id = await visit(sub, [...stack, key]);
      return id === undefined ? undefined : `djdns:${id}`;
    });
    const id = page && signedPageOf(ctx, key, page);
    done.set(key, id);
    return id;
  };
  let rootKey: string;
  try {
    rootKey = pageKey(rootFile);
  } catch (e) {
    throw new UsageError(`--root: ${(e as Error).message}`);
  }
  try {
    await Deno.stat(path.join(absDir, rootKey));
  } catch {
    throw new InputError(`${path.join(dir, rootKey)}: no such root page file`);
  }
  const root = await visit(rootKey, []);
  if (root === undefined) throw new InputError(`${rootKey}: the root page could not be carried`);
  return root;
}

async function importDeje(ctx: ImportContext, file: string): Promise<string> {
  const text = await readInputFile(file, MAX_INPUT_BYTES);
  let state: unknown;
  try {
    const choice = chooseTip(parseDocument(parseJsonText(text)));
    for (const s of choice.skipped) ctx.report(file, `timestamp ${s.index} (${s.id}): ${s.reason}`);
    state = choice.state;
  } catch (e) {
    throw new InputError(`${file}: ${(e as Error).message}`);
  }
  const page = await cleanPage(state, file, ctx.report, (target, where) => {
    ctx.report(where, `page file '${target}' of a DEJE document: dropped`);
    return Promise.resolve(undefined);
  });
  const id = page && signedPageOf(ctx, file, page);
  if (id === undefined) throw new InputError(`${file}: the document's state could not be carried`);
  return id;
}

/** Runs `djdns import …`. */
export async function importMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    data: { type: "string" },
    key: { type: "string" },
    root: { type: "string" },
    participant: { type: "string", multiple: true },
    "content-threshold": { type: "string" },
    "membership-threshold": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    console.log(IMPORT_HELP);
    return 0;
  }
  const [kind, source] = positionals;
  if (kind !== "pages" && kind !== "deje") {
    throw new UsageError(
      kind === undefined ? "missing command: pages or deje" : `unknown import command '${kind}'`,
    );
  }
  if (source === undefined) {
    throw new UsageError(`import ${kind} needs a ${kind === "pages" ? "DIR" : "FILE"}`);
  }
  if (kind === "deje" && values.root !== undefined) {
    throw new UsageError("--root applies to import pages");
  }
  const keyFile = values.key as string | undefined;
  if (!keyFile) throw new UsageError("--key FILE is required");
  if (values.data === undefined) throw new UsageError("--data DIR is required");
  const participants: Record<string, Participant> = {};
  for (const p of (values.participant as string[] | undefined) ?? []) {
    const { key, weight } = participantArg(p);
    participants[key] = { weight };
  }
  const thresholds: { content?: number; membership?: number } = {};
  if (values["content-threshold"] !== undefined) {
    thresholds.content = fractionArg(values["content-threshold"] as string, "--content-threshold");
  }
  if (values["membership-threshold"] !== undefined) {
    thresholds.membership = fractionArg(
      values["membership-threshold"] as string,
      "--membership-threshold",
    );
  }
  return await reportErrors(async () => {
    const key = await readKeyFile(keyFile);
    participants[key.publicHex] ??= { weight: 1 };
    // Listed once everything is written; an error is one line (with the first of them).
    const problems: string[] = [];
    const ctx: ImportContext = {
      participants,
      thresholds,
      logs: [],
      report(where, what) {
        problems.push(`not carried: ${where}: ${what}`.replace(/\s*[\r\n]+\s*/g, " "));
      },
    };
    let root: string;
    try {
      root = kind === "pages"
        ? await importPages(ctx, source, (values.root as string | undefined) ?? "root.json")
        : await importDeje(ctx, source);
    } catch (e) {
      if (e instanceof InputError && problems.length > 0) {
        throw new InputError(`${e.message} (${problems[0]})`);
      }
      throw e;
    }
    // Every page in one transaction: all or nothing.
    const objects: StoredObject[] = [];
    const heads: HeadUpdate[] = [];
    for (const log of ctx.logs) {
      const b = pageLogBatch(log);
      objects.push(...b.objects ?? []);
      heads.push(...b.heads ?? []);
    }
    const store = openData(values.data as string, "create");
    try {
      store.putBatch({
        objects,
        heads,
        follow: ctx.logs.map((l) => ({ pageId: l.pageId, following: true })),
      });
    } finally {
      store.close();
    }
    for (const p of problems) console.error(p);
    console.error(
      `imported ${ctx.logs.length} signed page(s) into ${store.dir}` +
        (problems.length ? `; ${problems.length} thing(s) not carried (above)` : "") +
        `; ${kind === "pages" ? "root " : ""}page:`,
    );
    console.log(root);
    return 0;
  });
}
