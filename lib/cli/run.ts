/**
 * `djdns run`: the DNS server. Loads the registry, listens on UDP and TCP, reloads pages when
 * their files change or on SIGHUP, and stops cleanly on SIGINT/SIGTERM.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { LOG_LEVELS, setupLogging } from "../log.ts";
import { type Cidr, LOOPBACK, parseCidr } from "../dns/ip.ts";
import { bindHint } from "./bind_hint.ts";
import { DEFAULT_RRL } from "../server/rrl.ts";
import { ffiUnavailable } from "../server/ffi_udp.ts";
import { startOperatorPort } from "./operator.ts";
import { formatHostPort, type HostPort, parseHostPort } from "./addr.ts";
import { forwarderFor, REGISTRY_HELP, REGISTRY_OPTIONS, upstreamsFrom } from "./registry.ts";
import { AnchorFileError } from "../anchor/file.ts";
import { readAnchorFile } from "./anchor_file.ts";
import { peerAddr } from "../net/addr.ts";
import { type GossipConfig, NodeStartError, startNode } from "../node/mod.ts";
import { resolveDataDir } from "../store/mod.ts";
import { parseCommandLine, UsageError } from "./usage.ts";
import { ENCRYPTED_HELP, ENCRYPTED_OPTIONS, encryptedPlan } from "./encrypted.ts";
import { ConfigError, mergeConfig, type OptionValues, readConfig } from "../config/mod.ts";

/** Port djdns listens on when none is given: unprivileged, so no root is needed. */
export const DEFAULT_PORT = 5300;
/** Gossip port when `--gossip ADDR` names none (and the default of `djdns status --node`). */
export const DEFAULT_GOSSIP_PORT = 5301;

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
  --udp-native             serve UDP from a native socket, datagrams read and answered in
                           batches (recvmmsg/sendmmsg through libc): about half the CPU per
                           query; needs --allow-ffi, so run it as 'deno task djdns-ffi run'
  --tcp-idle SECONDS       close idle TCP connections after this long (default 10)
  --tcp-max N              most open TCP connections (default 128); at the limit a new
                           connection replaces the oldest idle one
  --tcp-max-per-source N   most TCP connections from one address, /32 or /64 (default 16;
                           loopback clients count only towards --tcp-max)
${ENCRYPTED_HELP}
  --rrl-rate N             response rate limit: UDP responses per second to one network
                           (/24, /56) outside loopback (default ${DEFAULT_RRL.rate}; 0 disables)
  --rrl-slip N             of the responses over the limit, send every Nth truncated (TC=1,
                           the client retries over TCP) and drop the rest (default ${DEFAULT_RRL.slip};
                           0 drops all, 1 truncates all)
  --log-level LEVEL        debug, info, warning or error (default info; debug logs every query)
  --log-format FORMAT      text or json (default text)
  --metrics ADDR:PORT      serve Prometheus metrics at /metrics and a status page at / on
                           this HTTP address (off by default; read-only, no JavaScript)

Network (peer-to-peer replication of signed pages, on libp2p; off unless --gossip is given):
  --anchor FILE            the root trust anchor (from 'djdns anchor export'; default: the
                           anchor embedded in this build)
  --gossip ADDR[:PORT]     listen for peers on this TCP address (default port 5301; 0.0.0.0
                           for every interface; port 0 picks one); needs a data directory
  --peer HOST:PORT         a peer to connect to (repeatable; HOST:PORT or a multiaddr)
  --follow used|all        pages to keep current: the root and the pages queries use (default),
                           or every page linked from a followed page (a full replica)
  --follow-unused SECONDS  with --follow used: drop a page unused this long (default 604800)
  --sync-interval SECONDS  catch up with a random peer this often (default 15)
  --fetch-deadline MS      how long a query waits for a page fetched from peers (default 1500)
  --peer-target N          dial peers learned from other peers while fewer than N are
                           connected (default 8; 0 dials only --peer and known peers)
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
  "tcp-max-per-source": { type: "string" },
  "udp-native": { type: "boolean" },
  "rrl-rate": { type: "string" },
  "rrl-slip": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  metrics: { type: "string" },
  ...ENCRYPTED_OPTIONS,
  anchor: { type: "string" },
  gossip: { type: "string" },
  peer: { type: "string", multiple: true },
  follow: { type: "string" },
  "follow-unused": { type: "string" },
  "sync-interval": { type: "string" },
  "fetch-deadline": { type: "string" },
  "peer-target": { type: "string" },
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

// SIGHUP re-reads the configuration file: log settings apply at once; other keys that changed
// are named, since they need a restart (sockets, the data directory, the network).
async function rereadConfig(flags: OptionValues, running: OptionValues): Promise<void> {
  const log = getLogger(["djdns"]);
  let next: OptionValues;
  try {
    next = await withConfigFile(flags);
  } catch (e) {
    log.error("config not reloaded, keeping the running settings: {err}", {
      err: (e as Error).message,
    });
    return;
  }
  const level = (next["log-level"] as string | undefined) ?? "info";
  const format = (next["log-format"] as string | undefined) ?? "text";
  if (
    !(LOG_LEVELS as readonly string[]).includes(level) || (format !== "text" && format !== "json")
  ) {
    log.error("config not reloaded: bad log-level or log-format");
    return;
  }
  setupLogging(level as "info", format);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const changed = Object.keys({ ...running, ...next }).filter((k) =>
    k !== "log-level" && k !== "log-format" && !same(running[k], next[k])
  );
  if (changed.length) {
    log.warning("config reloaded; these keys changed and need a restart: {keys}", {
      keys: changed.join(", "),
    });
  } else {
    log.info("config reloaded");
  }
  for (const k of ["log-level", "log-format"]) running[k] = next[k];
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
  const maxPerSource = intOption(values, "tcp-max-per-source", 1, 65535, 16);
  const udpNative = values["udp-native"] === true;
  if (udpNative) {
    const why = ffiUnavailable();
    if (why) throw new UsageError(`--udp-native: ${why}`);
  }
  const rrlRate = intOption(values, "rrl-rate", 0, 1_000_000, DEFAULT_RRL.rate);
  const rrlSlip = intOption(values, "rrl-slip", 0, 100, DEFAULT_RRL.slip);
  const metricsAt = values.metrics === undefined
    ? undefined
    : parseHostPort(values.metrics as string, 9153, "--metrics", true);
  const gossip = gossipFrom(values);
  let anchor;
  if (values.anchor !== undefined) {
    const file = values.anchor as string;
    try {
      anchor = await readAnchorFile(file);
    } catch (e) {
      if (!(e instanceof AnchorFileError)) throw e;
      console.error(`djdns: cannot read the anchor: ${e.message}`);
      return 1;
    }
  }
  const pagesDir = values.pages as string | undefined;
  if (pagesDir === undefined && values.root !== undefined) {
    throw new UsageError("--root needs --pages");
  }
  if (pagesDir !== undefined && anchor !== undefined) {
    throw new UsageError("--anchor and --pages exclude each other");
  }
  let dataDir = values.data as string | undefined;
  if (dataDir === undefined && (pagesDir === undefined || gossip)) dataDir = resolveDataDir();
  const encrypted = encryptedPlan(values);
  const upstreams = await upstreamsFrom(values, listen);
  const forwarder = forwarderFor(values, upstreams);

  setupLogging(level as "info", format);
  // SIGHUP's default action ends the process: one that comes while the node starts (a
  // `systemctl reload` right after the start) is remembered and acted on once it runs.
  let hupWhileStarting = false;
  const onEarlyHup = () => hupWhileStarting = true;
  Deno.addSignalListener("SIGHUP", onEarlyHup);
  const endEarlyHup = () => Deno.removeSignalListener("SIGHUP", onEarlyHup);
  let node;
  try {
    node = await startNode({
      pagesDir,
      rootFile: values.root as string | undefined,
      dataDir,
      anchor,
      listen,
      acl,
      udpSize,
      cacheEntries,
      idleMs,
      maxConnections,
      maxPerSource,
      udpNative,
      rrl: rrlRate > 0 ? { rate: rrlRate, slip: rrlSlip } : undefined,
      upstreams,
      forwarder,
      encrypted,
      gossip,
      operator: metricsAt && ((
        { registry, responder, counters, listen: served, netStatus, storeCheck },
      ) => {
        try {
          const op = startOperatorPort(metricsAt.host, metricsAt.port, {
            registry,
            responder,
            counters,
            listen: served,
            startedMs,
            forwarder,
            netStatus,
            dataDir,
            storeCheck,
          });
          return {
            close: () => op.close(),
            url: `http://${formatHostPort({ host: metricsAt.host, port: op.port })}/`,
          };
        } catch (e) {
          throw Object.assign(
            new NodeStartError(
              `cannot serve metrics on ${formatHostPort(metricsAt)}: ${(e as Error).message}`,
            ),
            { cause: e, endpoint: metricsAt, flag: "--metrics" },
          );
        }
      }),
    });
  } catch (e) {
    endEarlyHup();
    if (!(e instanceof NodeStartError)) throw e;
    console.error(`djdns: ${e.message}`);
    const { endpoint: at, flag } = e as { endpoint?: HostPort; flag?: string };
    if (at) {
      for (const hint of bindHint(e.cause, at.host, at.port, undefined, flag)) {
        console.error(`djdns: ${hint}`);
      }
    }
    return 1;
  }

  const stop = Promise.withResolvers<string>();
  const onHup = () => {
    if (flags.config !== undefined) void rereadConfig(flags, values);
    node.reload("SIGHUP");
  };
  const onInt = () => stop.resolve("SIGINT");
  const onTerm = () => stop.resolve("SIGTERM");
  Deno.addSignalListener("SIGHUP", onHup);
  endEarlyHup();
  if (hupWhileStarting) onHup();
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const signal = await stop.promise;
  getLogger(["djdns"]).info("{signal}: stopping", { signal });
  Deno.removeSignalListener("SIGHUP", onHup);
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  // The process exits once this returns (main.ts), which also ends the page watcher.
  await node.stop({ exiting: true });
  return 0;
}

function gossipFrom(values: Record<string, unknown>): GossipConfig | undefined {
  const at = values.gossip as string | undefined;
  const others = [
    "peer",
    "follow",
    "follow-unused",
    "sync-interval",
    "fetch-deadline",
    "peer-target",
  ];
  if (at === undefined) {
    const stray = others.find((k) => values[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --gossip`);
    return undefined;
  }
  const hp = parseHostPort(at, DEFAULT_GOSSIP_PORT, "--gossip", true);
  const ip6 = hp.host.includes(":");
  const listen = peerAddr(ip6 ? `[${hp.host}]:1` : `${hp.host}:1`);
  const peers = ((values.peer as string[] | undefined) ?? []).map((p) => {
    try {
      return peerAddr(p);
    } catch (e) {
      throw new UsageError(`--peer: ${(e as Error).message}`);
    }
  });
  const follow = (values.follow as string | undefined) ?? "used";
  if (follow !== "used" && follow !== "all") throw new UsageError("--follow must be used or all");
  return {
    listen: listen.decapsulate("/tcp").encapsulate(`/tcp/${hp.port}`),
    peers,
    follow,
    unusedMs: intOption(values, "follow-unused", 60, 10 * 365 * 86400, 7 * 86400) * 1000,
    syncIntervalMs: intOption(values, "sync-interval", 1, 86400, 15) * 1000,
    fetchDeadlineMs: intOption(values, "fetch-deadline", 100, 60_000, 1500),
    targetPeers: intOption(values, "peer-target", 0, 64, 8),
  };
}
