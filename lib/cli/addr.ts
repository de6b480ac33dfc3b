/**
 * Parsing of `ADDR[:PORT]` arguments (`127.0.0.1:5300`, `[::1]:53`, `::1`).
 *
 * @module
 */
import { isIPv4, isIPv6 } from "../dns/ip.ts";
import { UsageError } from "./usage.ts";

/** An IP literal and a port. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `ADDR[:PORT]`; `what` names the option in errors. Port 0 is allowed when `allowZero`. */
export function parseHostPort(
  text: string,
  defaultPort: number,
  what: string,
  allowZero = false,
): HostPort {
  let host = text;
  let port = String(defaultPort);
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] ?? port;
  } else if (!isIPv6(text)) {
    const i = text.lastIndexOf(":");
    if (i >= 0) {
      host = text.slice(0, i);
      port = text.slice(i + 1);
    }
  }
  if (!isIPv4(host) && !isIPv6(host)) {
    throw new UsageError(`${what}: '${text}' is not an IP address with an optional :PORT`);
  }
  const n = Number(port);
  if (!/^\d{1,5}$/.test(port) || n > 65535 || (n === 0 && !allowZero)) {
    throw new UsageError(`${what}: bad port in '${text}'`);
  }
  return { host, port: n };
}

/** Formats a host and port as `host:port` or `[v6]:port`. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
