/**
 * Ed25519 signing and verification, and SHA-256, for djdns.
 *
 * Keys are raw 32-byte Ed25519 public keys and 32-byte seeds; signatures are 64 bytes (RFC 8032).
 * Verification runs on `node:crypto` (native; the fastest verifier measured, see BENCHMARKS.md)
 * and falls back to `@noble/ed25519` when this runtime's `node:crypto` has no Ed25519.
 *
 * Acceptance rule (the same whatever the backend, see `ed25519_rules.ts` and docs/PROTOCOL.md):
 * a signature is valid only when the public key is 32 bytes, a canonical encoding of a
 * torsion-free point that is not of small order; the signature is 64 bytes with S < L and R a
 * canonical encoding not of small order; and [S]B = R + [k]A holds with R compared by encoding
 * (cofactorless). Everything else is rejected, never reduced or repaired.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createEd25519 } from "./ed25519.ts";
import type { KeyPair } from "./ed25519_backend.ts";
import { nobleBackend } from "./ed25519_noble.ts";
import { usableNodeBackend } from "./ed25519_node.ts";

export type { KeyPair } from "./ed25519_backend.ts";
export { KEY_CACHE_MAX } from "./ed25519.ts";

const ed25519 = createEd25519<unknown>(usableNodeBackend() ?? nobleBackend);

/** Name of the Ed25519 implementation in use: `"node:crypto"` or `"@noble/ed25519"`. */
export const ED25519_BACKEND: string = ed25519.backend;

/** Creates a fresh random Ed25519 key pair. */
export function generateKeyPair(): KeyPair {
  return ed25519.generateKeyPair();
}

/** Derives the raw public key of a 32-byte secret seed; throws RangeError for another length. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return ed25519.publicKeyOf(secretKey);
}

/**
 * Signs `message` with a 32-byte secret seed; returns the 64-byte RFC 8032 signature. Throws
 * RangeError for a seed that is not 32 bytes.
 */
export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(secretKey, message);
}

/**
 * Verifies an Ed25519 signature under the djdns acceptance rule (module doc). Returns false, never
 * throws, for wrong lengths or types, non-canonical S, A or R, small-order or mixed-order keys,
 * small-order R, points off the curve, and signatures that do not verify.
 *
 * The first verification with a given key costs about 0.4 ms more (torsion check); the verdict is
 * cached for the last {@linkcode KEY_CACHE_MAX} keys.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return ed25519.verify(publicKey, message, signature);
}

/**
 * {@linkcode verify} with the public key as hex, the form signed pages carry it in: a key whose
 * verdict is cached is not decoded again (nor re-encoded to find it in the cache). The same
 * verdicts as `verify(Uint8Array.fromHex(publicKeyHex), message, signature)`, and like `fromHex`
 * it throws SyntaxError for a key that is not hex.
 */
export function verifyHexKey(
  publicKeyHex: string,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  return ed25519.verifyHexKey(publicKeyHex, message, signature);
}

/**
 * True when `publicKey` may be a participant key: 32 bytes, canonical, on the curve, not of small
 * order, torsion-free. Check it when a key enters a page so that a weak key never gets vote power.
 */
export function isValidPublicKey(publicKey: Uint8Array): boolean {
  return ed25519.isValidPublicKey(publicKey);
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/**
 * Lowercase hex SHA-256 of the UTF-8 encoding of `text` (a string with lone surrogates is hashed
 * as their U+FFFD replacement, like `TextEncoder`). The same digest as
 * `sha256(new TextEncoder().encode(text)).toHex()`, about 5× faster for short texts: node:crypto
 * encodes and hex-formats natively, with no intermediate buffers.
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
