/**
 * The encrypted faces of `djdns run`: DNS over TLS (`--tls-listen`) and DNS over HTTPS
 * (`--https-listen`), off by default, sharing one certificate and key (`--tls-cert`,
 * `--tls-key`, PEM files read at start). The node (lib/node) starts them.
 *
 * @module
 */
import type { TlsKeyPair } from "../server/tls.ts";
import { type HostPort, parseHostPort } from "./addr.ts";
import { UsageError } from "./usage.ts";

/** Options of the encrypted listeners (also configuration file keys). */
export const ENCRYPTED_OPTIONS = {
  "tls-listen": { type: "string", multiple: true },
  "https-listen": { type: "string", multiple: true },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
} as const;

/** Help text of {@linkcode ENCRYPTED_OPTIONS}. */
export const ENCRYPTED_HELP =
  `  --tls-listen ADDR[:PORT] serve DNS over TLS (RFC 7858) on this address (repeatable; port
                           default 853; off by default); needs --tls-cert and --tls-key
  --https-listen ADDR[:PORT]
                           serve DNS over HTTPS (RFC 8484, /dns-query, GET and POST, HTTP/2)
                           on this address (repeatable; port default 443; off by default)
  --tls-cert FILE          certificate chain (PEM) of the TLS and HTTPS listeners
  --tls-key FILE           private key (PEM) of that certificate`;

/** What the encrypted listeners will be: addresses and the key pair, checked and read. */
export interface EncryptedPlan {
  tls: HostPort[];
  https: HostPort[];
  keyPair?: TlsKeyPair;
}

/**
 * Checks the options and reads the certificate and key. Throws a UsageError for a bad address,
 * a listener without a certificate (or the reverse), or a file that cannot be read.
 */
export function encryptedPlan(values: Record<string, unknown>): EncryptedPlan {
  const list = (name: string, port: number) =>
    ((values[name] as string[] | undefined) ?? []).map((a) =>
      parseHostPort(a, port, `--${name}`, true)
    );
  const tls = list("tls-listen", 853);
  const https = list("https-listen", 443);
  const certFile = values["tls-cert"] as string | undefined;
  const keyFile = values["tls-key"] as string | undefined;
  const listening = tls.length + https.length > 0;
  if (listening && (certFile === undefined || keyFile === undefined)) {
    throw new UsageError("--tls-listen and --https-listen need --tls-cert and --tls-key");
  }
  if (!listening && (certFile !== undefined || keyFile !== undefined)) {
    throw new UsageError("--tls-cert and --tls-key need --tls-listen or --https-listen");
  }
  if (!listening) return { tls, https };
  const read = (file: string, what: string) => {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (e) {
      throw new UsageError(`${what}: cannot read ${file}: ${(e as Error).message}`);
    }
    if (!text.includes("-----BEGIN ")) throw new UsageError(`${what}: ${file} is not PEM`);
    return text;
  };
  return {
    tls,
    https,
    keyPair: { cert: read(certFile!, "--tls-cert"), key: read(keyFile!, "--tls-key") },
  };
}
