/**
 * Ports below 1024 without root: a process of an unprivileged user is refused the bind with a
 * message that says what to do, and the same process with only CAP_NET_BIND_SERVICE (as the
 * systemd unit's AmbientCapabilities gives it) serves. A free port below 1024 stands in for
 * 53, which the machine's own resolver may hold.
 */
import assert from "node:assert/strict";
import { dig, djdnsTaskArgs, run } from "./helpers/djdns.ts";
import { ignoring, needs } from "./helpers/preconditions.ts";

// The first port from 900 up that TCP can bind (root can bind any here); UDP ports are not used
// in that range here either.
function privilegedPort(): number {
  for (let port = 900; port < 1024; port++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken */ }
  }
  throw new Error("no free port below 1024");
}

// The unprivileged user needs a deno it may execute and a DENO_DIR it may write; the repository
// itself is world-readable in a checkout.
async function asNobody(caps: boolean, dir: string, port: number): Promise<Deno.ChildProcess> {
  const deno = `${dir}/deno`;
  await Deno.copyFile(Deno.execPath(), deno);
  await Deno.chmod(deno, 0o755);
  await Deno.chmod(dir, 0o777);
  const task = await djdnsTaskArgs();
  return new Deno.Command("setpriv", {
    args: [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      ...(caps ? ["--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service"] : []),
      "env",
      `DENO_DIR=${dir}/cache`,
      `HOME=${dir}`,
      "NO_COLOR=1",
      deno,
      ...task,
      "run",
      "--listen",
      `127.0.0.1:${port}`,
      "--no-upstream",
      "--data",
      `${dir}/data`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test({
  name: "a port below 1024 as nobody: refused with the fix named; served with CAP_NET_BIND_SERVICE",
  ignore: ignoring("port below 1024 as nobody", needs.root()),
  fn: async () => {
    const PORT = privilegedPort();
    const dir = await Deno.makeTempDir({ prefix: "djdns-cap-" });
    try {
      const refused = await (await asNobody(false, dir, PORT)).output();
      const err = new TextDecoder().decode(refused.stderr);
      assert.equal(refused.code, 1, err);
      assert.match(err, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${PORT}: .*EACCES`));
      assert.match(err, /ports below 1024 need root or CAP_NET_BIND_SERVICE/);

      const child = await asNobody(true, dir, PORT);
      try {
        let r = { stdout: "" };
        // Until it listens (dig reports "connection refused" before that).
        for (const end = Date.now() + 20_000; !/^\d/.test(r.stdout) && Date.now() < end;) {
          r = await dig(PORT, "+short", "hello.testnet.djdns", "A");
        }
        assert.equal(r.stdout.trim(), "192.0.2.53");
        // It really is nobody's process, with no capability but the one it was given.
        const who = await run("ps", ["-o", "user=", "-p", String(child.pid)]);
        assert.equal(who.stdout.trim(), "nobody");
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await child.stderr.cancel();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
