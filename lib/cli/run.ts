/**
 * `djdns run`: the DNS server. Loads the registry, listens on UDP and TCP, reloads pages when
 * their files change or on SIGHUP, and stops cleanly on SIGINT/SIGTERM.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { LOG_LEVELS, setupLogging } from "../log.ts";
import { allowed, type Cidr, LOOPBACK, parseCidr } from "../dns/ip.ts";
import { createResponder } from "../server/responder.ts";
import { serveTcp } from "../server/tcp.ts";
import { serveUdp } from "../server/udp.ts";
import { bindHint } from "./bind_hint.ts";
import { createQueryCounters, observedResponder } from "../metrics/mod.ts";
import { startOperatorPort } from "./operator.ts";
import { formatHostPort, type HostPort, parseHostPort } from "./addr.ts";
import { formatUpstream } from "../forwarder/mod.ts";
import {
  forwarderFor,
  forwardFor,
  loadRegistry,
  REGISTRY_HELP,
  REGISTRY_OPTIONS,
  resolverFor,
  upstreamsFrom,
} from "./registry.ts";
import { parseCommandLine, UsageError } from "./usage.ts";
import { ENCRYPTED_HELP, ENCRYPTED_OPTIONS, encryptedPlan, startEncrypted } from "./encrypted.ts";
import { ConfigError, mergeConfig, type OptionValues, readConfig } from "../config/mod.ts";

/** Port djdns listens on when none is given: unprivileged, so no root is needed. */
export const DEFAULT_PORT = 5300;

/** Help of `djdns run`. */
export const RUN_HELP = `Usage: djdns run [OPTIONS]

Serve DNS on UDP and TCP: registry names from verified pages, other names forwarded upstream.

Options:
  --config FILE            read options from a TOML file (keys are these options without
                           their dashes; flags override the file; see 'djdns config example')
  --listen ADDR[:PORT]     address to serve on (repeatable; default 127.0.0.1:${DEFAULT_PORT};
                           use port 53 to serve this machine's resolver, which needs root
                           or CAP_NET_BIND_SERVICE; port 0 picks a free port)
${REGISTRY_HELP}
  --allow-recursion CIDR   clients that may have names outside the registry forwarded
                           (repeatable; default loopback only: djdns is never an open resolver)
  --udp-size N             largest UDP reply and EDNS size advertised (512-4096, default 1232)
  --cache-entries N        answer cache size in entries (default 10000)
  --tcp-idle SECONDS       close idle TCP connections after this long (default 10)
  --tcp-max N              most open TCP connections (default 128; TLS has its own as many)
${ENCRYPTED_HELP}
  --log-level LEVEL        debug, info, warning or error (default info; debug logs every query)
  --log-format FORMAT      text or json (default text)
  --metrics ADDR:PORT      serve Prometheus metrics at /metrics and a status page at / on
                           this HTTP address (off by default; read-only, no JavaScript)
  -h, --help               show this help

Page files are reloaded when they change; page files and the data directory's signed pages
are reloaded on SIGHUP.`;

/** The options of `djdns run`; each is also a key of the configuration file. */
export const RUN_OPTIONS = {
  ...REGISTRY_OPTIONS,
  config: { type: "string" },
  listen: { type: "string", multiple: true },
  "allow-recursion": { type: "string", multiple: true },
  "udp-size": { type: "string" },
  "cache-entries": { type: "string" },
  "tcp-idle": { type: "string" },
  "tcp-max": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  metrics: { type: "string" },
  ...ENCRYPTED_OPTIONS,
  help: { type: "boolean", short: "h" },
} as const;

// The configuration file's values under the command line's (flags win key by key).
async function withConfigFile(flags: OptionValues): Promise<OptionValues> {
  const path = flags.config as string | undefined;
  if (path === undefined) return flags;
  try {
    return mergeConfig(await readConfig(path, RUN_OPTIONS), flags);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

function intOption(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  dflt: number,
) {
  const v = values[name] as string | undefined;
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Runs the server until SIGINT/SIGTERM. Returns the exit status. */
export async function runMain(args: string[]): Promise<number> {
  const startedMs = performance.now();
  const { values: flags } = parseCommandLine(args, RUN_OPTIONS, 0);
  if (flags.help) {
    console.log(RUN_HELP);
    return 0;
  }
  const values = await withConfigFile(flags);
  const level = (values["log-level"] as string | undefined) ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const format = (values["log-format"] as string | undefined) ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError("--log-format must be text or json");
  }
  const listen: HostPort[] =
    ((values.listen as string[] | undefined) ?? [`127.0.0.1:${DEFAULT_PORT}`])
      .map((l) => parseHostPort(l, DEFAULT_PORT, "--listen", true));
  let acl: readonly Cidr[] = LOOPBACK;
  if (values["allow-recursion"]) {
    acl = [
      ...LOOPBACK,
      ...(values["allow-recursion"] as string[]).map((c) => {
        try {
          return parseCidr(c);
        } catch (e) {
          throw new UsageError(`--allow-recursion: ${(e as Error).message}`);
        }
      }),
    ];
  }
  const udpSize = intOption(values, "udp-size", 512, 4096, 1232);
  const cacheEntries = intOption(values, "cache-entries", 0, 10_000_000, 10_000);
  const idleMs = intOption(values, "tcp-idle", 1, 3600, 10) * 1000;
  const maxConnections = intOption(values, "tcp-max", 1, 65535, 128);
  const metricsAt = values.metrics === undefined
    ? undefined
    : parseHostPort(values.metrics as string, 9153, "--metrics", true);
  const encrypted = encryptedPlan(values);
  const upstreams = await upstreamsFrom(values, listen);
  const forwarder = forwarderFor(values, upstreams);

  setupLogging(level as "info", format);
  const log = getLogger(["djdns"]);
  let registry;
  try {
    registry = await loadRegistry(values, true);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    console.error(`djdns: cannot load the registry: ${(e as Error).message}`);
    await forwarder.close();
    return 1;
  }
  for (const err of registry.snapshot.errors) log.error("page not loaded: {err}", { err });
  log.info("registry: {describe}, {n} page(s)", {
    describe: registry.describe,
    n: registry.snapshot.pages.size,
  });
  if (upstreams.length === 0) {
    log.warning("no upstream resolver: names outside the registry will be REFUSED");
  } else {
    log.info("upstreams: {list}", { list: upstreams.map(formatUpstream).join(", ") });
  }

  const resolve = resolverFor(registry, forwarder, upstreams.length > 0);
  const counters = metricsAt ? createQueryCounters() : undefined;
  const inner = createResponder({
    resolve,
    forward: upstreams.length > 0 ? forwardFor(forwarder) : undefined,
    udpSize,
    cacheEntries,
  });
  // Counting is a link of its own in the chain, present only when someone reads the counts.
  const responder = counters ? observedResponder(inner, counters) : inner;
  const recursion = (addr: string) => allowed(addr, acl);
  const servers: { close(): Promise<void> }[] = [];
  const served: string[] = [];
  let binding: HostPort | undefined;
  try {
    for (const l of listen) {
      binding = l;
      const udp = await serveUdp(l.host, l.port, responder, recursion);
      servers.push(udp);
      servers.push(serveTcp(l.host, udp.port, responder, recursion, { idleMs, maxConnections }));
      log.info("listening on {addr} (udp, tcp)", {
        addr: formatHostPort({ host: l.host, port: udp.port }),
      });
      served.push(formatHostPort({ host: l.host, port: udp.port }));
    }
    startEncrypted(encrypted, responder, recursion, { idleMs, maxConnections }, (s) => {
      servers.push(s);
      log.info(`listening on {addr} (${s.kind})`, { addr: s.addr });
    }, (at) => (binding = at));
    if (metricsAt && counters) {
      binding = metricsAt;
      const op = startOperatorPort(metricsAt.host, metricsAt.port, {
        registry,
        responder: inner,
        counters,
        listen: served,
        startedMs,
      });
      servers.push(op);
      const at = formatHostPort({ host: metricsAt.host, port: op.port });
      log.info("metrics and status page on {url}", { url: `http://${at}/` });
    }
  } catch (e) {
    const where = binding ? ` on ${formatHostPort(binding)}` : "";
    console.error(`djdns: cannot listen${where}: ${(e as Error).message}`);
    if (binding) {
      for (const hint of bindHint(e, binding.host, binding.port)) console.error(`djdns: ${hint}`);
    }
    for (const s of servers) await s.close();
    await forwarder.close();
    registry.close();
    return 1;
  }

  // Reloads are serialized and coalesced: a burst of file events makes one reload.
  let reloading: Promise<void> | null = null;
  let again = false;
  const reload = (why: string) => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      do {
        again = false;
        try {
          const snap = await registry.reload();
          responder.registryChanged();
          for (const err of snap.errors) log.error("page not loaded: {err}", { err });
          log.info("pages reloaded ({why}): {n} page(s)", { why, n: snap.pages.size });
        } catch (e) {
          log.error("reload failed, still serving the previous pages: {err}", {
            err: (e as Error).message,
          });
        }
      } while (again);
      reloading = null;
    })();
  };
  let watcher: Deno.FsWatcher | undefined;
  let stopping = false;
  if (registry.snapshot.dir) {
    watcher = Deno.watchFs(registry.snapshot.dir, { recursive: true });
    (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        for await (const ev of watcher!) {
          if (ev.kind === "access") continue;
          clearTimeout(timer);
          timer = setTimeout(() => reload("files changed"), 200);
        }
      } catch (e) {
        if (!stopping) log.warning("page watch failed: {err}", { err: (e as Error).message });
      }
      // The directory was removed or replaced, or the watcher failed: say so, since changes are
      // now picked up only on SIGHUP.
      if (!stopping) log.warning("no longer watching the page directory; reload with SIGHUP");
    })();
  }

  const stop = Promise.withResolvers<string>();
  const onHup = () => reload("SIGHUP");
  const onInt = () => stop.resolve("SIGINT");
  const onTerm = () => stop.resolve("SIGTERM");
  Deno.addSignalListener("SIGHUP", onHup);
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const signal = await stop.promise;
  stopping = true;
  log.info("{signal}: stopping", { signal });
  Deno.removeSignalListener("SIGHUP", onHup);
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  watcher?.close();
  for (const s of servers) await s.close();
  await forwarder.close();
  registry.close();
  return 0;
}
