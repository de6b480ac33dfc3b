/**
 * Ed25519 with the djdns acceptance rule applied in front of a backend, and a bounded per-key
 * cache so that the expensive key checks and key parsing happen once per participant key.
 *
 * @module
 */
import type { Ed25519Backend, KeyPair } from "./ed25519_backend.ts";
import { publicKeyOk, signatureShapeOk } from "./ed25519_rules.ts";

/** Ed25519 operations bound to one backend. */
export interface Ed25519 {
  /** Name of the backend in use. */
  readonly backend: string;
  /** Fresh random key pair. */
  generateKeyPair(): KeyPair;
  /** Raw public key of a 32-byte seed; throws RangeError for another length. */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /** 64-byte signature of `message`; throws RangeError for a seed that is not 32 bytes. */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** Verdict of the acceptance rule; never throws. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** True when `publicKey` is acceptable as a participant key. */
  isValidPublicKey(publicKey: Uint8Array): boolean;
}

/**
 * Bound on cached key verdicts. A cold key costs one torsion check (about 0.4 ms in pure JS) plus
 * parsing; a cached one a Map lookup. 8192 keeps memory to a few MB on small routers.
 */
export const KEY_CACHE_MAX = 8192;

function checkSeed(secretKey: Uint8Array): void {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new RangeError("Ed25519 secret key must be 32 bytes");
  }
}

/** Binds the acceptance rule and a key cache to `backend`. */
export function createEd25519<K>(backend: Ed25519Backend<K>): Ed25519 {
  // Key hex -> prepared key, or null for a key the rule rejects (also worth remembering: a
  // rejected torsion check costs as much as an accepted one).
  const keyCache = new Map<string, K | null>();

  function preparedKey(publicKey: Uint8Array): K | null {
    const hex = publicKey.toHex();
    const cached = keyCache.get(hex);
    if (cached !== undefined) return cached;
    let key: K | null = null;
    if (publicKeyOk(publicKey)) {
      try {
        key = backend.prepareKey(publicKey);
      } catch {
        key = null;
      }
    }
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(hex, key);
    return key;
  }

  return {
    backend: backend.name,
    generateKeyPair: () => backend.generateKeyPair(),
    publicKeyOf(secretKey) {
      checkSeed(secretKey);
      return backend.publicKeyOf(secretKey);
    },
    sign(secretKey, message) {
      checkSeed(secretKey);
      if (!(message instanceof Uint8Array)) throw new TypeError("message must be a Uint8Array");
      return backend.sign(secretKey, message);
    },
    verify(publicKey, message, signature) {
      if (
        !(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) ||
        !(signature instanceof Uint8Array) || !signatureShapeOk(publicKey, signature)
      ) return false;
      const key = preparedKey(publicKey);
      return key !== null && backend.verifyPrepared(key, publicKey, message, signature);
    },
    isValidPublicKey(publicKey) {
      return publicKey instanceof Uint8Array && publicKey.length === 32 &&
        preparedKey(publicKey) !== null;
    },
  };
}
