/**
 * DNS over TLS (RFC 7858) and over HTTPS (RFC 8484), both ways: `kdig +tls` and `kdig +https`
 * against djdns's listeners, djdns forwarding over DoT to a real Unbound and over DoH to another
 * djdns, certificates that must be refused, malformed DoH requests, and TLS connections that
 * never finish their handshake. Certificates come from a throwaway CA made with openssl.
 */
import assert from "node:assert/strict";
import dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import {
  djdnsTaskArgs,
  fixtureRegistry,
  run,
  type RunningServer,
  startDjdns,
} from "./helpers/djdns.ts";

const UNBOUND = ["/usr/sbin/unbound", "/usr/bin/unbound"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

interface Pki {
  dir: string;
  ca: string; // PEM file of the CA that signed `cert`
  otherCa: string; // a CA that signed nothing here
  cert: string; // server certificate for dns.test, 127.0.0.1 and ::1
  key: string;
}

async function openssl(...args: string[]): Promise<void> {
  const r = await run("openssl", args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "djdns-tls-" });
  const p = (f: string) => `${dir}/${f}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const ca of ["ca", "other-ca"]) {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      p(`${ca}.key`),
      "-out",
      p(`${ca}.pem`),
      "-days",
      "2",
      "-subj",
      `/CN=djdns test ${ca}`,
    );
  }
  await openssl(
    "req",
    ...ec,
    "-keyout",
    p("server.key"),
    "-out",
    p("server.csr"),
    "-subj",
    "/CN=dns.test",
  );
  await Deno.writeTextFile(
    p("ext.cnf"),
    "subjectAltName=DNS:dns.test,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    p("server.csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("server.pem"),
    "-days",
    "2",
    "-extfile",
    p("ext.cnf"),
  );
  return {
    dir,
    ca: p("ca.pem"),
    otherCa: p("other-ca.pem"),
    cert: p("server.pem"),
    key: p("server.key"),
  };
}

// One PKI for every test of this file, made when the first one needs it.
let pkiPromise: Promise<Pki> | undefined;
const pki = () => (pkiPromise ??= makePki());

/** The port a running djdns logged for its `kind` listener. */
async function portOf(server: RunningServer, kind: "tls" | "https"): Promise<number> {
  const re = new RegExp(`listening on "127\\.0\\.0\\.1:(\\d+)" \\(${kind}\\)`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = re.exec(server.log());
    if (m) return Number(m[1]);
    if (Date.now() > deadline) throw new Error(`no ${kind} listener logged:\n${server.log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function kdig(...args: string[]) {
  return run("kdig", ["@127.0.0.1", "+timeout=5", "+retry=0", ...args]);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const query = (name: string, id = 0) =>
  new Uint8Array(dnsPacket.encode({
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: "A", class: "IN" }],
  }));
const base64url = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

Deno.test("tls/https: kdig +tls and +https (HTTP/2, GET and POST) get registry answers", async (t) => {
  const { cert, key, ca } = await pki();
  const pages = await fixtureRegistry();
  const s = await startDjdns([
    "--pages",
    pages,
    "--no-upstream",
    "--tls-listen",
    "127.0.0.1:0",
    "--https-listen",
    "127.0.0.1:0",
    "--tls-cert",
    cert,
    "--tls-key",
    key,
  ]);
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(ca)] });
  try {
    const tls = await portOf(s, "tls");
    const https = await portOf(s, "https");
    const trust = [`+tls-ca=${ca}`, "+tls-hostname=dns.test"];

    await t.step("kdig +tls", async () => {
      const r = await kdig("-p", String(tls), ...trust, "+tls", "In.Root.Demo", "A");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /;; TLS session \(TLS1\.3\)/);
      assert.match(r.stdout, /status: NOERROR/);
      assert.match(r.stdout, /in\.root\.demo\.\s+1800\s+IN\s+A\s+1\.2\.3\.4/i);
    });

    await t.step("kdig +https (POST) and +https-get", async () => {
      const post = await kdig("-p", String(https), ...trust, "+https", "in.root.demo", "A");
      assert.equal(post.code, 0, post.stdout + post.stderr);
      assert.match(post.stdout, /HTTP\/2-POST\)-\(dns\.test\/dns-query\)-\(status: 200\)/);
      assert.match(post.stdout, /in\.root\.demo\.\s+1800\s+IN\s+A\s+1\.2\.3\.4/);
      const get = await kdig("-p", String(https), ...trust, "+https-get", "nope.hype", "A");
      assert.equal(get.code, 0, get.stdout + get.stderr);
      assert.match(get.stdout, /HTTP\/2-GET/);
      assert.match(get.stdout, /status: NXDOMAIN/);
    });

    await t.step(
      "DoH replies carry the message type and a max-age of the smallest TTL",
      async () => {
        const url = `https://127.0.0.1:${https}/dns-query`;
        const get = await fetch(`${url}?dns=${base64url(query("in.root.demo", 0x1234))}`, {
          client,
        });
        assert.equal(get.status, 200);
        assert.equal(get.headers.get("content-type"), "application/dns-message");
        assert.equal(get.headers.get("cache-control"), "max-age=1800");
        const reply = dnsPacket.decode(Buffer.from(await get.arrayBuffer()));
        assert.equal(reply.id, 0x1234);
        assert.deepEqual(reply.answers?.map((a) => (a as { data: unknown }).data), ["1.2.3.4"]);
        // A name outside the registry with no upstream: REFUSED, which nobody should cache.
        const post = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/dns-message" },
          body: query("www.example.net"),
          client,
        });
        assert.equal(post.status, 200);
        assert.equal(post.headers.get("cache-control"), "max-age=0");
        assert.equal((new Uint8Array(await post.arrayBuffer()))[3] & 0xf, 5);
      },
    );

    await t.step(
      "malformed DoH requests get HTTP errors, and the server keeps answering",
      async () => {
        const url = `https://127.0.0.1:${https}/dns-query`;
        const cases: [string, RequestInit, number][] = [
          [`https://127.0.0.1:${https}/other`, {}, 404],
          [url, {}, 400], // no dns parameter
          [`${url}?dns=!!!`, {}, 400],
          [`${url}?dns=A`, {}, 400], // not a length base64 can have
          [url, { method: "PUT", body: query("in.root.demo") }, 405],
          [url, { method: "POST", body: query("in.root.demo") }, 415], // no content type
          [url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          }, 415],
          [url, {
            method: "POST",
            headers: { "content-type": "application/dns-message" },
            body: new Uint8Array(70_000),
          }, 413],
          [url, {
            method: "POST",
            headers: { "content-type": "application/dns-message" },
            body: Uint8Array.of(1, 2, 3), // shorter than a header: not a query
          }, 400],
        ];
        for (const [u, init, status] of cases) {
          const res = await fetch(u, { ...init, client });
          await res.body?.cancel();
          assert.equal(res.status, status, `${init.method ?? "GET"} ${u}`);
        }
        // A response (QR=1) is not a query either: no reflection through DoH.
        const response = query("in.root.demo");
        response[2] |= 0x80;
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/dns-message" },
          body: response,
          client,
        });
        await res.body?.cancel();
        assert.equal(res.status, 400);
        const ok = await kdig("-p", String(https), ...trust, "+https", "in.root.demo", "A");
        assert.match(ok.stdout, /1\.2\.3\.4/);
      },
    );
  } finally {
    client.close();
    await s.stop();
    await Deno.remove(pages, { recursive: true });
  }
});

Deno.test("tls: connections that never finish the handshake cannot keep an honest client out", async () => {
  const { cert, key, ca } = await pki();
  const pages = await fixtureRegistry();
  const s = await startDjdns([
    "--pages",
    pages,
    "--no-upstream",
    "--tls-listen",
    "127.0.0.1:0",
    "--tls-cert",
    cert,
    "--tls-key",
    key,
    "--tcp-max",
    "4",
    "--tcp-idle",
    "2",
  ]);
  const silent: Deno.TcpConn[] = [];
  try {
    const tls = await portOf(s, "tls");
    // Twice the cap of connections that say nothing (not even a ClientHello), twice over: each
    // time an honest client still gets its answer. (What the server cannot do on Deno 2.9 is
    // free the socket of a TLS connection it closes before the handshake: that waits until the
    // peer speaks or leaves; the connection no longer counts towards the caps.)
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 8; i++) {
        silent.push(await Deno.connect({ hostname: "127.0.0.1", port: tls }));
      }
      const r = await kdig(
        "-p",
        String(tls),
        `+tls-ca=${ca}`,
        "+tls-hostname=dns.test",
        "+tls",
        "in.root.demo",
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1\.2\.3\.4/);
    }
  } finally {
    for (const c of silent) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await s.stop();
    await Deno.remove(pages, { recursive: true });
  }
});

async function startUnbound(pkiDir: string, cert: string, key: string) {
  const port = freePort();
  const conf = `${pkiDir}/unbound.conf`;
  await Deno.writeTextFile(
    conf,
    `server:
  interface: 127.0.0.1@${port}
  tls-port: ${port}
  tls-service-key: "${key}"
  tls-service-pem: "${cert}"
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${pkiDir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "example.test." static
  local-data: "www.example.test. 300 IN A 192.0.2.7"
remote-control:
  control-enable: no
`,
  );
  const child = new Deno.Command(UNBOUND!, {
    args: ["-d", "-c", conf],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
  try {
    while (!text.includes("start of service")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`unbound did not start:\n${text}`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining so unbound never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  })();
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function digA(port: number, name: string) {
  const r = await run("dig", ["@127.0.0.1", "-p", String(port), "+time=8", "+tries=1", name, "A"]);
  const status = /status: (\w+)/.exec(r.stdout)?.[1];
  const answers = [...r.stdout.matchAll(/^\S+\s+\d+\s+IN\s+A\s+(\S+)$/gm)].map((m) => m[1]);
  return { status, answers, text: r.stdout };
}

Deno.test({
  name: "tls/https upstreams: DoT to Unbound and DoH to djdns, certificates verified",
  ignore: UNBOUND === undefined,
  async fn(t) {
    const { dir, cert, key, ca, otherCa } = await pki();
    const unbound = await startUnbound(dir, cert, key);
    const pages = await fixtureRegistry();
    const servers: RunningServer[] = [];
    const start = async (...args: string[]) => {
      const s = await startDjdns(["--pages", pages, ...args]);
      servers.push(s);
      return s;
    };
    try {
      const dot = `tls://127.0.0.1:${unbound.port}`;
      // A: forwards over DoT (Unbound has no plain DNS on that port) and serves DoH.
      const a = await start(
        "--upstream",
        `${dot}#dns.test`,
        "--upstream-ca",
        ca,
        "--https-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
      );
      const aHttps = await portOf(a, "https");

      await t.step("DoT to Unbound, certificate checked for the #NAME", async () => {
        const r = await digA(a.port, "www.example.test");
        assert.equal(r.status, "NOERROR", r.text + a.log());
        assert.deepEqual(r.answers, ["192.0.2.7"]);
      });

      await t.step("DoT verified against the address when no #NAME is given", async () => {
        const s = await start("--upstream", dot, "--upstream-ca", ca);
        const r = await digA(s.port, "www.example.test");
        assert.deepEqual(r.answers, ["192.0.2.7"], r.text + s.log());
      });

      await t.step("DoH to another djdns (which forwards over DoT)", async () => {
        const b = await start(
          "--upstream",
          `https://127.0.0.1:${aHttps}/dns-query`,
          "--upstream-ca",
          ca,
        );
        const r = await digA(b.port, "www.example.test");
        assert.equal(r.status, "NOERROR", r.text + b.log());
        assert.deepEqual(r.answers, ["192.0.2.7"]);
      });

      await t.step(
        "a certificate for another name, or from an untrusted CA, is refused",
        async () => {
          const refused: [string[], RegExp][] = [
            [["--upstream", `${dot}#wrong.test`, "--upstream-ca", ca], /not valid for name/],
            [
              ["--upstream", `${dot}#dns.test`, "--upstream-ca", otherCa],
              /UnknownIssuer|unknown ?issuer/i,
            ],
            [["--upstream", `${dot}#dns.test`], /UnknownIssuer|unknown ?issuer/i],
            [
              ["--upstream", `https://127.0.0.1:${aHttps}/dns-query`, "--upstream-ca", otherCa],
              /network error/,
            ],
          ];
          for (const [args, why] of refused) {
            const s = await start(...args, "--upstream-timeout", "1000");
            const r = await digA(s.port, "www.example.test");
            assert.equal(r.status, "SERVFAIL", `${args.join(" ")}\n${r.text}`);
            assert.deepEqual(r.answers, []);
            assert.match(s.log(), why, s.log());
          }
        },
      );

      await t.step("bad upstream and listener options are refused with a reason", async () => {
        const bad: [string[], RegExp][] = [
          [["--upstream", "tls://dns.test"], /not an IP address/],
          [["--upstream", "tls://127.0.0.1#bad_name!"], /host name/],
          [["--upstream", "https://dns.example/dns-query"], /must be an IP address/],
          [["--upstream", "quic://127.0.0.1"], /tls:\/\/ or https:\/\//],
          [["--upstream", "127.0.0.1", "--upstream-ca", `${dir}/nope.pem`], /cannot read/],
          [["--tls-listen", "127.0.0.1:0"], /need --tls-cert and --tls-key/],
          [["--tls-cert", cert, "--tls-key", key], /need --tls-listen or --https-listen/],
          [["--https-listen", "127.0.0.1:0", "--tls-cert", key, "--tls-key", key], /cannot listen/],
        ];
        for (const [args, why] of bad) {
          const r = await run(Deno.execPath(), [
            ...(await djdnsTaskArgs()),
            "run",
            "--pages",
            pages,
            "--listen",
            "127.0.0.1:0",
            ...args,
          ]);
          assert.notEqual(r.code, 0, args.join(" "));
          assert.match(r.stderr, why, `${args.join(" ")}: ${r.stderr}`);
        }
      });
    } finally {
      for (const s of servers) await s.stop();
      await unbound.stop();
      await Deno.remove(pages, { recursive: true });
    }
  },
});

/** A DoT upstream in the test: answers every A query with 192.0.2.9 and counts connections. */
async function dotUpstream(closeAfterReply: boolean) {
  const { cert, key } = await pki();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
  });
  let connections = 0;
  const open = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    const read = async (n: number) => {
      const out = new Uint8Array(n);
      for (let at = 0; at < n;) {
        const got = await conn.read(out.subarray(at));
        if (got === null) return null;
        at += got;
      }
      return out;
    };
    try {
      for (;;) {
        const head = await read(2);
        if (!head) break;
        const q = dnsPacket.decode(Buffer.from((await read((head[0] << 8) | head[1]))!));
        const reply = dnsPacket.encode({
          id: q.id,
          type: "response",
          flags: dnsPacket.RECURSION_AVAILABLE,
          questions: q.questions,
          answers: [{ name: q.questions![0].name, type: "A", ttl: 60, data: "192.0.2.9" }],
        });
        const framed = new Uint8Array(2 + reply.length);
        framed[0] = reply.length >> 8;
        framed[1] = reply.length & 0xff;
        framed.set(reply, 2);
        await conn.write(framed);
        if (closeAfterReply) break;
      }
    } catch {
      /* client gone */
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  (async () => {
    for await (const conn of listener) {
      connections++;
      open.add(conn);
      serve(conn);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get connections() {
      return connections;
    },
    close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

Deno.test("tls upstream: one reused connection carries many queries; one that closes after each reply still answers all", async () => {
  const { createForwarder } = await import("../lib/forwarder/mod.ts");
  const { question } = await import("../lib/dns/question.ts");
  const { ca } = await pki();
  for (const closeAfterReply of [false, true]) {
    const up = await dotUpstream(closeAfterReply);
    const fwd = createForwarder({
      upstreams: [{ host: "127.0.0.1", port: up.port, protocol: "tls", tlsName: "dns.test" }],
      caCerts: [await Deno.readTextFile(ca)],
      timeoutMs: 5000,
    });
    try {
      const ask = async (i: number) => {
        const r = await fwd.query(question(`n${i}.example.test`, "A"));
        assert.equal(r.transport, "tls");
        return (r.packet.answers ?? []).map((a) => (a as { data: unknown }).data);
      };
      for (let i = 0; i < 10; i++) assert.deepEqual(await ask(i), ["192.0.2.9"]);
      const together = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(100 + i)));
      assert.deepEqual(together, together.map(() => ["192.0.2.9"]));
      if (closeAfterReply) {
        // Every reply ends its connection: each query needs (and gets) a fresh one.
        assert.ok(up.connections >= 11, `${up.connections} connections`);
      } else {
        assert.equal(up.connections, 1, "one TLS session for 40 queries");
      }
    } finally {
      await fwd.close();
      up.close();
    }
  }
});

Deno.test("https: requests beyond the in-flight bound get 503 at once; the rest are answered", async () => {
  const { cert, key, ca } = await pki();
  const pages = await fixtureRegistry();
  // An upstream that never answers keeps every forwarded request waiting.
  const dead = dgram.createSocket("udp4");
  await new Promise<void>((r) => dead.bind(0, "127.0.0.1", () => r()));
  const s = await startDjdns([
    "--pages",
    pages,
    "--upstream",
    `127.0.0.1:${dead.address().port}`,
    "--upstream-timeout",
    "1000",
    "--https-listen",
    "127.0.0.1:0",
    "--tls-cert",
    cert,
    "--tls-key",
    key,
  ]);
  // HTTP/1.1, one connection per request: the server's own HTTP/2 stream limit is not the bound
  // under test.
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(ca)],
    http2: false,
    poolMaxIdlePerHost: 0,
  });
  try {
    const url = `https://127.0.0.1:${await portOf(s, "https")}/dns-query`;
    const statuses = await Promise.all(Array.from({ length: 300 }, async (_, i) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/dns-message" },
        body: query(`q${i}.example.net`),
        client,
      });
      await res.body?.cancel();
      return res.status;
    }));
    const busy = statuses.filter((x) => x === 503).length;
    const answered = statuses.filter((x) => x === 200).length;
    assert.equal(busy + answered, 300, JSON.stringify(statuses));
    assert.ok(busy >= 300 - 256, `${busy} refused with 503`);
    assert.ok(answered >= 1);
    // Once they drain, the face answers again.
    const after = await kdig(
      "-p",
      url.split(":")[2].split("/")[0],
      `+tls-ca=${ca}`,
      "+tls-hostname=dns.test",
      "+https",
      "in.root.demo",
    );
    assert.match(after.stdout, /1\.2\.3\.4/);
  } finally {
    client.close();
    await new Promise<void>((r) => dead.close(() => r()));
    await s.stop();
    await Deno.remove(pages, { recursive: true });
  }
});
