/**
 * The interface an Ed25519 implementation offers to {@linkcode createEd25519}.
 *
 * @module
 */

/** An Ed25519 key pair: raw 32-byte public key and 32-byte secret seed. */
export interface KeyPair {
  /** Raw 32-byte public key. */
  publicKey: Uint8Array;
  /** Raw 32-byte secret seed (RFC 8032 private key). */
  secretKey: Uint8Array;
}

/**
 * One Ed25519 implementation. `K` is whatever the backend wants to keep per public key (a parsed
 * key object, a decoded point) so that repeated verifications do not parse the key again.
 */
export interface Ed25519Backend<K> {
  /** Short name for diagnostics and benchmarks. */
  readonly name: string;
  /** Fresh random key pair. */
  generateKeyPair(): KeyPair;
  /** Raw public key of a 32-byte seed (length already checked). */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /** RFC 8032 signature of `message` (seed length already checked). */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** Parses a public key that already passed the acceptance rule's key checks. */
  prepareKey(publicKey: Uint8Array): K;
  /**
   * Cofactorless verification ([S]B = R + [k]A, R compared by encoding) of a signature that already
   * passed the acceptance rule's pre-checks. Must not throw.
   */
  verifyPrepared(
    key: K,
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): boolean;
}
