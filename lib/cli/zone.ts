/**
 * `djdns zone import|export`: RFC 1035 master files in and out of a signed page.
 *
 * Import reads the file (lib/zone), checks every record as a page record, and proposes one BATCH
 * event that adds the records the page does not hold yet: into the branch whose selector is
 * exactly the record's name, created when needed (as `propose add-record` does). What it cannot
 * carry (unsupported types and classes, wildcards, `$INCLUDE`, bad rdata) is reported with line
 * numbers. Export writes the page's records as a master file that named-checkzone and kzonecheck
 * accept.
 *
 * @module
 */
import {
  applyEvent,
  type Json,
  type JsonObject,
  type PageState,
  proposeEvent,
} from "../page/mod.ts";
import { parseRecord } from "../registry/rdata.ts";
import {
  type ExportRecord,
  formatZone,
  MAX_ZONE_CHARS,
  parseZone,
  type ZoneProblem,
} from "../zone/mod.ts";
import { exactBranch, exactSelector, insertionIndex, literalName, sameRecord } from "./change.ts";
import { readKeyFile } from "./key.ts";
import {
  ACCESS_HELP,
  ACCESS_OPTIONS,
  idArg,
  InputError,
  openData,
  pageAccess,
  readInputFile,
  reportErrors,
  storedLog,
  writeFileAtomic,
} from "./pagedata.ts";
import { proposeOnHead } from "./propose.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns zone`. */
export const ZONE_HELP =
  `Usage: djdns zone import PAGE-ID FILE --key FILE (--data DIR | --node HOST:PORT) [--origin NAME]
       djdns zone export PAGE-ID [--data DIR] [--origin NAME] [--out FILE]

RFC 1035 master files ("zone files") and signed pages.

Commands:
  import PAGE-ID FILE      propose one BATCH event adding the file's records to the page (each
                           into the branch whose selector is exactly its name, created when
                           needed); prints what it could not carry on stderr, the event id last.
                           Supports $ORIGIN, $TTL, relative names, '@', blank owners, TTL units,
                           parentheses, comments and the types A, AAAA, CNAME, MX, TXT, NS, SRV,
                           CAA, PTR and SOA. One event holds at most 64 names: split larger files.
  export PAGE-ID           write the page's records as a master file (stdout, or --out): every
                           record whose name is known (a '^name$' branch or a domain_name),
                           with an SOA and an NS at the origin when the page has none

Options:
  --key FILE               import: the proposer's key file
${ACCESS_HELP}
  --origin NAME            import: origin for relative names before any $ORIGIN;
                           export: the zone's apex (default: the longest suffix all names share)
  --out FILE               export: write here instead of stdout
  -h, --help               show this help`;

/** Most operations in one BATCH (PROTOCOL §5). */
const MAX_OPS = 64;

function report(problems: readonly ZoneProblem[], file: string): void {
  for (const p of problems) console.error(`not carried: ${file}:${p.line}: ${p.message}`);
}

/**
 * The BATCH operations adding `records` (grouped by name, in file order) to `state`; records the
 * page holds already are reported, not added.
 */
function importOps(
  pageId: string,
  state: PageState,
  records: { line: number; name: string; record: JsonObject }[],
  problems: ZoneProblem[],
): { handler: string; args: Json }[] {
  const ops: { handler: string; args: Json }[] = [];
  const byName = new Map<string, { line: number; record: JsonObject }[]>();
  for (const r of records) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  let work = state;
  const apply = (handler: string, args: Json) => {
    work = applyEvent(work, proposeEvent(pageId, pageId, handler as "SET", args)).state;
    ops.push({ handler, args });
  };
  for (const [name, list] of byName) {
    const at = exactBranch(work, name);
    const held = at < 0 ? [] : ((work.branches[at] as JsonObject).records ?? []) as Json[];
    const fresh: JsonObject[] = [];
    for (const { line, record } of list) {
      if ([...held, ...fresh].some((h) => sameRecord(h, record))) {
        problems.push({ line, message: `${name} ${record.rtype}: already in the page` });
      } else fresh.push(record);
    }
    if (fresh.length === 0) continue;
    if (at < 0) {
      // Before the first branch that matches the name (as `propose add-record` places it).
      apply("ADD_BRANCH", {
        branch: { selector: exactSelector(name), records: fresh },
        index: insertionIndex(work, name),
      });
    } else {
      for (const record of fresh) apply("ADD_RECORD", { branch: at, record });
    }
  }
  return ops;
}

async function importZone(values: Record<string, unknown>, pageId: string, file: string) {
  const keyFile = values.key as string | undefined;
  if (!keyFile) throw new UsageError("zone import needs --key FILE");
  return await reportErrors(async () => {
    const key = await readKeyFile(keyFile);
    const text = await readInputFile(file, MAX_ZONE_CHARS);
    const origin = values.origin as string | undefined;
    const zone = parseZone(text, { origin });
    const problems = [...zone.problems];
    const records: { line: number; name: string; record: JsonObject }[] = [];
    for (const r of zone.records) {
      if (r.name.split(".").includes("*")) {
        problems.push({ line: r.line, message: `${r.name}: wildcards are not carried` });
        continue;
      }
      const record = { domain_name: r.name, rtype: r.type, rdata: r.rdata, rttl: r.ttl };
      try {
        parseRecord(record);
      } catch (e) {
        problems.push({ line: r.line, message: `${r.name} ${r.type}: ${(e as Error).message}` });
        continue;
      }
      records.push({ line: r.line, name: r.name, record: record as JsonObject });
    }
    const access = await pageAccess(values);
    try {
      const log = await access.load(pageId);
      const ops = importOps(pageId, log.state(), records, problems);
      problems.sort((a, b) => a.line - b.line);
      // What could not be carried is listed once the proposal is made; an error is one line.
      if (ops.length === 0) {
        const first = problems[0];
        throw new InputError(
          `${file}: nothing to add to page ${pageId}` +
            (first
              ? ` (${problems.length} entr${problems.length === 1 ? "y" : "ies"} not carried; ` +
                `line ${first.line}: ${first.message})`
              : ""),
        );
      }
      if (ops.length > MAX_OPS) {
        throw new InputError(
          `${file}: ${ops.length} operations; one proposal holds at most ${MAX_OPS}: ` +
            "split the file",
        );
      }
      const names = new Set(records.map((r) => r.name)).size;
      report(problems, file);
      await proposeOnHead(access, log, key, keyFile, {
        handler: "BATCH",
        args: { ops } as unknown as Json,
        summary: `import ${records.length} record(s) for ${names} name(s) from ${file} ` +
          `(${problems.length} not carried)`,
      });
      return 0;
    } finally {
      access.close();
    }
  });
}

/** The longest suffix (whole labels) every name shares. */
export function commonSuffix(names: readonly string[]): string {
  if (names.length === 0) return "";
  let suffix = names[0].split(".").reverse();
  for (const n of names.slice(1)) {
    const labels = n.split(".").reverse();
    let k = 0;
    while (k < suffix.length && k < labels.length && suffix[k] === labels[k]) k++;
    suffix = suffix.slice(0, k);
  }
  return suffix.reverse().join(".");
}

async function exportZone(values: Record<string, unknown>, pageId: string): Promise<number> {
  return await reportErrors(async () => {
    const store = openData(values.data as string | undefined, "read");
    let log;
    try {
      log = storedLog(store, pageId);
    } finally {
      store.close();
    }
    const state = log.state();
    const records: ExportRecord[] = [];
    const skipped: string[] = [];
    (state.branches as JsonObject[]).forEach((b, i) => {
      const lit = literalName(b.selector);
      for (const raw of (b.records ?? []) as Json[]) {
        const r = parseRecord(raw);
        const name = r.name ?? lit;
        if (name === undefined) {
          skipped.push(
            `branch ${i} (${JSON.stringify(b.selector)}): a ${r.type} record for ` +
              "the names a pattern matches has no single owner name",
          );
          continue;
        }
        records.push({ name, ttl: r.ttl, type: r.type, data: r.data });
      }
    });
    let origin = values.origin as string | undefined;
    origin = origin?.replace(/\.$/, "").toLowerCase() ??
      commonSuffix(records.map((r) => r.name));
    if (origin === "" && values.origin === undefined) {
      throw new InputError(`page ${pageId}: the names share no suffix: give --origin`);
    }
    const height = log.height(log.head()) ?? 0;
    const { text, problems } = formatZone(origin, records, {
      serial: height,
      header: [`djdns zone export of page ${pageId}`, `head ${log.head()} (height ${height})`],
    });
    for (const s of skipped) console.error(`not exported: ${s}`);
    for (const p of problems) console.error(`not exported: ${p.name} ${p.type}: ${p.message}`);
    const out = values.out as string | undefined;
    if (out) {
      await writeFileAtomic(out, text);
      console.error(`wrote ${records.length - problems.length} record(s) to ${out}`);
    } else {
      await Deno.stdout.write(new TextEncoder().encode(text));
    }
    return 0;
  });
}

/** Runs `djdns zone …`. */
export async function zoneMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...ACCESS_OPTIONS,
    key: { type: "string" },
    origin: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 3);
  if (values.help) {
    console.log(ZONE_HELP);
    return 0;
  }
  const [command, rawPage, file] = positionals;
  if (command === "import") {
    const pageId = idArg(rawPage);
    if (file === undefined) throw new UsageError("zone import needs a FILE");
    if (values.out !== undefined) throw new UsageError("--out applies to zone export only");
    return await importZone(values, pageId, file);
  }
  if (command === "export") {
    const pageId = idArg(rawPage);
    if (file !== undefined) throw new UsageError(`unexpected argument '${file}'`);
    if (values.key !== undefined) throw new UsageError("--key applies to zone import only");
    if (values.node !== undefined) {
      throw new UsageError("zone export reads a data directory (--data)");
    }
    return await exportZone(values, pageId);
  }
  throw new UsageError(
    command === undefined
      ? "missing command: import or export"
      : `unknown zone command '${command}'`,
  );
}
