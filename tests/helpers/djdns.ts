/**
 * Starts the real djdns server as a child process, with exactly the permission flags of the
 * `djdns` task in deno.json (the flags the compiled binary carries), and waits until it listens.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/**
 * The `deno run …` arguments of the `djdns` task (or of `task`, such as `djdns-ffi`), without the
 * leading `deno`.
 */
export async function djdnsTaskArgs(task = "djdns"): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const words = (config.tasks[task] as string).split(/\s+/);
  if (words[0] !== "deno") throw new Error("the djdns task must start with 'deno'");
  return words.slice(1).map((w) => (w === "main.ts" ? new URL("main.ts", ROOT).pathname : w));
}

/** A running server. */
export interface RunningServer {
  port: number;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  /** Sends a signal (default SIGTERM) and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  process: Deno.ChildProcess;
}

/**
 * Runs `djdns run ARGS…` on 127.0.0.1 with a free port (unless ARGS has --listen) and resolves
 * once it logs that it listens.
 */
export async function startDjdns(
  args: string[],
  opts: { timeoutMs?: number; task?: string } = {},
): Promise<RunningServer> {
  const listen = args.includes("--listen") ? [] : ["--listen", "127.0.0.1:0"];
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [...await djdnsTaskArgs(opts.task), "run", ...listen, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  });
  const process = cmd.spawn();
  let text = "";
  const decoder = new TextDecoder();
  const ready = Promise.withResolvers<number>();
  (async () => {
    for await (const chunk of process.stderr) {
      text += decoder.decode(chunk, { stream: true });
      const m = /listening on \\?"?\[?[0-9a-f.:]+\]?:(\d+)/.exec(text);
      if (m) ready.resolve(Number(m[1]));
    }
    ready.reject(new Error(`djdns exited before listening:\n${text}`));
  })();
  process.stdout.cancel();
  const timer = setTimeout(
    () => ready.reject(new Error(`djdns did not listen within the timeout:\n${text}`)),
    opts.timeoutMs ?? 20_000,
  );
  let port: number;
  try {
    port = await ready.promise;
  } catch (e) {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await process.status;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    port,
    process,
    log: () => text,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        process.kill(signal);
      } catch { /* already exited */ }
      return await process.status;
    },
  };
}

/** Runs a command to completion and returns its exit code and output. */
export async function run(
  program: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(program, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Runs `dig` with `+time=2 +tries=1` against 127.0.0.1:`port`. */
export function dig(port: number, ...args: string[]) {
  return run("dig", ["@127.0.0.1", "-p", String(port), "+time=2", "+tries=1", ...args]);
}

/** Runs `kdig` with a 2 s timeout and one try against 127.0.0.1:`port`. */
export function kdig(port: number, ...args: string[]) {
  return run("kdig", ["@127.0.0.1", "-p", String(port), "+timeout=2", "+retry=0", ...args]);
}

/**
 * Copies the fixture registry to a temporary directory, pointing its `dns://` target at
 * `upstreamPort`; returns the directory.
 */
export async function fixtureRegistry(upstreamPort?: number): Promise<string> {
  const src = new URL("../fixtures/registry/", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "djdns-registry-" });
  const copy = async (from: string, to: string) => {
    for await (const e of Deno.readDir(from)) {
      if (e.isDirectory) {
        await Deno.mkdir(`${to}/${e.name}`);
        await copy(`${from}/${e.name}`, `${to}/${e.name}`);
      } else {
        let text = await Deno.readTextFile(`${from}/${e.name}`);
        if (upstreamPort !== undefined) {
          text = text.replace("dns://127.0.0.1:1/", `dns://127.0.0.1:${upstreamPort}/`);
        }
        await Deno.writeTextFile(`${to}/${e.name}`, text);
      }
    }
  };
  await copy(src, dir);
  return dir;
}

/** Runs `djdns ARGS…` with the binary's permission flags, to completion. */
export async function djdnsCli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await run(Deno.execPath(), [...await djdnsTaskArgs(), ...args]);
}

/**
 * Runs `djdns ARGS…`, which must exit 0; returns the last line of its stdout (the id the
 * moderator commands print last) and its output.
 */
export async function djdnsOk(
  ...args: string[]
): Promise<{ id: string; stdout: string; stderr: string }> {
  const r = await djdnsCli(...args);
  if (r.code !== 0) throw new Error(`djdns ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return { id: r.stdout.trim().split("\n").at(-1)!, stdout: r.stdout, stderr: r.stderr };
}
