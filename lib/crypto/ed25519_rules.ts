/**
 * The djdns Ed25519 acceptance rule, as cheap byte-level checks that run before any backend sees a
 * signature, plus the one expensive check (torsion) that is done once per public key.
 *
 * Backends disagree on edge cases (cofactored vs cofactorless equation, reduced vs rejected
 * non-canonical encodings, weak keys). Consensus needs one verdict, so the rule is fixed here:
 *
 * - public key 32 bytes, signature 64 bytes;
 * - S canonical: S < L;
 * - A and R canonical encodings: y < p, and no "negative zero" (x = 0 with the sign bit set);
 * - A and R not of small order (the 8 points of order dividing 8, in any encoding);
 * - A torsion-free (no mixed-order keys: [L]A must be the identity);
 * - then the cofactorless equation [S]B = R + [k]A, with R compared by its encoding.
 *
 * @module
 */
import { Point } from "@noble/ed25519";

/** L = 2^252 + 27742317777372353535851937790883648493, the prime order of the base point. */
export const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

const L_LE = bigIntToLE(ED25519_L, 32);

/** Little-endian bytes of `n` in `length` bytes. */
export function bigIntToLE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The unsigned little-endian integer in `bytes`. */
export function leToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** True when the 32 bytes at `offset` encode an integer below L (a canonical scalar S). */
export function isCanonicalScalar(bytes: Uint8Array, offset: number): boolean {
  // L's top byte is 0x10, so almost every S is decided by its last byte.
  const top = bytes[offset + 31];
  if (top < 0x10) return true;
  if (top > 0x10) return false;
  for (let i = 30; i >= 0; i--) {
    const b = bytes[offset + i];
    if (b !== L_LE[i]) return b < L_LE[i];
  }
  return false; // S == L
}

/**
 * True when the 32 bytes at `offset` have y < p = 2^255 - 19 (sign bit ignored). The negative-zero
 * encodings (y = ±1 with the sign bit) are caught by {@linkcode isSmallOrderEncoding}.
 */
export function isCanonicalY(bytes: Uint8Array, offset: number): boolean {
  // y >= p only when bytes 1..30 are 0xff, byte 31 (masked) is 0x7f and byte 0 is >= 0xed.
  if ((bytes[offset + 31] & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (bytes[offset + i] !== 0xff) return true;
  return bytes[offset] < 0xed;
}

// The 8 points of order dividing 8, canonically encoded, then their non-canonical encodings
// (y = ±1 with the sign bit set; y = p and p + 1, i.e. 0 and 1 reduced, with either sign bit).
const SMALL_ORDER_HEX = [
  "0100000000000000000000000000000000000000000000000000000000000000", // identity
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0000000000000000000000000000000000000000000000000000000000000080", // order 4
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
  "0100000000000000000000000000000000000000000000000000000000000080", // identity, -0
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 2, -0
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p, sign
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p + 1, sign
] as const;

/** Every encoding of a small-order point that djdns rejects, as hex. */
export const SMALL_ORDER_ENCODINGS: readonly string[] = SMALL_ORDER_HEX;

const SMALL_ORDER_BYTES = SMALL_ORDER_HEX.map((h) => Uint8Array.fromHex(h));
// Indexed by first byte so that a random R or A costs one table lookup.
const SMALL_ORDER_BY_FIRST_BYTE: (Uint8Array[] | undefined)[] = new Array(256);
for (const enc of SMALL_ORDER_BYTES) (SMALL_ORDER_BY_FIRST_BYTE[enc[0]] ??= []).push(enc);

/** True when the 32 bytes at `offset` are one of {@linkcode SMALL_ORDER_ENCODINGS}. */
export function isSmallOrderEncoding(bytes: Uint8Array, offset: number): boolean {
  const candidates = SMALL_ORDER_BY_FIRST_BYTE[bytes[offset]];
  if (candidates === undefined) return false;
  outer: for (const enc of candidates) {
    for (let i = 1; i < 32; i++) if (bytes[offset + i] !== enc[i]) continue outer;
    return true;
  }
  return false;
}

/**
 * The per-signature part of the rule: lengths, S < L, R canonical and not of small order.
 * Runs in a few byte compares on the common path.
 */
export function signatureShapeOk(publicKey: Uint8Array, signature: Uint8Array): boolean {
  return publicKey.length === 32 && signature.length === 64 &&
    isCanonicalScalar(signature, 32) && isCanonicalY(signature, 0) &&
    !isSmallOrderEncoding(signature, 0);
}

/**
 * The per-key part of the rule: a canonical encoding of a point on the curve, not of small order,
 * and torsion-free. The torsion check is a full scalar multiplication in pure JS (about 0.4 ms), so
 * callers cache the verdict per key.
 */
export function publicKeyOk(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false;
  if (!isCanonicalY(publicKey, 0) || isSmallOrderEncoding(publicKey, 0)) return false;
  let point: Point;
  try {
    point = Point.fromBytes(publicKey, false);
  } catch {
    return false; // not on the curve
  }
  return point.isTorsionFree();
}
