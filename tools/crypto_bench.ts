/**
 * Ed25519 and SHA-256 throughput: the djdns wrapper (node:crypto + acceptance rule) against
 * WebCrypto and @noble/ed25519, plus signing, the first-use key check and SHA-256 of 200 bytes.
 *
 * Run: npx -y deno@2.9.6 bench --allow-all tools/crypto_bench.ts
 */
import * as ed from "@noble/ed25519";
import { createEd25519 } from "../lib/crypto/ed25519.ts";
import { nobleBackend } from "../lib/crypto/ed25519_noble.ts";
import { nodeBackend } from "../lib/crypto/ed25519_node.ts";
import { publicKeyOk } from "../lib/crypto/ed25519_rules.ts";
import { generateKeyPair, sha256, sign, verify } from "../lib/crypto/mod.ts";

// A domain-separated event id is a few dozen bytes; 64 is representative.
const message = crypto.getRandomValues(new Uint8Array(64));
const { publicKey, secretKey } = generateKeyPair();
const signature = sign(secretKey, message);
const fallback = createEd25519(nobleBackend);
const nodeKey = nodeBackend.prepareKey(publicKey);
const webKey = await crypto.subtle.importKey(
  "raw",
  Uint8Array.from(publicKey),
  { name: "Ed25519" },
  false,
  ["verify"],
);
const webSig = Uint8Array.from(signature);
const webMsg = Uint8Array.from(message);
const data200 = crypto.getRandomValues(new Uint8Array(200));

if (!verify(publicKey, message, signature) || !fallback.verify(publicKey, message, signature)) {
  throw new Error("bench setup: signature does not verify");
}

Deno.bench({
  name: "verify: djdns wrapper (node:crypto + rule)",
  group: "verify",
  baseline: true,
  fn: () => {
    verify(publicKey, message, signature);
  },
});
Deno.bench({
  name: "verify: node:crypto alone (no rule, key parsed once)",
  group: "verify",
  fn: () => {
    nodeBackend.verifyPrepared(nodeKey, publicKey, message, signature);
  },
});
Deno.bench({
  name: "verify: WebCrypto crypto.subtle",
  group: "verify",
  fn: async () => {
    await crypto.subtle.verify({ name: "Ed25519" }, webKey, webSig, webMsg);
  },
});
Deno.bench({
  name: "verify: @noble/ed25519 ed.verify (sync)",
  group: "verify",
  fn: () => {
    ed.verify(signature, message, publicKey, { zip215: false });
  },
});
Deno.bench({
  name: "verify: djdns fallback (noble, cofactorless + rule)",
  group: "verify",
  fn: () => {
    fallback.verify(publicKey, message, signature);
  },
});
Deno.bench({
  name: "key check: publicKeyOk (uncached first-use cost of a key)",
  group: "key",
  fn: () => {
    publicKeyOk(publicKey);
  },
});
Deno.bench({
  name: "sign: djdns wrapper (node:crypto)",
  group: "sign",
  fn: () => {
    sign(secretKey, message);
  },
});
Deno.bench({
  name: "sha256: 200 bytes",
  group: "sha256",
  fn: () => {
    sha256(data200);
  },
});
