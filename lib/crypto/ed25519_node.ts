/**
 * Ed25519 on `node:crypto` (native in Deno; the fastest verifier measured here).
 *
 * @module
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import type { Ed25519Backend, KeyPair } from "./ed25519_backend.ts";

// DER wrappers around a raw Ed25519 key (RFC 8410): SubjectPublicKeyInfo and PKCS#8.
const SPKI_PREFIX = Uint8Array.fromHex("302a300506032b6570032100");
const PKCS8_PREFIX = Uint8Array.fromHex("302e020100300506032b657004220420");

function concat(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.concat([a, b]);
}

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: concat(PKCS8_PREFIX, secretKey), format: "der", type: "pkcs8" });
}

/** The `node:crypto` backend; its verifier is cofactorless and compares R by encoding. */
export const nodeBackend: Ed25519Backend<KeyObject> = {
  name: "node:crypto",
  generateKeyPair(): KeyPair {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    const pkcs8 = new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }));
    return {
      publicKey: spki.slice(SPKI_PREFIX.length),
      secretKey: pkcs8.slice(PKCS8_PREFIX.length),
    };
  },
  publicKeyOf(secretKey: Uint8Array): Uint8Array {
    const pub = createPublicKey(privateKeyObject(secretKey));
    return new Uint8Array(pub.export({ format: "der", type: "spki" })).slice(SPKI_PREFIX.length);
  },
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, privateKeyObject(secretKey)));
  },
  prepareKey(publicKey: Uint8Array): KeyObject {
    return createPublicKey({ key: concat(SPKI_PREFIX, publicKey), format: "der", type: "spki" });
  },
  verifyPrepared(key, _publicKey, message, signature): boolean {
    try {
      return nodeVerify(null, message, key, signature);
    } catch {
      return false;
    }
  },
};

// RFC 8032 §7.1 TEST 1: the self-test that decides whether this backend is usable at all.
const SELF_TEST_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const SELF_TEST_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const SELF_TEST_SIG = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

/**
 * The `node:crypto` backend if Ed25519 works in this runtime (derives, signs and verifies RFC 8032
 * TEST 1 correctly), otherwise null.
 */
export function usableNodeBackend(): Ed25519Backend<KeyObject> | null {
  try {
    const seed = Uint8Array.fromHex(SELF_TEST_SEED);
    const empty = new Uint8Array(0);
    const pub = nodeBackend.publicKeyOf(seed);
    const sig = nodeBackend.sign(seed, empty);
    const ok = pub.toHex() === SELF_TEST_PUBLIC && sig.toHex() === SELF_TEST_SIG &&
      nodeBackend.verifyPrepared(nodeBackend.prepareKey(pub), pub, empty, sig);
    return ok ? nodeBackend : null;
  } catch {
    return null;
  }
}
