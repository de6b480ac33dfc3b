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

/** Help of `djdns resolve`. */
export const RESOLVE_HELP = `Usage: djdns resolve [OPTIONS] NAME [TYPE]

Resolve NAME (TYPE defaults to A) through the registry exactly as the server would, without
starting it, and print the answer.

Options:
${REGISTRY_HELP}
  --trace                  print which pages and branches were walked
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

/** Runs one lookup. Exit status 0 when an answer (even NXDOMAIN) was had, 1 on SERVFAIL. */
export async function resolveMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...REGISTRY_OPTIONS,
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
  let registry;
  try {
    registry = await loadRegistry(values, false);
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
    if (values.trace) { for (const line of res.trace) console.log(`;; ${line}`); }
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
