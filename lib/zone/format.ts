/**
 * Writes page records as an RFC 1035 master file that BIND's `named-checkzone` and Knot's
 * `kzonecheck` accept: absolute owner names, explicit TTL and class on every record, quoted and
 * escaped character-strings, an SOA and an NS record at the origin (synthesized when the page has
 * none), and one record set per name and type.
 *
 * Pure: records in, text out.
 *
 * @module
 */
import type { RecordData } from "../registry/rdata.ts";

/** A record to write: owner (absolute, no trailing dot), TTL, type and parsed data. */
export interface ExportRecord {
  readonly name: string;
  readonly ttl: number;
  readonly type: string;
  readonly data: RecordData;
}

/** A record left out of the file, and why. */
export interface ExportProblem {
  readonly name: string;
  readonly type: string;
  readonly message: string;
}

/** `name.` (the root is `.`). */
function fqdn(name: string): string {
  return name === "" ? "." : `${name}.`;
}

/** A character-string in quotes: `"` and `\` escaped, bytes outside printable ASCII as `\DDD`. */
export function quoteString(text: string): string {
  let out = '"';
  for (const b of new TextEncoder().encode(text)) {
    if (b === 0x22 || b === 0x5c) out += "\\" + String.fromCharCode(b);
    else if (b < 0x20 || b > 0x7e) out += "\\" + String(b).padStart(3, "0");
    else out += String.fromCharCode(b);
  }
  return out + '"';
}

/** The rdata of a record in master-file form. */
export function rdataText(type: string, d: RecordData): string {
  switch (type) {
    case "A":
    case "AAAA":
      return d as string;
    case "CNAME":
    case "NS":
    case "PTR":
      return fqdn(d as string);
    case "MX": {
      const m = d as { preference: number; exchange: string };
      return `${m.preference} ${fqdn(m.exchange)}`;
    }
    case "SRV": {
      const s = d as { priority: number; weight: number; port: number; target: string };
      return `${s.priority} ${s.weight} ${s.port} ${fqdn(s.target)}`;
    }
    case "TXT":
      return (Array.isArray(d) ? d : [d as string]).map(quoteString).join(" ");
    case "CAA": {
      const c = d as { flags: number; tag: string; value: string };
      return `${c.flags} ${c.tag} ${quoteString(c.value)}`;
    }
    case "SOA": {
      const s = d as {
        mname: string;
        rname: string;
        serial: number;
        refresh: number;
        retry: number;
        expire: number;
        minimum: number;
      };
      return `${fqdn(s.mname)} ${fqdn(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ` +
        `${s.minimum}`;
    }
  }
  throw new Error(`cannot write type ${type}`);
}

/** True when `name` is `origin` or below it. */
export function inZone(name: string, origin: string): boolean {
  return origin === "" || name === origin || name.endsWith(`.${origin}`);
}

/**
 * The master file for `records` under `origin` (absolute, no trailing dot). Records outside the
 * origin, data beside a CNAME, and a second SOA are left out and reported. `serial` goes into a
 * synthesized SOA; `header` lines become comments at the top.
 */
export function formatZone(
  origin: string,
  records: readonly ExportRecord[],
  options: { serial: number; header?: string[] },
): { text: string; problems: ExportProblem[] } {
  const problems: ExportProblem[] = [];
  const kept: ExportRecord[] = [];
  for (const r of records) {
    if (!inZone(r.name, origin)) {
      problems.push({ name: r.name, type: r.type, message: `outside the zone ${fqdn(origin)}` });
    } else kept.push(r);
  }
  // RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner has no other data; only one SOA, at the apex.
  const cnames = new Set(kept.filter((r) => r.type === "CNAME").map((r) => r.name));
  let soa: ExportRecord | undefined;
  const body: ExportRecord[] = [];
  for (const r of kept) {
    if (r.type === "SOA") {
      if (r.name !== origin) {
        problems.push({ name: r.name, type: r.type, message: "an SOA below the zone's apex" });
      } else if (soa) {
        problems.push({ name: r.name, type: r.type, message: "a second SOA" });
      } else soa = r;
      continue;
    }
    if (cnames.has(r.name) && r.type !== "CNAME") {
      problems.push({ name: r.name, type: r.type, message: "data beside a CNAME" });
      continue;
    }
    if (r.type === "CNAME" && r.name === origin) {
      problems.push({ name: r.name, type: r.type, message: "a CNAME at the zone's apex" });
      continue;
    }
    body.push(r);
  }
  const lines = (options.header ?? []).map((h) => `; ${h}`);
  lines.push(`$ORIGIN ${fqdn(origin)}`);
  const line = (r: ExportRecord) =>
    `${fqdn(r.name)}\t${r.ttl}\tIN\t${r.type}\t${rdataText(r.type, r.data)}`;
  lines.push(
    soa ? line(soa) : `${fqdn(origin)}\t300\tIN\tSOA\tdjdns.invalid. hostmaster.djdns.invalid. ` +
      `${options.serial >>> 0} 3600 600 604800 300`,
  );
  if (!body.some((r) => r.type === "NS" && r.name === origin)) {
    lines.push(`${fqdn(origin)}\t300\tIN\tNS\tdjdns.invalid.`);
  }
  // One record set per name and type, in a stable order; exact duplicates once.
  const seen = new Set<string>();
  const sorted = [...body].sort((a, b) =>
    a.name === b.name ? (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) : a.name < b.name ? -1 : 1
  );
  // RFC 2181 §5.2: the records of a set share one TTL; the lowest given wins.
  const ttlOf = new Map<string, number>();
  for (const r of sorted) {
    const set = `${r.name} ${r.type}`;
    ttlOf.set(set, Math.min(ttlOf.get(set) ?? r.ttl, r.ttl));
  }
  for (const r of sorted) {
    const key = `${r.name} ${r.type} ${rdataText(r.type, r.data)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(line({ ...r, ttl: ttlOf.get(`${r.name} ${r.type}`)! }));
  }
  return { text: lines.join("\n") + "\n", problems };
}
