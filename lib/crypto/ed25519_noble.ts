/**
 * Ed25519 on pure-JS `@noble/ed25519`: the fallback when `node:crypto` has no Ed25519, and the
 * independent implementation tests cross-check against.
 *
 * Verification does not call `ed.verify`: that is cofactored ([8][S]B = [8]R + [8][k]A) and so
 * accepts an R with a torsion component, which the native verifiers reject. This backend evaluates
 * the cofactorless equation with noble's point arithmetic instead, like the native ones.
 *
 * @module
 */
import * as ed from "@noble/ed25519";
import { createHash } from "node:crypto";
import type { Ed25519Backend, KeyPair } from "./ed25519_backend.ts";
import { ED25519_L, leToBigInt } from "./ed25519_rules.ts";

function sha512(message: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash("sha512").update(message).digest());
}

// noble's synchronous API needs a synchronous SHA-512; node:crypto hashing stays available even in
// runtimes whose node:crypto lacks Ed25519.
ed.hashes.sha512 ??= sha512;

/** The `@noble/ed25519` backend (cofactorless, R compared by encoding). */
export const nobleBackend: Ed25519Backend<ed.Point> = {
  name: "@noble/ed25519",
  generateKeyPair(): KeyPair {
    const { secretKey, publicKey } = ed.keygen();
    return { publicKey, secretKey };
  },
  publicKeyOf(secretKey: Uint8Array): Uint8Array {
    return ed.getPublicKey(secretKey);
  },
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    return ed.sign(message, secretKey);
  },
  prepareKey(publicKey: Uint8Array): ed.Point {
    return ed.Point.fromBytes(publicKey, false);
  },
  verifyPrepared(key, publicKey, message, signature): boolean {
    try {
      const r = signature.subarray(0, 32);
      const s = leToBigInt(signature.subarray(32, 64));
      const hashInput = new Uint8Array(64 + message.length);
      hashInput.set(r);
      hashInput.set(publicKey, 32);
      hashInput.set(message, 64);
      const k = leToBigInt(sha512(hashInput)) % ED25519_L;
      // Unsafe (variable-time) multiplication is fine: every input here is public.
      const expectedR = ed.Point.BASE.multiply(s, false).subtract(key.multiply(k, false));
      const encoded = expectedR.toBytes();
      for (let i = 0; i < 32; i++) if (encoded[i] !== r[i]) return false;
      return true;
    } catch {
      return false;
    }
  },
};
