import assert from "node:assert/strict";
import { djdnsTaskArgs, run } from "./helpers/djdns.ts";

const FIXTURE = new URL("./fixtures/registry/", import.meta.url).pathname;

async function djdns(...args: string[]) {
  return await run(Deno.execPath(), [...await djdnsTaskArgs(), ...args]);
}

Deno.test("--version and --help", async () => {
  const v = await djdns("--version");
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^djdns \d+\.\d+\.\d+\n$/);
  const h = await djdns("--help");
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: djdns COMMAND/);
  for (const cmd of ["run", "resolve", "page", "store", "deje"]) {
    const r = await djdns(cmd, "--help");
    assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: djdns/, cmd);
  }
});

Deno.test("bad arguments exit 2 with one line on stderr", async () => {
  const cases = [
    ["frobnicate"],
    ["run", "--bogus"],
    ["run", "--listen", "localhost:53"],
    ["run", "--listen", "127.0.0.1:99999"],
    ["run", "--udp-size", "100"],
    ["run", "--log-level", "loud"],
    ["run", "--no-upstream", "--upstream", "127.0.0.1"],
    ["run", "--upstream-max", "0"],
    ["run", "--upstream-max", "65537"],
    ["run", "--upstream-max", "1e3"],
    ["run", "--allow-recursion", "10.0.0.0/33"],
    ["run", "extra"],
    ["resolve"],
    ["resolve", "a.b", "NOTATYPE"],
    ["resolve", "--root", "x.json", "a.b"],
  ];
  for (const args of cases) {
    const r = await djdns(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^djdns: /);
    assert.equal(r.stdout, "");
  }
});

Deno.test("resolve answers through the registry and traces the walk", async () => {
  const r = await djdns("resolve", "--pages", FIXTURE, "--no-upstream", "--trace", "alias.hype");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /;; status: NOERROR, authoritative/);
  assert.match(r.stdout, /alias\.hype\.\t1800\tIN\tCNAME\torchard\.ri\.hype\./);
  assert.match(r.stdout, /orchard\.ri\.hype\.\t3600\tIN\tA\t106\.186\.18\.242/);
  assert.match(r.stdout, /;; root\.json branch 0 "\\\\\.hype\$" matches/);
  assert.match(r.stdout, /tlds\/hype\/root\.json branch 1/);
  const nx = await djdns("resolve", "--pages", FIXTURE, "--no-upstream", "nope.hype", "AAAA");
  // NXDOMAIN is an answer: exit status 0, like NOERROR (SERVFAIL and REFUSED are 1, below).
  assert.equal(nx.code, 0, nx.stderr);
  assert.match(nx.stdout, /status: NXDOMAIN/);
  assert.match(nx.stdout, /authority: hype\.\t300\tIN\tSOA/);
  const loop = await djdns("resolve", "--pages", FIXTURE, "--no-upstream", "x.loop.test");
  assert.equal(loop.code, 1, loop.stdout);
  assert.match(loop.stdout, /status: SERVFAIL/);
  const outside = await djdns("resolve", "--pages", FIXTURE, "--no-upstream", "www.example.net");
  assert.equal(outside.code, 1, outside.stdout);
  assert.match(outside.stdout, /not a registry name and there is no upstream: REFUSED/);
});

Deno.test("run refuses an invalid root page with a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/root.json`, '{"branches": [{"selector": "(a)\\\\1"}]}');
    const r = await djdns("run", "--pages", dir, "--listen", "127.0.0.1:0", "--no-upstream");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot load the registry: root\.json: branch 0: selector .* is not a linear-time regexp/,
    );
    const missing = await djdns("run", "--pages", `${dir}/nope`, "--no-upstream");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /root\.json: no such page file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
