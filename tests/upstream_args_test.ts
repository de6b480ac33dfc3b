import assert from "node:assert/strict";
import { parseUpstream } from "../lib/cli/registry.ts";
import { formatUpstream } from "../lib/forwarder/mod.ts";

Deno.test("--upstream: plain, tls:// and https:// forms, with their default ports", () => {
  const cases: [string, unknown, string][] = [
    ["192.0.2.1", { host: "192.0.2.1", port: 53 }, "192.0.2.1:53"],
    ["[2001:db8::1]:5353", { host: "2001:db8::1", port: 5353 }, "[2001:db8::1]:5353"],
    [
      "tls://192.0.2.1",
      { host: "192.0.2.1", port: 853, protocol: "tls" },
      "tls://192.0.2.1:853",
    ],
    [
      "tls://[2001:db8::1]:8853#dns.example.",
      { host: "2001:db8::1", port: 8853, protocol: "tls", tlsName: "dns.example" },
      "tls://[2001:db8::1]:8853#dns.example",
    ],
    [
      "https://192.0.2.1",
      { host: "192.0.2.1", port: 443, protocol: "https", path: "/dns-query" },
      "https://192.0.2.1:443/dns-query",
    ],
    [
      "https://[2001:db8::1]:8443/custom/path",
      { host: "2001:db8::1", port: 8443, protocol: "https", path: "/custom/path" },
      "https://[2001:db8::1]:8443/custom/path",
    ],
  ];
  for (const [text, want, shown] of cases) {
    const u = parseUpstream(text);
    assert.deepEqual(u, want, text);
    assert.equal(formatUpstream(u), shown, text);
    // What the log shows parses back to the same upstream.
    assert.deepEqual(parseUpstream(formatUpstream(u)), want, shown);
  }
});

Deno.test("--upstream: names, bad ports, other schemes and URL extras are refused", () => {
  for (
    const bad of [
      "dns.example",
      "tls://dns.example",
      "tls://192.0.2.1:0",
      "tls://192.0.2.1:70000",
      "tls://192.0.2.1#",
      "tls://192.0.2.1#a#b",
      "tls://192.0.2.1#bad_name",
      "tls://192.0.2.1#-bad.example",
      "https://dns.example/dns-query",
      "https://user@192.0.2.1/dns-query",
      "https://192.0.2.1/dns-query?x=1",
      "https://192.0.2.1/dns-query#frag",
      "https://",
      "http://192.0.2.1/dns-query",
      "quic://192.0.2.1",
    ]
  ) {
    assert.throws(() => parseUpstream(bad), (e: Error) => e.message.includes("--upstream"), bad);
  }
});
