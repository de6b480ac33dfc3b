import assert from "node:assert/strict";
import { anchorLog } from "../lib/anchor/bundle.ts";
import {
  ROOT_ANCHOR,
  ROOT_BUNDLE,
  ROOT_IS_TESTNET,
  ROOT_PAGE_ID,
  TESTNET_PAGE_ID,
} from "../lib/anchor/root_anchor.ts";
import { approve, objectId, proposeEvent } from "../lib/page/mod.ts";
import { dig, djdnsTaskArgs, run, startDjdns } from "./helpers/djdns.ts";
import { testRoot } from "./helpers/net.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function djdns(...args: string[]) {
  return await run(Deno.execPath(), [...await djdnsTaskArgs(), ...args]);
}

Deno.test("embedded anchor: the testnet root, rebuilt from the published keys, verifies", async () => {
  assert.equal(ROOT_PAGE_ID, TESTNET_PAGE_ID);
  assert.ok(ROOT_IS_TESTNET);
  assert.equal(objectId(ROOT_ANCHOR.genesis), ROOT_PAGE_ID);
  const log = anchorLog(ROOT_ANCHOR, ROOT_BUNDLE);
  assert.notEqual(log.head(), ROOT_PAGE_ID, "the bundle moves the head past the genesis");
  const names = log.state().branches.map((b) => (b as { selector: string }).selector);
  assert.ok(names.includes("^hello\\.testnet\\.djdns$"));
  // The files are what tools/make_testnet_anchor.ts makes from testnet/keys.
  const out = await Deno.makeTempDir();
  const keys = await Deno.makeTempDir();
  try {
    // Git does not keep the 0600 mode the key reader insists on: copy the keys with it.
    await Deno.mkdir(`${keys}/testnet/keys`, { recursive: true });
    for (const k of ["root-1.key", "root-2.key", "root-3.key"]) {
      await Deno.copyFile(`${ROOT}testnet/keys/${k}`, `${keys}/testnet/keys/${k}`);
      await Deno.chmod(`${keys}/testnet/keys/${k}`, 0o600);
    }
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--v8-flags=--enable-experimental-regexp-engine",
        `${ROOT}tools/make_testnet_anchor.ts`,
        out,
      ],
      cwd: keys,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    for (const f of ["testnet_anchor.json", "testnet_bundle.json"]) {
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(`${out}/${f}`)),
        JSON.parse(await Deno.readTextFile(`${ROOT}lib/anchor/${f}`)),
        `${f} differs from what the published keys make`,
      );
    }
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(keys, { recursive: true });
  }
});

Deno.test("embedded anchor: a tampered bundle does not open", () => {
  const [ev, a1] = ROOT_BUNDLE;
  assert.equal(ev.type, "event");
  assert.equal(a1.type, "approval");
  // An approval of another event signed by a key that is not a participant.
  const stranger = crypto.getRandomValues(new Uint8Array(32));
  const forged = approve(stranger, ev as never);
  assert.throws(() => anchorLog(ROOT_ANCHOR, [ev, forged]), /root bundle object 1 \(approval\)/);
  // An event of another page.
  const other = proposeEvent("ab".repeat(32), "ab".repeat(32), "DELETE", { path: ["meta"] });
  assert.throws(() => anchorLog(ROOT_ANCHOR, [other]), /root bundle object 0 \(event\)/);
});

Deno.test("embedded anchor: run serves the bundled names at once and says it is the testnet", async () => {
  const data = await Deno.makeTempDir({ prefix: "djdns-anchor-" });
  const server = await startDjdns(["--data", data, "--no-upstream"]);
  try {
    const r = await dig(server.port, "+short", "hello.testnet.djdns", "A");
    assert.equal(r.stdout.trim(), "192.0.2.53");
    const c = await dig(server.port, "+short", "www.testnet.djdns", "A");
    assert.equal(c.stdout.trim(), "hello.testnet.djdns.\n192.0.2.53");
    assert.match(server.log(), new RegExp(`TESTNET root "?${ROOT_PAGE_ID}`));
  } finally {
    await server.stop();
    await Deno.remove(data, { recursive: true });
  }
  const show = await djdns("anchor", "show");
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^root page   ${ROOT_PAGE_ID}$`, "m"));
  assert.match(show.stdout, /^network {5}TESTNET/m);
  assert.equal((show.stdout.match(/^participant [0-9a-f]{64} weight 1$/gm) ?? []).length, 3);
  const json = await djdns("anchor", "show", "--json");
  assert.deepEqual(
    JSON.parse(json.stdout),
    JSON.parse(
      await Deno.readTextFile(`${ROOT}lib/anchor/testnet_anchor.json`),
    ),
  );
});

Deno.test("compile task: verifies a production anchor and names DENORT_BIN when it is missing", async () => {
  const task = async (env: Record<string, string>, ...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "compile", ...args],
      cwd: ROOT,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  const env = { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "" };
  const none = await task(env);
  assert.equal(none.code, 1);
  assert.equal(none.stderr.trim().split("\n").length, 1, none.stderr);
  assert.match(none.stderr, /DENORT_BIN/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.json`,
      JSON.stringify({ page: "00".repeat(32), genesis: ROOT_ANCHOR.genesis }),
    );
    const bad = await task(env, "--anchor", `${dir}/bad.json`);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^compile: --anchor .*bad\.json: /m);
    const orphan = await task(env, "--bundle", `${dir}/bad.json`);
    assert.match(orphan.stderr, /--bundle needs --anchor/);
    // A good anchor passes verification and stops only at the missing runtime.
    const good = await task(
      env,
      "--anchor",
      `${ROOT}lib/anchor/testnet_anchor.json`,
      "--bundle",
      `${ROOT}lib/anchor/testnet_bundle.json`,
    );
    assert.match(good.stderr, new RegExp(`embedding root ${ROOT_PAGE_ID}`));
    assert.match(good.stderr, /DENORT_BIN/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run --anchor FILE: another root replaces the embedded one, with a warning; a bad file is one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "djdns-anchor-file-" });
  try {
    const { anchorText } = testRoot("www.other.test", "192.0.2.99");
    await Deno.writeTextFile(`${dir}/anchor.json`, anchorText);
    const server = await startDjdns([
      "--anchor",
      `${dir}/anchor.json`,
      "--data",
      `${dir}/data`,
      "--no-upstream",
    ]);
    try {
      const r = await dig(server.port, "+short", "www.other.test", "A");
      assert.equal(r.stdout.trim(), "192.0.2.99");
      assert.match(server.log(), /replaces the one embedded in this build/);
      assert.doesNotMatch(server.log(), /TESTNET/);
    } finally {
      await server.stop();
    }
    const missing = await djdns("run", "--anchor", `${dir}/nope.json`, "--data", `${dir}/d2`);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^djdns: cannot read the anchor: anchor file .*nope\.json: no such file$/m,
    );
    await Deno.writeTextFile(`${dir}/bad.json`, "{}");
    const bad = await djdns("run", "--anchor", `${dir}/bad.json`, "--data", `${dir}/d3`);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot read the anchor: .*bad\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
