// Hostile configuration files (an outside reviewer's attacks on `--config` and SIGHUP): paths
// that never end (a FIFO with no writer, /dev/zero), files far larger than any configuration,
// giant and control-character keys. Each must end at once with one clear line, and a running
// server re-reading such a file on SIGHUP must keep serving with its settings.
import assert from "node:assert/strict";
import { MAX_CONFIG_BYTES } from "../lib/config/mod.ts";
import { dig, djdnsTaskArgs, fixtureRegistry, run, startDjdns } from "./helpers/djdns.ts";

async function check(path: string, stdin?: Uint8Array) {
  const t = performance.now();
  const r = await run(Deno.execPath(), [...await djdnsTaskArgs(), "config", "check", path], stdin);
  return { ...r, ms: performance.now() - t };
}

Deno.test("attack config: a FIFO, /dev/zero, a directory and a huge file end with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "djdns-attack-config-" });
  try {
    const fifo = `${dir}/fifo.toml`;
    assert.equal((await run("mkfifo", [fifo])).code, 0);
    // Before: the FIFO blocked forever and /dev/zero grew the heap by gigabytes.
    for (const path of [fifo, "/dev/zero", dir]) {
      const r = await check(path);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^djdns: cannot read config file .*: not a regular file\n$/);
    }
    const big = `${dir}/big.toml`;
    await Deno.writeTextFile(big, `listen = [${'"127.0.0.1:1",'.repeat(MAX_CONFIG_BYTES / 10)}]\n`);
    const r = await check(big);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`: larger than ${MAX_CONFIG_BYTES} bytes\\n$`));
    // Standard input is capped the same way.
    const s = await check("-", new Uint8Array(MAX_CONFIG_BYTES + 1));
    assert.equal(s.code, 1);
    assert.match(s.stderr, /cannot read config file -: larger than/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attack config: a giant key and terminal escapes in a key are clipped and escaped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "djdns-attack-config-" });
  try {
    // Before: 8.7 s and 530 MB to suggest a spelling for a 500 kB key, echoed whole.
    await Deno.writeTextFile(`${dir}/long.toml`, `"${"a".repeat(60_000)}" = 1\n`);
    const long = await check(`${dir}/long.toml`);
    assert.equal(long.code, 1);
    assert.ok(long.stderr.length < 300, `error is ${long.stderr.length} bytes`);
    assert.match(long.stderr, /unknown key 'a{63}…'\n$/);
    await Deno.writeTextFile(`${dir}/esc.toml`, `"\\u001b[2J\\u001b]0;pwned\\u0007" = 1\n`);
    const esc = await check(`${dir}/esc.toml`);
    assert.equal(esc.code, 1);
    const control = [...esc.stderr].filter((c) => c < " " && c !== "\n");
    assert.deepEqual(control, [], JSON.stringify(esc.stderr));
    assert.match(esc.stderr, /unknown key '\\u001b\[2J\\u001b\]0;pwned\\u0007'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("attack config: SIGHUP storm while the file is a FIFO, then /dev/zero: still serving", async () => {
  const pages = await fixtureRegistry();
  // Not in the page directory: a FIFO there stalls the page watcher (see the report of the
  // review-ops branch), which is another matter than the configuration's.
  const confDir = await Deno.makeTempDir({ prefix: "djdns-attack-config-" });
  const conf = `${confDir}/djdns.toml`;
  await Deno.writeTextFile(conf, `no-upstream = true\n`);
  const server = await startDjdns(["--pages", pages, "--config", conf]);
  try {
    // SIGHUPs the moment it says it listens (before: a SIGHUP that came before the node had
    // finished starting ended the process, exit 129, in about one run of three).
    for (let i = 0; i < 20; i++) server.process.kill("SIGHUP");
    await new Promise((r) => setTimeout(r, 300));
    const alive = await Promise.race([
      server.process.status,
      new Promise((r) => setTimeout(r, 50)),
    ]);
    assert.equal(alive, undefined, `djdns ended on an early SIGHUP:\n${server.log()}`);
    await Deno.remove(conf);
    assert.equal((await run("mkfifo", [conf])).code, 0);
    for (let i = 0; i < 50; i++) server.process.kill("SIGHUP");
    const a = await dig(server.port, "+short", "in.root.demo", "A");
    assert.equal(a.stdout.trim(), "1.2.3.4", server.log());
    await Deno.remove(conf);
    await Deno.symlink("/dev/zero", conf);
    for (let i = 0; i < 20; i++) server.process.kill("SIGHUP");
    for (let i = 0; i < 200 && !/config not reloaded.*not a regular file/.test(server.log()); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(server.log(), /config not reloaded.*not a regular file/);
    const b = await dig(server.port, "+short", "in.root.demo", "A");
    assert.equal(b.stdout.trim(), "1.2.3.4", server.log());
    const st = await server.stop();
    assert.equal(st.code, 0, server.log());
  } finally {
    await server.stop();
    await Deno.remove(pages, { recursive: true });
    await Deno.remove(confDir, { recursive: true });
  }
});
