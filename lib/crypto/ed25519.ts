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
  /**
   * `verify(Uint8Array.fromHex(publicKeyHex), message, signature)`, without decoding a key whose
   * verdict is cached (by its lowercase hex). Throws SyntaxError, as `fromHex` does, for a key
   * that is not hex.
   */
  verifyHexKey(publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean;
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
  // Key hex -> prepared key and its bytes, or null for a key the rule rejects (also worth
  // remembering: a rejected torsion check costs as much as an accepted one).
  const keyCache = new Map<string, { readonly key: K; readonly bytes: Uint8Array } | null>();

  function preparedKey(publicKey: Uint8Array): K | null {
    const hex = publicKey.toHex();
    const cached = keyCache.get(hex);
    if (cached !== undefined) return cached && cached.key;
    let key: K | null = null;
    if (publicKeyOk(publicKey)) {
      try {
        key = backend.prepareKey(publicKey);
      } catch {
        key = null;
      }
    }
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
    // A copy of the bytes: the caller's array may change after this call.
    keyCache.set(hex, key === null ? null : { key, bytes: publicKey.slice() });
    return key;
  }

  function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (
      !(publicKey instanceof Uint8Array) || !(message instanceof Uint8Array) ||
      !(signature instanceof Uint8Array) || !signatureShapeOk(publicKey, signature)
    ) return false;
    const key = preparedKey(publicKey);
    return key !== null && backend.verifyPrepared(key, publicKey, message, signature);
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
    verify,
    verifyHexKey(publicKeyHex, message, signature) {
      const cached = keyCache.get(publicKeyHex);
      // Not cached (nor lowercase hex, maybe): decode it and take the general path.
      if (cached === undefined) return verify(Uint8Array.fromHex(publicKeyHex), message, signature);
      // The same checks as verify(), in the same order, with the cached key's bytes.
      if (
        !(message instanceof Uint8Array) || !(signature instanceof Uint8Array) ||
        cached === null || !signatureShapeOk(cached.bytes, signature)
      ) return false;
      return backend.verifyPrepared(cached.key, cached.bytes, message, signature);
    },
    isValidPublicKey(publicKey) {
      return publicKey instanceof Uint8Array && publicKey.length === 32 &&
        preparedKey(publicKey) !== null;
    },
  };
}
