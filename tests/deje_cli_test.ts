/**
 * `djdns deje`: exact stdout bytes of the serializer hook against the published vectors (in a
 * real process, real stdin/stdout), the state import path, help, usage and data errors.
 */
import assert from "node:assert/strict";
import { type DejeIo, dejeMain } from "../lib/cli/deje.ts";
import { UsageError } from "../lib/cli/usage.ts";

const FIXTURES = new URL("./fixtures/deje/", import.meta.url);
const SCRIPT = new URL("../lib/cli/deje.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

async function runCli(args: string[], stdin: Uint8Array) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", SCRIPT, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(stdin);
  await writer.close();
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: decoder.decode(out.stderr) };
}

Deno.test("deje cli (process): serialize reproduces every published vector byte for byte", async () => {
  const runs: Promise<void>[] = [];
  for (
    const dir of ["abcd/event", "dns_roaming_initiative/event", "dns_roaming_initiative/document"]
  ) {
    const input = Deno.readFileSync(new URL(`${dir}/input`, FIXTURES));
    for (const format of ["compact", "pretty4", "hash"]) {
      const expected = Deno.readFileSync(new URL(`${dir}/expected/${format}`, FIXTURES));
      runs.push((async () => {
        const r = await runCli(["serialize", dir.split("/")[1], format], input);
        assert.equal(r.code, 0, `${dir} ${format}: ${r.stderr}`);
        assert.equal(r.stderr, "");
        assert.deepEqual(r.stdout, expected, `${dir} ${format}`);
        assert.notEqual(r.stdout.at(-1), 0x0a, "no trailing newline");
      })());
    }
  }
  await Promise.all(runs);
});

Deno.test("deje cli (process): state, bad input and bad arguments", async () => {
  const doc = new URL("dns_roaming_initiative/document/input", FIXTURES).pathname;
  const [state, badJson, badShape, usage] = await Promise.all([
    runCli(["state", doc], new Uint8Array()),
    runCli(["serialize", "event", "hash"], new TextEncoder().encode("{not json")),
    runCli(["serialize", "document", "compact"], new TextEncoder().encode('{"events": []}')),
    runCli(["serialize", "quorum", "hash"], new Uint8Array()),
  ]);
  assert.equal(state.code, 0, state.stderr);
  const text = decoder.decode(state.stdout);
  assert.ok(text.endsWith("}\n"));
  assert.ok(text.startsWith('{\n    "branches": [\n'));
  assert.equal((JSON.parse(text).meta as { policy: string }).policy, "Private");

  assert.equal(badJson.code, 1);
  assert.equal(badJson.stdout.length, 0);
  assert.match(badJson.stderr, /^djdns: invalid JSON: [^\n]+\n$/);

  assert.equal(badShape.code, 1);
  assert.equal(
    badShape.stderr,
    "djdns: document: 'events' must be an object of events keyed by id\n",
  );

  assert.equal(usage.code, 2);
  assert.equal(
    usage.stderr,
    "djdns: unknown object type 'quorum' (event or document) (see 'djdns deje --help')\n",
  );
});

/** In-memory I/O for dejeMain. */
function memoryIo(stdin = "", files: Record<string, string> = {}) {
  const out: Uint8Array[] = [];
  const err: string[] = [];
  const io: DejeIo = {
    readStdin: (max) => {
      const bytes = new TextEncoder().encode(stdin);
      return bytes.length > max ? Promise.reject(new Error("too big")) : Promise.resolve(bytes);
    },
    readFile: (path) =>
      path in files
        ? Promise.resolve(new TextEncoder().encode(files[path]))
        : Promise.reject(new Deno.errors.NotFound(`No such file or directory: '${path}'`)),
    writeStdout: (b) => {
      out.push(b);
      return Promise.resolve();
    },
    writeStderrLine: (line) => {
      err.push(line);
      return Promise.resolve();
    },
  };
  return { io, stdout: () => decoder.decode(new Uint8Array(out.flatMap((b) => [...b]))), err };
}

Deno.test("deje cli: bad command lines throw UsageError with one line", async () => {
  const bad = [
    [],
    ["bogus"],
    ["serialize"],
    ["serialize", "event"],
    ["serialize", "events", "hash"],
    ["serialize", "event", "sha1"],
    ["serialize", "event", "hash", "extra"],
    ["serialize", "--pretty", "event", "hash"],
    ["state"],
    ["state", "a.json", "b.json"],
    ["state", "--force", "a.json"],
  ];
  for (const args of bad) {
    const { io } = memoryIo();
    await assert.rejects(
      () => dejeMain(args, io),
      (e: unknown) => e instanceof UsageError && !e.message.includes("\n"),
      JSON.stringify(args),
    );
  }
});

Deno.test("deje cli: --help on each level", async () => {
  for (
    const [args, first] of [
      [["--help"], "Usage: djdns deje COMMAND"],
      [["-h"], "Usage: djdns deje COMMAND"],
      [["serialize", "--help"], "Usage: djdns deje serialize"],
      [["serialize", "-h", "event"], "Usage: djdns deje serialize"],
      [["state", "--help"], "Usage: djdns deje state"],
    ] as const
  ) {
    const m = memoryIo();
    assert.equal(await dejeMain([...args], m.io), 0);
    assert.ok(m.stdout().startsWith(first), m.stdout());
    assert.deepEqual(m.err, []);
  }
});

Deno.test("deje cli: serialize in process, and invalid data reported as djdns: <message>", async () => {
  const ok = memoryIo('{"handler":"SET","parent":"","args":{"path":[],"value":{"c":"d","a":"b"}}}');
  assert.equal(await dejeMain(["serialize", "event", "hash"], ok.io), 0);
  assert.equal(ok.stdout(), "d931572e60641c10837a812f856ca189964a8478");

  for (
    const [stdin, type, message] of [
      ["", "event", /^djdns: invalid JSON: /],
      ["[1]", "event", /^djdns: event: must be a JSON object$/],
      ['{"parent": 7}', "event", /^djdns: event: 'parent' must be a string$/],
      ['{"timestamps": [1]}', "document", /^djdns: document: timestamps\[0\] must be a string$/],
      ['"\\udfff"', "document", /lone UTF-16 surrogate/],
    ] as const
  ) {
    const m = memoryIo(stdin);
    assert.equal(await dejeMain(["serialize", type, "compact"], m.io), 1, stdin);
    assert.equal(m.stdout(), "");
    assert.equal(m.err.length, 1);
    assert.match(m.err[0], message);
  }
});

Deno.test("deje cli: state prints the tip's state and reports skipped timestamps", async () => {
  const root = { parent: "", handler: "SET", args: { path: [], value: { b: [1], a: "x" } } };
  const m0 = memoryIo("", {});
  // Find the root's id through the CLI itself.
  const idIo = memoryIo(JSON.stringify(root));
  await dejeMain(["serialize", "event", "hash"], idIo.io);
  const id = idIo.stdout();
  assert.match(id, /^[0-9a-f]{40}$/);

  const files = {
    "doc.json": JSON.stringify({ events: { whatever: root }, timestamps: ["nope", id] }),
    "empty.json": "{}",
    "bad.json": '{"events": {"x": 5}}',
  };
  const m = memoryIo("", files);
  assert.equal(await dejeMain(["state", "doc.json"], m.io), 0);
  assert.equal(m.stdout(), '{\n    "a": "x",\n    "b": [\n        1\n    ]\n}\n');
  assert.deepEqual(m.err, ["djdns: timestamp 0 (nope) skipped: unknown event"]);

  const e = memoryIo("", files);
  assert.equal(await dejeMain(["state", "empty.json"], e.io), 0);
  assert.equal(e.stdout(), "{}\n");

  const b = memoryIo("", files);
  assert.equal(await dejeMain(["state", "bad.json"], b.io), 1);
  assert.deepEqual(b.err, ["djdns: document: event 'x': must be a JSON object"]);

  assert.equal(await dejeMain(["state", "missing.json"], m0.io), 1);
  assert.match(m0.err[0], /^djdns: cannot read missing.json: No such file or directory/);
});
