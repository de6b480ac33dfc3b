/**
 * `djdns testnet up|down` with the binary's permission flags: three nodes answer dig, the change
 * the instructions print (proposed at the first node, approved at the last) reaches every node,
 * `testnet down` stops them, and `up` again resumes the same network with what it stored.
 */
import assert from "node:assert/strict";
import { dig, djdnsCli as djdns, djdnsTaskArgs } from "./helpers/djdns.ts";
import { until } from "./helpers/net.ts";

interface Up {
  process: Deno.ChildProcess;
  stdout: () => string;
  state: { pages: Record<string, string>; nodes: { dns: string; gossip: string }[] };
}

async function up(dir: string, nodes: number): Promise<Up> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [...await djdnsTaskArgs(), "testnet", "up", "--nodes", String(nodes), "--dir", dir],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  let text = "";
  (async () => {
    const d = new TextDecoder();
    for await (const chunk of process.stdout) text += d.decode(chunk, { stream: true });
  })();
  try {
    await until(() => text.includes("Stop: "), 60_000, "the testnet to start");
  } catch (e) {
    process.kill("SIGKILL");
    await process.status;
    throw e;
  }
  const state = JSON.parse(await Deno.readTextFile(`${dir}/testnet.json`));
  return { process, stdout: () => text, state };
}

const port = (hp: string) => hp.slice(hp.lastIndexOf(":") + 1);

async function short(hp: string, name: string, type = "A"): Promise<string> {
  return (await dig(Number(port(hp)), name, type, "+short")).stdout.trim();
}

Deno.test("testnet: up, dig every node, make the printed change, down, up again", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "djdns-testnet-" });
  const dir = `${tmp}/net`;
  let t: Up | undefined;
  try {
    t = await up(dir, 3);
    const { nodes, pages } = t.state;
    assert.equal(nodes.length, 3);
    assert.match(
      t.stdout(),
      new RegExp(`dig @127\\.0\\.0\\.1 -p ${port(nodes[0].dns)} www\\.example\\.test`),
    );
    for (const n of nodes) {
      assert.equal(await short(n.dns, "www.example.test"), "192.0.2.10");
      assert.equal(await short(n.dns, "alias.demo.test"), "www.example.test.\n192.0.2.10");
    }
    // The trace exactly as printed.
    const trace = /^ {2}djdns (resolve .*) \\\n\s+(\S+)/m.exec(t.stdout())!;
    const r = await djdns(...`${trace[1]} ${trace[2]}`.split(/\s+/));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`;; {3}page ${pages.root} head ${pages.root} `));
    assert.match(r.stdout, new RegExp(`targets djdns:${pages["demo.test"]}`));
    assert.match(r.stdout, /alias\.demo\.test\.\t60\tIN\tCNAME\twww\.example\.test\./);

    // The change exactly as printed.
    const propose = /EV=\$\(djdns (propose .*) \\\n\s+(.*)\)/.exec(t.stdout())!;
    const p = await djdns(...`${propose[1]} ${propose[2]}`.split(/\s+/));
    assert.equal(p.code, 0, p.stderr);
    const ev = p.stdout.trim();
    const approve = /^ {2}djdns (approve .*)$/m.exec(t.stdout())![1].replace("$EV", ev);
    const a = await djdns(...approve.split(/\s+/));
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /accepted/);
    for (const n of nodes) {
      await until(
        async () => (await short(n.dns, "ftp.example.test")) === "192.0.2.11",
        15_000,
        `ftp at ${n.dns}`,
      );
    }
    const down = await djdns("testnet", "down", "--dir", dir);
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await t.process.status).code, 0);
    t = undefined;
    const again = await djdns("testnet", "down", "--dir", dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^djdns: no testnet is running in /);

    // Up again: the same pages, and the change survived in every node's store.
    t = await up(dir, 2);
    assert.deepEqual(t.state.pages, pages);
    for (const n of t.state.nodes) {
      assert.equal(await short(n.dns, "ftp.example.test"), "192.0.2.11");
    }
    assert.equal((await djdns("testnet", "down", "--dir", dir)).code, 0);
    assert.equal((await t.process.status).code, 0);
    t = undefined;
    assert.equal((await djdns("testnet", "up", "--nodes", "99")).code, 2);
  } finally {
    if (t) {
      t.process.kill("SIGTERM");
      await t.process.status;
    }
    await Deno.remove(tmp, { recursive: true });
  }
});
