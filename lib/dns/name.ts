/**
 * Domain names in both forms: wire labels and presentation text (RFC 1035 §5.1). The server
 * writes a query's name as text for the registry, which matches names as strings; text names from
 * pages (CNAME targets, `dns://` lookups) become wire labels again when they are asked upstream.
 * The two directions are each other's inverse: `\.` is a dot inside a label, `\\` a backslash,
 * `\DDD` any other byte outside `!`–`~`.
 *
 * @module
 */

/** Longest name on the wire, in bytes (RFC 1035 §2.3.4). */
export const MAX_NAME_BYTES = 255;

/**
 * The presentation text of each byte value inside a label: printable ASCII as is, a dot and a
 * backslash escaped with a backslash (a dot inside a label must not impersonate another name),
 * every other byte as `\DDD`. A table, because the server's query parser runs it per byte.
 */
export const BYTE_TEXT: readonly string[] = Array.from({ length: 256 }, (_, c) => {
  if (c === 0x2e || c === 0x5c) return "\\" + String.fromCharCode(c);
  if (c > 0x20 && c < 0x7f) return String.fromCharCode(c);
  return "\\" + c.toString().padStart(3, "0");
});

/** The text of the label `buf[off, off + len)` (see {@linkcode BYTE_TEXT}). */
export function labelText(buf: Uint8Array, off: number, len: number): string {
  let text = "";
  for (let i = off; i < off + len; i++) text += BYTE_TEXT[buf[i]];
  return text;
}

/**
 * The text of an uncompressed wire name (no trailing dot; "" for the root). For logs and
 * messages: a malformed name gives the text of what could be read.
 */
export function nameText(wire: Uint8Array): string {
  const labels: string[] = [];
  for (let off = 0; off < wire.length && wire[off] !== 0 && wire[off] <= 63;) {
    const len = Math.min(wire[off], wire.length - off - 1);
    labels.push(labelText(wire, off + 1, len));
    off += 1 + len;
  }
  return labels.join(".");
}

/**
 * Encodes a presentation-form name (trailing dot optional; "" and "." are the root) as
 * uncompressed wire labels. Throws a RangeError for an empty label, a label over 63 bytes, a
 * name over 255 bytes, or a bad escape.
 */
export function encodeName(name: string): Uint8Array {
  if (name === "" || name === ".") return Uint8Array.of(0);
  const labels: number[][] = [];
  let label: number[] = [];
  const bytes = new TextEncoder().encode(name);
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x2e) {
      if (i === bytes.length - 1 && label.length > 0) break; // the trailing dot of a full name
      labels.push(label);
      label = [];
    } else if (c === 0x5c) {
      const d = bytes.subarray(i + 1, i + 4);
      if (d.length === 3 && d.every((x) => x >= 0x30 && x <= 0x39)) {
        const v = (d[0] - 0x30) * 100 + (d[1] - 0x30) * 10 + (d[2] - 0x30);
        if (v > 255) throw new RangeError(`bad escape in name: ${name}`);
        label.push(v);
        i += 3;
      } else if (i + 1 < bytes.length) {
        label.push(bytes[++i]);
      } else {
        throw new RangeError(`dangling escape in name: ${name}`);
      }
    } else {
      label.push(c);
    }
  }
  labels.push(label); // empty only after a doubled dot or a lone "\." pair: refused below
  const length = labels.reduce((n, p) => n + 1 + p.length, 1);
  if (length > MAX_NAME_BYTES) throw new RangeError(`name too long: ${name}`);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of labels) {
    if (part.length === 0 || part.length > 63) throw new RangeError(`bad label in name: ${name}`);
    out[offset++] = part.length;
    out.set(part, offset);
    offset += part.length;
  }
  out[offset] = 0;
  return out;
}

/** ASCII letters lowercased, other bytes as they are (DNS names compare case-insensitively). */
export function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}
