/**
 * What DNS over HTTPS (RFC 8484) adds to the wire format, shared by the DoH listener and the DoH
 * upstream: the media type, the size bound, and reading a message body within it.
 *
 * @module
 */

/** The media type of a DNS message over HTTPS. */
export const DOH_MEDIA_TYPE = "application/dns-message";

/** Largest DNS message: what a TCP length prefix can say, and what a DoH body may carry. */
export const MAX_DOH_MESSAGE = 65535;

/** The media type of a `content-type` header value, lowercased, parameters dropped. */
export function mediaType(header: string | null): string {
  return (header ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Reads a whole body of at most {@linkcode MAX_DOH_MESSAGE} bytes; null as soon as it is longer
 * (the rest is not read).
 */
export async function readMessage(
  body: ReadableStream<Uint8Array> | null,
): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_DOH_MESSAGE) return null;
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
