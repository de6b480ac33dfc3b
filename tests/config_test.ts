import assert from "node:assert/strict";
import { ConfigError, mergeConfig, parseConfig } from "../lib/config/mod.ts";
import { RUN_OPTIONS } from "../lib/cli/run.ts";
import { dig, djdnsTaskArgs, fixtureRegistry, run, startDjdns } from "./helpers/djdns.ts";

async function djdns(args: string[], stdin?: string) {
  return await run(
    Deno.execPath(),
    [...await djdnsTaskArgs(), ...args],
    stdin === undefined ? undefined : new TextEncoder().encode(stdin),
  );
}

Deno.test("config: keys, types and errors", () => {
  const v = parseConfig(
    `listen = "127.0.0.1:5300"\nupstream = ["192.0.2.1", "192.0.2.2:5353"]\n` +
      `udp-size = 1232\nno-upstream = false\nlog-level = "debug"\n`,
    RUN_OPTIONS,
    "f.toml",
  );
  assert.deepEqual(v, {
    listen: ["127.0.0.1:5300"],
    upstream: ["192.0.2.1", "192.0.2.2:5353"],
    "udp-size": "1232",
    "log-level": "debug",
  });
  const bad: [string, RegExp][] = [
    ["listne = 1", /f\.toml: unknown key 'listne' \(did you mean 'listen'\?\)/],
    ["frobnicate = 1", /unknown key 'frobnicate'$/],
    ["help = true", /unknown key 'help'/],
    ["config = 'x'", /unknown key 'config'/],
    ["no-upstream = 'yes'", /'no-upstream' must be true or false, not a string/],
    ["udp-size = [1]", /'udp-size' must be a string or a number, not a list/],
    ["[listen]\nx = 1", /'listen' must be a string or a number, not a table/],
    ["listen = ", /^f\.toml:1:\d+: /],
    ["a = 1\nb = = 2", /^f\.toml:2:\d+: /],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseConfig(text, RUN_OPTIONS, "f.toml"), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, re, text);
      return true;
    });
  }
  // Flags win key by key; a list given on the command line replaces the file's list.
  assert.deepEqual(
    mergeConfig({ listen: ["a"], "udp-size": "512" }, { listen: ["b"], "udp-size": undefined }),
    { listen: ["b"], "udp-size": "512" },
  );
});

Deno.test("config cli: example has every run option and passes check; check reports errors", async () => {
  const ex = await djdns(["config", "example"]);
  assert.equal(ex.code, 0, ex.stderr);
  for (const key of Object.keys(RUN_OPTIONS)) {
    if (key === "help" || key === "config") continue;
    assert.match(ex.stdout, new RegExp(`^# ${key} = `, "m"), `example lacks ${key}`);
  }
  // Uncommenting every key of the example gives a file that parses (values are the defaults or
  // placeholders of the right type).
  const all = ex.stdout.replace(/^# ([a-z-]+ = )/gm, "$1");
  const ok = await djdns(["config", "check", "-"], all);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok \(\d+ key\(s\)\)/);
  const bad = await djdns(["config", "check", "-"], "listen = 53\nbogus = 1\n");
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), "djdns: <stdin>: unknown key 'bogus'");
  const missing = await djdns(["config", "check", "/nonexistent/djdns.toml"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read config file \/nonexistent\/djdns\.toml: no such file/);
  const usage = await djdns(["config", "frob"]);
  assert.equal(usage.code, 2);
});

Deno.test("config: run reads the file, flags override it, a bad key stops it", async () => {
  const pages = await fixtureRegistry();
  const dir = await Deno.makeTempDir({ prefix: "djdns-config-" });
  const file = `${dir}/djdns.toml`;
  // no-upstream from the file: a name outside the registry is REFUSED, never forwarded.
  await Deno.writeTextFile(
    file,
    `pages = ${JSON.stringify(pages)}\nno-upstream = true\nlog-level = "debug"\n` +
      `listen = ["127.0.0.1:1"]\n`,
  );
  // The command line's --listen (added by startDjdns) overrides the file's port 1.
  const server = await startDjdns(["--config", file]);
  try {
    const r = await dig(server.port, "example.com", "A");
    assert.match(r.stdout, /status: REFUSED/);
    const h = await dig(server.port, "in.root.demo", "A");
    assert.match(h.stdout, /status: NOERROR/);
    // log-level debug from the file: one line per query.
    assert.match(server.log(), /in\.root\.demo/i);
  } finally {
    await server.stop();
  }
  await Deno.writeTextFile(file, `no-upstrem = true\n`);
  const r = await djdns(["run", "--config", file, "--listen", "127.0.0.1:0"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown key 'no-upstrem' \(did you mean 'no-upstream'\?\)/);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(pages, { recursive: true });
});

Deno.test("config: SIGHUP re-reads the file: log level at once, other changes named, a bad file kept out", async () => {
  const pages = await fixtureRegistry();
  const dir = await Deno.makeTempDir({ prefix: "djdns-config-" });
  const file = `${dir}/djdns.toml`;
  await Deno.writeTextFile(file, `pages = ${JSON.stringify(pages)}\nno-upstream = true\n`);
  const server = await startDjdns(["--config", file]);
  const waitLog = async (re: RegExp) => {
    for (const end = Date.now() + 10_000; !re.test(server.log());) {
      if (Date.now() > end) throw new Error(`no ${re} in the log:\n${server.log()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await dig(server.port, "in.root.demo", "A");
    assert.doesNotMatch(server.log(), /query "?in\.root\.demo/); // info: no query lines
    await Deno.writeTextFile(
      file,
      `pages = ${
        JSON.stringify(pages)
      }\nno-upstream = true\nlog-level = "debug"\nudp-size = 1400\n`,
    );
    server.process.kill("SIGHUP");
    await waitLog(/config reloaded; these keys changed and need a restart: "?udp-size/);
    await dig(server.port, "in.root.demo", "A");
    await waitLog(/query "?in\.root\.demo/); // debug now: one line per query
    // A broken file is refused and the server keeps its settings.
    await Deno.writeTextFile(file, `log-levl = "info"\n`);
    server.process.kill("SIGHUP");
    await waitLog(/config not reloaded, keeping the running settings: .*unknown key 'log-levl'/);
    const r = await dig(server.port, "in.root.demo", "A");
    assert.match(r.stdout, /status: NOERROR/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(pages, { recursive: true });
  }
});

Deno.test("logs: --log-format json writes one JSON object per line, text is for people", async () => {
  const pages = await fixtureRegistry();
  const server = await startDjdns(["--pages", pages, "--no-upstream", "--log-format", "json"]);
  try {
    await dig(server.port, "in.root.demo", "A");
  } finally {
    await server.stop();
    await Deno.remove(pages, { recursive: true });
  }
  const lines = server.log().trim().split("\n");
  assert.ok(lines.length >= 3, server.log());
  for (const line of lines) {
    const rec = JSON.parse(line); // every line is a whole JSON object
    assert.equal(typeof rec["@timestamp"], "string", line);
    assert.match(rec.level, /^(DEBUG|INFO|WARN|ERROR)$/, line);
    assert.equal(typeof rec.message, "string", line);
  }
  assert.ok(lines.some((l) => /listening on/.test(JSON.parse(l).message)));
});
