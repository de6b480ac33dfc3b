/**
 * Ed25519 and SHA-256: RFC 8032 vectors across every backend, and the djdns acceptance rule on
 * crafted edge cases, with each backend's own verdict recorded next to the rule's.
 */
import * as ed from "@noble/ed25519";
import assert from "node:assert/strict";
import { createEd25519 } from "../lib/crypto/ed25519.ts";
import { nobleBackend } from "../lib/crypto/ed25519_noble.ts";
import { nodeBackend } from "../lib/crypto/ed25519_node.ts";
import {
  bigIntToLE,
  ED25519_L,
  isCanonicalScalar,
  leToBigInt,
  SMALL_ORDER_ENCODINGS,
} from "../lib/crypto/ed25519_rules.ts";
import {
  ED25519_BACKEND,
  generateKeyPair,
  isValidPublicKey,
  publicKeyOf,
  sha256,
  sign,
  verify,
} from "../lib/crypto/mod.ts";

const hex = (s: string) => Uint8Array.fromHex(s);
const utf8 = (s: string) => new TextEncoder().encode(s);
const fallback = createEd25519(nobleBackend);
const PKCS8_PREFIX = hex("302e020100300506032b657004220420");

// RFC 8032 §7.1, Ed25519 TEST 1, 2, 3, 1024 and SHA(abc).
const TEST_1024_MESSAGE = [
  "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1",
  "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
  "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a",
  "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
  "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10",
  "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
  "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d",
  "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
  "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b",
  "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
  "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b",
  "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
  "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d",
  "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
  "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7",
  "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
  "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09",
  "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
  "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161",
  "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
  "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca",
  "c60c905c15fc910840b94c00a0b9d0",
].join("");

const RFC8032 = [
  {
    name: "TEST 1",
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2",
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3",
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
      "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
  {
    name: "TEST 1024",
    secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    public: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    message: TEST_1024_MESSAGE,
    signature: "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350" +
      "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
  },
  {
    name: "TEST SHA(abc)",
    secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589" +
      "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
  },
];

// Raw verdicts of each backend, without the djdns pre-checks. A throw counts as a rejection.
function rawNode(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return nodeBackend.verifyPrepared(nodeBackend.prepareKey(pub), pub, msg, sig);
  } catch {
    return false;
  }
}

async function rawWebCrypto(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  try {
    // Copies: WebCrypto wants ArrayBuffer-backed views.
    const raw = Uint8Array.from(pub);
    const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify(
      { name: "Ed25519" },
      key,
      Uint8Array.from(sig),
      Uint8Array.from(msg),
    );
  } catch {
    return false;
  }
}

function rawNoble(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, zip215: boolean): boolean {
  try {
    return ed.verify(sig, msg, pub, { zip215 });
  } catch {
    return false;
  }
}

Deno.test("crypto: native node:crypto backend is in use here", () => {
  assert.equal(ED25519_BACKEND, "node:crypto");
});

Deno.test("crypto: RFC 8032 §7.1 vectors agree across wrapper, fallback, WebCrypto and noble", async () => {
  for (const v of RFC8032) {
    const secret = hex(v.secret), pub = hex(v.public), msg = hex(v.message);
    const sig = hex(v.signature);
    assert.equal(msg.length, v.name === "TEST 1024" ? 1023 : msg.length, v.name);

    assert.equal(publicKeyOf(secret).toHex(), v.public, `${v.name} wrapper public key`);
    assert.equal(fallback.publicKeyOf(secret).toHex(), v.public, `${v.name} fallback public key`);
    assert.equal(ed.getPublicKey(secret).toHex(), v.public, `${v.name} noble public key`);

    assert.equal(sign(secret, msg).toHex(), v.signature, `${v.name} wrapper sign`);
    assert.equal(fallback.sign(secret, msg).toHex(), v.signature, `${v.name} fallback sign`);
    assert.equal(ed.sign(msg, secret).toHex(), v.signature, `${v.name} noble sign`);
    const webKey = await crypto.subtle.importKey(
      "pkcs8",
      new Uint8Array([...PKCS8_PREFIX, ...secret]),
      { name: "Ed25519" },
      false,
      ["sign"],
    );
    const webSig = new Uint8Array(
      await crypto.subtle.sign({ name: "Ed25519" }, webKey, Uint8Array.from(msg)),
    );
    assert.equal(webSig.toHex(), v.signature, `${v.name} WebCrypto sign`);

    assert.equal(verify(pub, msg, sig), true, `${v.name} wrapper verify`);
    assert.equal(fallback.verify(pub, msg, sig), true, `${v.name} fallback verify`);
    assert.equal(await rawWebCrypto(pub, msg, sig), true, `${v.name} WebCrypto verify`);
    assert.equal(rawNoble(pub, msg, sig, false), true, `${v.name} noble verify`);
    assert.equal(isValidPublicKey(pub), true, `${v.name} key is valid`);

    // The same signature over another message fails everywhere.
    const other = new Uint8Array([...msg, 0]);
    assert.equal(verify(pub, other, sig), false, `${v.name} wrapper, other message`);
    assert.equal(fallback.verify(pub, other, sig), false, `${v.name} fallback, other message`);
    assert.equal(await rawWebCrypto(pub, other, sig), false, `${v.name} WebCrypto, other message`);
    assert.equal(rawNoble(pub, other, sig, false), false, `${v.name} noble, other message`);
  }
});

// ---- crafted edge cases ----------------------------------------------------------------------

const { Point } = ed;
const B = Point.BASE;
const P = 2n ** 255n - 19n;
const le32 = (n: bigint) => bigIntToLE(n, 32);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array) =>
  leToBigInt(ed.hashes.sha512!(cat(r, a, m))) % ED25519_L;

// The 8 small-order points: multiples of a point of order 8.
const T8 = Point.fromBytes(hex(SMALL_ORDER_ENCODINGS[4]));
const TORSION = Array.from(
  { length: 8 },
  (_, i) => (i === 0 ? Point.ZERO : T8.multiply(BigInt(i))),
);

// A secret scalar with an honest (torsion-free) key.
const a = 0x5eed_5eed_5eed_5eed_5eed_5eed_5eedn % ED25519_L;
const A = B.multiply(a);
const AB = A.toBytes();
const M = utf8("djdns edge case");

/** First message "label-N" whose challenge k for (R, A) satisfies `want`. */
function messageWhere(r: Uint8Array, pub: Uint8Array, label: string, want: (k: bigint) => boolean) {
  for (let i = 0;; i++) {
    const m = utf8(`${label}-${i}`);
    if (want(challenge(r, pub, m))) return m;
  }
}

/** An honest signature by `a` over `m`, with nonce point R = [r]B + extra. */
function signWith(r: bigint, m: Uint8Array, extra = Point.ZERO, pub = AB, scalar = a) {
  const R = B.multiply(r).add(extra).toBytes();
  return cat(R, le32((r + challenge(R, pub, m) * scalar) % ED25519_L));
}

interface EdgeCase {
  name: string;
  pub: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
  /** Verdict of node:crypto and of WebCrypto (both native, recorded identical here). */
  native: boolean;
  /** `ed.verify(..., { zip215: false })`: cofactored, rejects small-order keys. */
  nobleStrict: boolean;
  /** `ed.verify(...)` default: ZIP-215. */
  nobleZip215: boolean;
}

function edgeCases(): EdgeCase[] {
  const cases: EdgeCase[] = [];
  const add = (c: EdgeCase) => cases.push(c);
  const identity = Point.ZERO.toBytes();
  const negZeroIdentity = hex(SMALL_ORDER_ENCODINGS[8]);
  const pPlus1 = le32(P + 1n); // identity, y not reduced

  const honest = signWith(777n, M);
  add({
    name: "honest",
    pub: AB,
    msg: M,
    sig: honest,
    native: true,
    nobleStrict: true,
    nobleZip215: true,
  });
  const sPlusL = cat(honest.subarray(0, 32), le32(leToBigInt(honest.subarray(32)) + ED25519_L));
  add({
    name: "S + L (non-canonical S)",
    pub: AB,
    msg: M,
    sig: sPlusL,
    native: false,
    nobleStrict: false,
    nobleZip215: false,
  });
  const sIsL = cat(honest.subarray(0, 32), le32(ED25519_L));
  add({
    name: "S = L",
    pub: AB,
    msg: M,
    sig: sIsL,
    native: false,
    nobleStrict: false,
    nobleZip215: false,
  });
  const sHighBit = honest.slice();
  sHighBit[63] |= 0x80;
  add({
    name: "S with bit 255 set",
    pub: AB,
    msg: M,
    sig: sHighBit,
    native: false,
    nobleStrict: false,
    nobleZip215: false,
  });

  // Small-order public keys: R = [r]B, S = r verifies cofactorless exactly when [k]A = 0.
  const zeroSig = cat(identity, le32(0n));
  add({
    name: "identity A, identity R, S = 0 (any message)",
    pub: identity,
    msg: M,
    sig: zeroSig,
    native: true,
    nobleStrict: false,
    nobleZip215: true,
  });
  add({
    name: "identity A with y = p + 1",
    pub: pPlus1,
    msg: M,
    sig: zeroSig,
    native: false,
    nobleStrict: false,
    nobleZip215: true,
  });
  add({
    name: "identity A as negative zero",
    pub: negZeroIdentity,
    msg: M,
    sig: zeroSig,
    native: false,
    nobleStrict: false,
    nobleZip215: true,
  });
  const rB = B.multiply(5555n).toBytes();
  const rSig = cat(rB, le32(5555n));
  for (const [order, index] of [[2, 4], [4, 2], [8, 1]] as const) {
    const T = TORSION[index].toBytes();
    const kills = messageWhere(rB, T, `order${order}`, (k) => k % BigInt(order) === 0n);
    add({
      name: `order-${order} A, k ≡ 0 mod ${order}`,
      pub: T,
      msg: kills,
      sig: rSig,
      native: true,
      nobleStrict: false,
      nobleZip215: true,
    });
    const keeps = messageWhere(rB, T, `order${order}`, (k) => k % BigInt(order) !== 0n);
    add({
      name: `order-${order} A, k ≢ 0 mod ${order}`,
      pub: T,
      msg: keeps,
      sig: rSig,
      native: false,
      nobleStrict: false,
      nobleZip215: true,
    });
  }

  // Mixed-order key A + T8: cofactorless accepts only when [k]T8 = 0, cofactored always.
  const mixed = A.add(T8).toBytes();
  const mixedR = B.multiply(7777n).toBytes();
  for (const divisible of [true, false]) {
    const m = messageWhere(mixedR, mixed, "mixed", (k) => (k % 8n === 0n) === divisible);
    const sig = cat(mixedR, le32((7777n + challenge(mixedR, mixed, m) * a) % ED25519_L));
    add({
      name: `mixed-order A, k ${divisible ? "≡" : "≢"} 0 mod 8`,
      pub: mixed,
      msg: m,
      sig,
      native: divisible,
      nobleStrict: true,
      nobleZip215: true,
    });
  }

  // R with a torsion component, or of small order, under an honest key.
  add({
    name: "mixed-order R",
    pub: AB,
    msg: M,
    sig: signWith(999n, M, TORSION[3]),
    native: false,
    nobleStrict: true,
    nobleZip215: true,
  });
  const kIdentity = challenge(identity, AB, M);
  add({
    name: "identity R, S = k·a",
    pub: AB,
    msg: M,
    sig: cat(identity, le32((kIdentity * a) % ED25519_L)),
    native: true,
    nobleStrict: true,
    nobleZip215: true,
  });
  const T8R = TORSION[1].toBytes();
  add({
    name: "order-8 R, S = k·a",
    pub: AB,
    msg: M,
    sig: cat(T8R, le32((challenge(T8R, AB, M) * a) % ED25519_L)),
    native: false,
    nobleStrict: true,
    nobleZip215: true,
  });
  for (const [label, R] of [["y = p + 1", pPlus1], ["negative zero", negZeroIdentity]] as const) {
    const sig = cat(R, le32((challenge(R, AB, M) * a) % ED25519_L));
    add({
      name: `identity R as ${label}, S = k·a`,
      pub: AB,
      msg: M,
      sig,
      native: false,
      nobleStrict: false,
      nobleZip215: true,
    });
  }

  // Encodings that are not points, and a non-canonical y of a large-order point.
  const offCurve = le32(2n);
  add({
    name: "A not on the curve",
    pub: offCurve,
    msg: M,
    sig: honest,
    native: false,
    nobleStrict: false,
    nobleZip215: false,
  });
  add({
    name: "R not on the curve",
    pub: AB,
    msg: M,
    sig: cat(offCurve, honest.subarray(32)),
    native: false,
    nobleStrict: false,
    nobleZip215: false,
  });
  add({
    name: "A with y = p + 3 (non-canonical, large order)",
    pub: le32(P + 3n),
    msg: M,
    sig: honest,
    native: false,
    nobleStrict: false,
    nobleZip215: false,
  });
  return cases;
}

Deno.test("crypto: edge cases — backends' own verdicts as recorded; wrapper and fallback follow the rule", async () => {
  for (const c of edgeCases()) {
    // The djdns rule: only the honest signature passes.
    const rule = c.name === "honest";
    assert.equal(verify(c.pub, c.msg, c.sig), rule, `${c.name}: wrapper`);
    assert.equal(fallback.verify(c.pub, c.msg, c.sig), rule, `${c.name}: fallback`);
    assert.equal(rawNode(c.pub, c.msg, c.sig), c.native, `${c.name}: node:crypto raw`);
    assert.equal(await rawWebCrypto(c.pub, c.msg, c.sig), c.native, `${c.name}: WebCrypto raw`);
    assert.equal(rawNoble(c.pub, c.msg, c.sig, false), c.nobleStrict, `${c.name}: noble strict`);
    assert.equal(rawNoble(c.pub, c.msg, c.sig, true), c.nobleZip215, `${c.name}: noble ZIP-215`);
    // A second call (key verdict now cached) gives the same answer.
    assert.equal(verify(c.pub, c.msg, c.sig), rule, `${c.name}: wrapper, cached key`);
  }
});

Deno.test("crypto: the small-order blocklist is every encoding of the 8 small-order points", () => {
  const expected = new Set<string>();
  for (const t of TORSION) {
    const enc = t.toBytes();
    expected.add(enc.toHex());
    const { x, y } = t.toAffine();
    if (x === 0n) expected.add(cat(enc.subarray(0, 31), Uint8Array.of(enc[31] | 0x80)).toHex());
    if (y + P < 2n ** 255n) {
      const nc = le32(y + P);
      expected.add(nc.toHex());
      nc[31] |= 0x80;
      expected.add(nc.toHex());
    }
  }
  assert.deepEqual(new Set(SMALL_ORDER_ENCODINGS), expected);
  for (const enc of SMALL_ORDER_ENCODINGS) {
    assert.ok(Point.fromBytes(hex(enc), true).isSmallOrder(), enc);
    assert.equal(isValidPublicKey(hex(enc)), false, enc);
  }
});

Deno.test("crypto: S < L is decided exactly at the boundary", () => {
  const at = (n: bigint) => isCanonicalScalar(cat(new Uint8Array(32), le32(n)), 32);
  assert.equal(at(0n), true);
  assert.equal(at(ED25519_L - 1n), true);
  assert.equal(at(ED25519_L), false);
  assert.equal(at(ED25519_L + 1n), false);
  assert.equal(at(2n ** 252n), true); // top byte 0x10, decided by the lower bytes
  assert.equal(at(2n ** 253n), false);
  assert.equal(at(2n ** 256n - 1n), false);
});

Deno.test("crypto: isValidPublicKey accepts real keys and rejects weak or malformed ones", () => {
  assert.equal(isValidPublicKey(AB), true);
  assert.equal(isValidPublicKey(generateKeyPair().publicKey), true);
  assert.equal(isValidPublicKey(A.add(TORSION[1]).toBytes()), false, "mixed order (8)");
  assert.equal(isValidPublicKey(A.add(TORSION[4]).toBytes()), false, "mixed order (2)");
  assert.equal(isValidPublicKey(le32(2n)), false, "off curve");
  assert.equal(isValidPublicKey(le32(P + 3n)), false, "non-canonical y");
  assert.equal(isValidPublicKey(AB.subarray(0, 31)), false, "31 bytes");
  assert.equal(isValidPublicKey(new Uint8Array(33)), false, "33 bytes");
  assert.equal(isValidPublicKey("not bytes" as unknown as Uint8Array), false, "a string");
  assert.equal(fallback.isValidPublicKey(A.add(TORSION[1]).toBytes()), false, "fallback: mixed");
});

Deno.test("crypto: every flipped signature bit, wrong lengths and wrong types give false", () => {
  const { publicKey, secretKey } = generateKeyPair();
  const msg = utf8("approve");
  const sig = sign(secretKey, msg);
  assert.equal(verify(publicKey, msg, sig), true);
  for (let bit = 0; bit < 512; bit++) {
    const bad = sig.slice();
    bad[bit >> 3] ^= 1 << (bit & 7);
    assert.equal(verify(publicKey, msg, bad), false, `bit ${bit}`);
  }
  for (const n of [0, 1, 32, 63, 65, 128]) {
    const other = new Uint8Array(n);
    other.set(sig.subarray(0, Math.min(n, 64)));
    assert.equal(verify(publicKey, msg, other), false, `signature of ${n} bytes`);
    assert.equal(
      fallback.verify(publicKey, msg, other),
      false,
      `fallback, signature of ${n} bytes`,
    );
  }
  for (const n of [0, 31, 33]) {
    assert.equal(verify(new Uint8Array(n), msg, sig), false, `key of ${n} bytes`);
  }
  const junk = [undefined, null, "x", 1, [1, 2], {}] as unknown as Uint8Array[];
  for (const j of junk) {
    assert.equal(verify(j, msg, sig), false);
    assert.equal(verify(publicKey, j, sig), false);
    assert.equal(verify(publicKey, msg, j), false);
  }
});

Deno.test("crypto: wrapper and fallback agree on random valid and corrupted signatures", () => {
  for (let i = 0; i < 40; i++) {
    const { publicKey, secretKey } = generateKeyPair();
    const msg = crypto.getRandomValues(new Uint8Array(i * 7));
    const sig = sign(secretKey, msg);
    assert.equal(fallback.sign(secretKey, msg).toHex(), sig.toHex());
    assert.equal(fallback.publicKeyOf(secretKey).toHex(), publicKey.toHex());
    const corrupted = sig.slice();
    corrupted[i % 64] ^= 0x40;
    for (const s of [sig, corrupted]) {
      assert.equal(fallback.verify(publicKey, msg, s), verify(publicKey, msg, s));
    }
    assert.equal(verify(publicKey, msg, sig), true);
  }
});

Deno.test("crypto: sign and publicKeyOf refuse seeds that are not 32 bytes", () => {
  for (const n of [0, 31, 33, 64]) {
    assert.throws(() => sign(new Uint8Array(n), utf8("m")), RangeError);
    assert.throws(() => publicKeyOf(new Uint8Array(n)), RangeError);
    assert.throws(() => fallback.sign(new Uint8Array(n), utf8("m")), RangeError);
  }
  assert.throws(() => sign(new Uint8Array(32), "m" as unknown as Uint8Array), TypeError);
});

Deno.test("crypto: generated key pairs are consistent", () => {
  const one = generateKeyPair(), two = generateKeyPair();
  assert.notEqual(one.secretKey.toHex(), two.secretKey.toHex());
  assert.equal(publicKeyOf(one.secretKey).toHex(), one.publicKey.toHex());
  const kp = fallback.generateKeyPair();
  assert.equal(publicKeyOf(kp.secretKey).toHex(), kp.publicKey.toHex());
});

Deno.test("crypto: sha256 known answers", () => {
  assert.equal(
    sha256(new Uint8Array(0)).toHex(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    sha256(utf8("abc")).toHex(),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
