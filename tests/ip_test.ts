import assert from "node:assert/strict";
import { isIP } from "node:net";
import {
  allowed,
  canonicalHost,
  ipFamily,
  isIPv4,
  isIPv6,
  isLoopback,
  isUnspecified,
  LOOPBACK,
  parseCidr,
  parseIp,
} from "../lib/dns/ip.ts";

Deno.test("ip: literals parse to bytes; junk is refused", () => {
  assert.deepEqual(parseIp("192.0.2.1"), Uint8Array.of(192, 0, 2, 1));
  assert.deepEqual(parseIp("::1"), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
  assert.deepEqual(
    parseIp("2001:db8::1.2.3.4"),
    Uint8Array.of(0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4),
  );
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4", // a leading zero reads as octal elsewhere
      "256.1.1.1",
      "1.2.3.4 ",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "g::",
      "::1%eth0", // a zone is not part of the address
      "[::1]",
      "::1.2.3",
      "1:2:3:4:5:6:7:1.2.3.4",
      "example.org",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
    assert.equal(isIPv4(bad) || isIPv6(bad), false, bad);
  }
});

Deno.test("ip: agrees with node:net isIP on a spread of literals", () => {
  const samples = [
    "0.0.0.0",
    "255.255.255.255",
    "10.0.0.1",
    "::",
    "::1",
    "1::",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6::8",
    "::ffff:127.0.0.1",
    "::1.2.3.4",
    "fe80::1",
    "FE80::ABCD",
    "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1.2.3.04",
    "1:2",
    "1::2:3:4:5:6:7:8",
  ];
  for (const s of samples) assert.equal(ipFamily(s), isIP(s), s);
});

Deno.test("ip: canonical form is RFC 5952 (lowercase, longest zero run, mapped dotted)", () => {
  const cases: [string, string][] = [
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"], // the longer run, not the first
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays
    ["0:0:0:0:0:0:0:0", "::"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::ffff:7f00:1", "::ffff:127.0.0.1"],
    ["fe80::0001%eth0", "fe80::1"],
    ["192.0.2.1", "192.0.2.1"],
    ["not-an-ip", "not-an-ip"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalHost(input), want, input);
});

Deno.test("ip: loopback and unspecified", () => {
  for (
    const h of ["127.0.0.1", "127.255.0.9", "::1", "0::1", "::ffff:127.0.0.2", "::ffff:7f00:1"]
  ) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["128.0.0.1", "::2", "::", "0.0.0.0", "::ffff:10.0.0.1", "localhost", "1::1"]) {
    assert.equal(isLoopback(h), false, h);
  }
  for (const h of ["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]) assert.equal(isUnspecified(h), true, h);
  for (const h of ["0.0.0.1", "::1", "", "x"]) assert.equal(isUnspecified(h), false, h);
});

Deno.test("acl: parseCidr accepts blocks and bare addresses, clears host bits", () => {
  assert.deepEqual(parseCidr("10.1.2.3/8"), {
    v6: false,
    bytes: Uint8Array.of(10, 0, 0, 0),
    prefix: 8,
  });
  assert.deepEqual(parseCidr("192.0.2.7"), {
    v6: false,
    bytes: Uint8Array.of(192, 0, 2, 7),
    prefix: 32,
  });
  assert.equal(parseCidr("2001:db8::/32").prefix, 32);
  assert.equal(parseCidr("::1").prefix, 128);
  assert.equal(parseCidr("0.0.0.0/0").prefix, 0);
  assert.equal(parseCidr("::/0").prefix, 0);
  assert.deepEqual(
    parseCidr("2001:db8:ffff::/33").bytes.subarray(0, 6),
    Uint8Array.of(32, 1, 13, 184, 128, 0),
  );
  // A mapped block of prefix >= 96 is the IPv4 block it maps.
  assert.deepEqual(parseCidr("::ffff:10.9.9.9/104"), {
    v6: false,
    bytes: Uint8Array.of(10, 0, 0, 0),
    prefix: 8,
  });
  assert.deepEqual(parseCidr("::ffff:10.9.9.9"), {
    v6: false,
    bytes: Uint8Array.of(10, 9, 9, 9),
    prefix: 32,
  });
});

Deno.test("acl: parseCidr refuses bad input with a reason", () => {
  for (
    const bad of [
      "",
      "/8",
      "10.0.0.0/",
      "10.0.0.0/33",
      "::/129",
      "10.0.0.0/-1",
      "10.0.0.0/+8",
      "10.0.0.0/8/8",
      "10.0.0.0/ 8",
      "10.0.0.0/1e1",
      "10.0.0.0/0008",
      "10.0.0/8",
      "example.org/8",
      "fe80::1%eth0/64",
      "[::1]/128",
    ]
  ) {
    assert.throws(() => parseCidr(bad), (e: Error) => e.message.includes(`'${bad}'`), bad);
  }
});

Deno.test("acl: allowed matches v4, v6 and v4-mapped clients at prefix edges", () => {
  const v4 = [parseCidr("192.0.2.0/24")];
  assert.equal(allowed("192.0.2.0", v4), true);
  assert.equal(allowed("192.0.2.255", v4), true);
  assert.equal(allowed("192.0.3.0", v4), false);
  assert.equal(allowed("192.0.1.255", v4), false);
  assert.equal(allowed("::ffff:192.0.2.9", v4), true); // a dual-stack socket's view of a v4 client
  assert.equal(allowed("::ffff:c000:209", v4), true); // the same, in hex
  assert.equal(allowed("2001:db8::192.0.2.9", v4), false); // not mapped: an IPv6 client

  // /32 and /128: exactly one address.
  const one = [parseCidr("198.51.100.7/32"), parseCidr("2001:db8::7/128")];
  assert.equal(allowed("198.51.100.7", one), true);
  assert.equal(allowed("198.51.100.6", one), false);
  assert.equal(allowed("198.51.100.8", one), false);
  assert.equal(allowed("2001:db8::7", one), true);
  assert.equal(allowed("2001:DB8:0::0:7", one), true);
  assert.equal(allowed("2001:db8::6", one), false);
  assert.equal(allowed("2001:db8::8", one), false);

  // /0: the whole family, and only that family.
  assert.equal(allowed("203.0.113.1", [parseCidr("0.0.0.0/0")]), true);
  assert.equal(allowed("::ffff:203.0.113.1", [parseCidr("0.0.0.0/0")]), true);
  assert.equal(allowed("2001:db8::1", [parseCidr("0.0.0.0/0")]), false);
  assert.equal(allowed("2001:db8::1", [parseCidr("::/0")]), true);
  assert.equal(allowed("203.0.113.1", [parseCidr("::/0")]), false);

  // Prefixes that end inside a byte.
  const odd = [parseCidr("10.0.0.0/9"), parseCidr("2001:db8:8000::/33")];
  assert.equal(allowed("10.127.255.255", odd), true);
  assert.equal(allowed("10.128.0.0", odd), false);
  assert.equal(allowed("2001:db8:ffff::1", odd), true);
  assert.equal(allowed("2001:db8:7fff::1", odd), false);

  // Zone ids are ignored; junk is never allowed.
  assert.equal(allowed("fe80::1%eth0", [parseCidr("fe80::/10")]), true);
  for (const junk of ["", "localhost", "192.0.2", "::g", "192.0.2.1/32"]) {
    assert.equal(allowed(junk, [parseCidr("0.0.0.0/0"), parseCidr("::/0")]), false, junk);
  }
  assert.equal(allowed("192.0.2.1", []), false);
});

Deno.test("acl: the default set is loopback only", () => {
  for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(allowed(a, LOOPBACK), true, a);
  }
  for (
    const a of ["10.0.0.1", "192.168.1.1", "::2", "fe80::1", "::", "0.0.0.0", "::ffff:10.0.0.1"]
  ) {
    assert.equal(allowed(a, LOOPBACK), false, a);
  }
});
