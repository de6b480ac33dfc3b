/**
 * `djdns resolve NAME [TYPE]`: one lookup through the same resolver the server uses, printed in
 * zone-file form; with `--trace`, the pages and branches the walk visited.
 *
 * @module
 */
import { typeName, typeNumber } from "../dns/types.ts";
import {
  forwarderFor,
  loadRegistry,
  REGISTRY_HELP,
  REGISTRY_OPTIONS,
  resolverFor,
  upstreamsFrom,
} from "./registry.ts";
import { parseCommandLine, UsageError } from "./usage.ts";
import type { Answer } from "../dns/message.ts";
import { question } from "../dns/question.ts";
import { readAnchorFile } from "./anchor_file.ts";
import type { PageSnapshot } from "../sources/files.ts";
import { openStore, resolveDataDir, type Store } from "../store/mod.ts";

/** Help of `djdns resolve`. */
export const RESOLVE_HELP = `Usage: djdns resolve [OPTIONS] NAME [TYPE]

Resolve NAME (TYPE defaults to A) through the registry exactly as the server would, without
starting it, and print the answer.

Options:
${REGISTRY_HELP}
  --anchor FILE            the root trust anchor (from 'djdns anchor export'; default: the
                           anchor embedded in this build)
  --trace                  print which pages and branches were walked, and the signed
                           pages with their heads, selectors and targets
  -h, --help               show this help`;

const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  5: "REFUSED",
};

function rdataText(a: Answer): string {
  const d = a.data as Record<string, unknown> | string | string[];
  switch (a.type) {
    case "TXT":
      return (Array.isArray(d) ? d : [d]).map((s) => JSON.stringify(String(s))).join(" ");
    case "MX": {
      const m = d as { preference: number; exchange: string };
      return `${m.preference} ${m.exchange}.`;
    }
    case "SRV": {
      const s = d as { priority: number; weight: number; port: number; target: string };
      return `${s.priority} ${s.weight} ${s.port} ${s.target}.`;
    }
    case "CAA": {
      const c = d as { flags: number; tag: string; value: string };
      return `${c.flags} ${c.tag} ${JSON.stringify(c.value)}`;
    }
    case "SOA": {
      const s = d as Record<string, string | number>;
      return `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case "CNAME":
    case "NS":
    case "PTR":
      return `${d}.`;
    default:
      return typeof d === "string" ? d : JSON.stringify(d);
  }
}

/** Formats a record as a zone-file line. */
export function formatRecord(a: Answer): string {
  return `${a.name}.\t${a.ttl}\tIN\t${a.type}\t${rdataText(a)}`;
}

/**
 * For `--trace`: the signed pages the walk went through, with their heads (from the data
 * directory, read-only; the embedded root's head when it is not stored) and the branches that
 * matched, with their selectors and targets.
 */
function signedPagesWalked(
  trace: string[],
  snapshot: PageSnapshot,
  values: Record<string, unknown>,
): string[] {
  const matched = new Map<string, number[]>();
  for (const line of trace) {
    const m = /^\s*(djdns:[0-9a-f]{64}) branch (\d+) /.exec(line);
    if (m) matched.set(m[1], [...matched.get(m[1]) ?? [], Number(m[2])]);
  }
  if (matched.size === 0) return [];
  let store: Store | undefined;
  try {
    const dir = (values.data as string | undefined) ??
      (values.pages === undefined ? resolveDataDir() : undefined);
    if (dir !== undefined) store = openStore(dir, { readOnly: true });
  } catch { /* no data directory: heads unknown */ }
  const out = ["signed pages walked:"];
  try {
    for (const [key, branches] of matched) {
      const id = key.slice("djdns:".length);
      const rec = store?.getPage(id);
      const lp = snapshot.pages.get(key);
      const authority = lp && !(lp instanceof Error) ? lp.page.meta.authority : undefined;
      out.push(
        `  page ${id}` + (rec?.headId ? ` head ${rec.headId} state ${rec.stateHash}` : "") +
          (authority ? ` (${JSON.stringify(authority)})` : ""),
      );
      for (const i of branches) {
        const b = lp && !(lp instanceof Error) ? lp.page.branches[i] : undefined;
        if (!b) continue;
        const targets = b.targets.map((t) =>
          t.kind === "djdns"
            ? `djdns:${t.pageId}`
            : t.kind === "dns"
            ? `dns://${t.host}:${t.port}/`
            : t.path
        );
        out.push(
          `    branch ${i} ${JSON.stringify(b.selector.source)}: ${b.records.length} record(s)` +
            (targets.length ? `, targets ${targets.join(", ")}` : ""),
        );
      }
    }
  } finally {
    store?.close();
  }
  return out;
}

/** Runs one lookup. Exit status 0 when an answer (even NXDOMAIN) was had, 1 on SERVFAIL. */
export async function resolveMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...REGISTRY_OPTIONS,
    anchor: { type: "string" },
    trace: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, 2);
  if (values.help) {
    console.log(RESOLVE_HELP);
    return 0;
  }
  const [name, rawType = "A"] = positionals;
  if (!name) throw new UsageError("resolve needs a NAME");
  const qtype = typeNumber(rawType);
  if (qtype === undefined) throw new UsageError(`unknown record type '${rawType}'`);
  const type = typeName(qtype);
  if (values.anchor !== undefined && values.pages !== undefined) {
    throw new UsageError("--anchor and --pages exclude each other");
  }
  let registry;
  try {
    const anchor = values.anchor === undefined
      ? undefined
      : await readAnchorFile(values.anchor as string);
    registry = await loadRegistry(values, false, anchor);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    console.error(`djdns: cannot load the registry: ${(e as Error).message}`);
    return 1;
  }
  for (const err of registry.snapshot.errors) console.error(`djdns: page not loaded: ${err}`);
  const upstreams = await upstreamsFrom(values, []);
  const forwarder = forwarderFor(values, upstreams);
  try {
    const resolve = resolverFor(registry, forwarder, upstreams.length > 0);
    const res = await resolve(name, type, { trace: Boolean(values.trace) });
    if (values.trace) {
      for (const line of res.trace) console.log(`;; ${line}`);
      for (const line of signedPagesWalked(res.trace, registry.snapshot, values)) {
        console.log(`;; ${line}`);
      }
    }
    if (!res.registry) {
      if (upstreams.length === 0) {
        console.log(`;; ${name} is not a registry name and there is no upstream: REFUSED`);
        return 1;
      }
      const r = await forwarder.query(question(name, qtype));
      console.log(`;; not a registry name: forwarded to ${r.upstream.host}:${r.upstream.port}`);
      console.log(`;; status: ${(r.packet as { rcode?: string }).rcode ?? r.bytes[3] & 0xf}`);
      for (const a of r.packet.answers ?? []) console.log(formatRecord(a as unknown as Answer));
      return 0;
    }
    console.log(
      `;; status: ${RCODE_NAMES[res.rcode]}${res.authoritative ? ", authoritative" : ""}`,
    );
    for (const a of res.answers) console.log(formatRecord(a));
    for (const a of res.authorities) console.log(`;; authority: ${formatRecord(a)}`);
    return res.rcode === 2 ? 1 : 0;
  } catch (e) {
    console.error(`djdns: ${(e as Error).message}`);
    return 1;
  } finally {
    await forwarder.close();
    registry.close();
  }
}
