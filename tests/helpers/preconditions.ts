/**
 * What a test needs from the machine beyond Deno: root, `::1`, python3, a network namespace.
 * Each check returns undefined when the test can run, else the reason it cannot; a test that
 * cannot run is declared with `Deno.test({ ignore: true })` (so it is reported as ignored, and
 * `.ci/run` fails under `CI=true`), never passed after printing "skipped".
 *
 * `tools/test_deps.sh` checks and, as root, creates the same things before the suite runs.
 *
 * To see what a poorer machine reports, name checks to treat as missing in
 * `DJDNS_TEST_WITHOUT` (comma-separated: `root`, `ipv6`, `python3`, `netns`; `tmpfs` and `root`
 * also for the tmpfs tests of tests/store_faults_test.ts), e.g.
 * `DJDNS_TEST_WITHOUT=root,ipv6 deno task test`.
 *
 * @example
 * ```ts
 * const why = await needs.netns();
 * Deno.test({ name: "…", ignore: ignoring("…", why), fn: async () => {} });
 * ```
 *
 * @module
 */
import dgram from "node:dgram";

const pretended = new Set(
  (Deno.env.get("DJDNS_TEST_WITHOUT") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
);

function pretend(what: string): string | undefined {
  return pretended.has(what) ? `DJDNS_TEST_WITHOUT names ${what}` : undefined;
}

async function runs(program: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" })
      .output();
    if (out.success) return undefined;
    return `${program} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`;
  } catch (e) {
    return `${program}: ${(e as Error).message}`;
  }
}

let netnsCheck: Promise<string | undefined> | undefined;

/** Each check: undefined when the machine has the thing, else why not. */
export const needs = {
  /** Running as root (raw sockets, network namespaces, mounts). */
  root(): string | undefined {
    return pretend("root") ?? (Deno.uid() === 0 ? undefined : "needs root");
  },

  /** An IPv6 loopback address that TCP and UDP can bind. */
  async ipv6(): Promise<string | undefined> {
    const p = pretend("ipv6");
    if (p) return p;
    const socket = dgram.createSocket("udp6");
    try {
      Deno.listen({ hostname: "::1", port: 0 }).close();
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, "::1", () => resolve());
      });
      return undefined;
    } catch (e) {
      return `::1 is not available (${(e as Error).message}); as root: ` +
        "sysctl -w net.ipv6.conf.lo.disable_ipv6=0";
    } finally {
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // never bound
        }
      });
    }
  },

  /** A python3 interpreter (to craft raw datagrams). */
  python3(): Promise<string | undefined> {
    const p = pretend("python3");
    return p ? Promise.resolve(p) : runs("python3", ["-c", ""]);
  },

  /**
   * Network namespaces with a veth pair (root and iproute2): a client address that is not
   * loopback, on any machine. Probed once by creating and deleting a namespace.
   */
  netns(): Promise<string | undefined> {
    const p = pretend("netns") ?? needs.root();
    if (p) return Promise.resolve(p);
    netnsCheck ??= (async () => {
      const name = `djdns-probe-${Deno.pid}`;
      const made = await runs("ip", ["netns", "add", name]);
      if (made) return `cannot create a network namespace (${made})`;
      await runs("ip", ["netns", "del", name]);
      return undefined;
    })();
    return netnsCheck;
  },
};

/**
 * Returns true when `why` says a test cannot run, after printing why to stderr (Deno reports
 * the test as ignored without a reason); false when it can.
 */
export function ignoring(name: string, why: string | undefined): boolean {
  if (why === undefined) return false;
  console.error(`ignored "${name}": ${why}`);
  return true;
}
