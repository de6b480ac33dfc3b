/**
 * Ed25519 signing and verification, and SHA-256, for djdns.
 *
 * Verification uses `node:crypto` (the fastest verifier measured on Deno here). Keys are raw
 * 32-byte Ed25519 public keys and 32-byte seeds; signatures are 64 bytes (RFC 8032).
 *
 * @module
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";

/** An Ed25519 key pair: raw 32-byte public key and 32-byte secret seed. */
export interface KeyPair {
  /** Raw 32-byte public key. */
  publicKey: Uint8Array;
  /** Raw 32-byte secret seed (RFC 8032 private key). */
  secretKey: Uint8Array;
}

const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// Building a KeyObject costs more than a verify; keys repeat across approvals, so keep a bounded map.
const KEY_CACHE_MAX = 4096;
const keyCache = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const hex = publicKey.toHex();
  let key = keyCache.get(hex);
  if (key === undefined) {
    key = createPublicKey({ key: concat(SPKI_PREFIX, publicKey), format: "der", type: "spki" });
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(hex, key);
  }
  return key;
}

/** Creates a fresh random Ed25519 key pair. */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const pkcs8 = new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }));
  return { publicKey: spki.slice(SPKI_PREFIX.length), secretKey: pkcs8.slice(PKCS8_PREFIX.length) };
}

/** Derives the raw public key of a 32-byte secret seed. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  const priv = createPrivateKey({
    key: concat(PKCS8_PREFIX, secretKey),
    format: "der",
    type: "pkcs8",
  });
  const spki = new Uint8Array(createPublicKey(priv).export({ format: "der", type: "spki" }));
  return spki.slice(SPKI_PREFIX.length);
}

/** Signs `message` with a 32-byte secret seed; returns the 64-byte signature. */
export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  if (secretKey.length !== 32) throw new RangeError("Ed25519 secret key must be 32 bytes");
  const priv = createPrivateKey({
    key: concat(PKCS8_PREFIX, secretKey),
    format: "der",
    type: "pkcs8",
  });
  return new Uint8Array(nodeSign(null, message, priv));
}

/**
 * Verifies an Ed25519 signature. Returns false (never throws) for wrong lengths, keys that are not
 * valid points, and signatures that do not verify.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}
