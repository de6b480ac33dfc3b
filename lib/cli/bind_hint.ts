/**
 * What to tell an operator when `djdns run` cannot bind its DNS port, and how to resolve the
 * usual fights of a local resolver: systemd-resolved's stub listener on port 53, and ports
 * below 1024 needing a capability.
 *
 * Deno refuses /proc/net/* to a process without --allow-all, so djdns cannot name the process
 * that holds the port itself; it names the likely one (the systemd-resolved stub, recognised
 * from its files) and the command that shows the real one.
 *
 * @module
 */

/** What the hint needs to know about this machine; injected in tests. */
export interface HostFacts {
  /** True when systemd-resolved's stub listener is probably active. */
  resolvedStub(): boolean;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The facts read from this machine's files. */
export const HOST_FACTS: HostFacts = {
  resolvedStub() {
    if (exists("/run/systemd/resolve/stub-resolv.conf")) return true;
    try {
      return /^\s*nameserver\s+127\.0\.0\.53\s*$/m.test(Deno.readTextFileSync("/etc/resolv.conf"));
    } catch {
      return false;
    }
  },
};

function errorCode(err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code) return code;
  if (err instanceof Deno.errors.AddrInUse) return "EADDRINUSE";
  if (err instanceof Deno.errors.PermissionDenied) return "EACCES";
  if (err instanceof Deno.errors.AddrNotAvailable) return "EADDRNOTAVAIL";
  const m = /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(String((err as Error)?.message ?? err));
  return m ? m[1] : "";
}

/**
 * The lines to print after "cannot listen on ADDR:PORT: <error>": what probably went wrong and
 * how to fix it (empty when there is nothing useful to add).
 */
export function bindHint(
  err: unknown,
  host: string,
  port: number,
  facts: HostFacts = HOST_FACTS,
  flag = "--listen",
): string[] {
  switch (errorCode(err)) {
    case "EADDRINUSE": {
      const lines = [
        `another program already serves port ${port} on ${host} ` +
        `(see which: ss -lunpt 'sport = :${port}')`,
      ];
      if (port === 53 && flag === "--listen" && facts.resolvedStub()) {
        lines.push(
          "this is probably systemd-resolved's stub listener (127.0.0.53:53): serve on " +
            "--listen 127.0.0.1:53 instead of a wildcard address, or set DNSStubListener=no in " +
            "/etc/systemd/resolved.conf and restart systemd-resolved (docs/SERVICE.md)",
        );
      } else {
        lines.push(`stop that program, or choose another port with ${flag} ${host}:PORT`);
      }
      return lines;
    }
    case "EACCES":
      if (port > 0 && port < 1024) {
        return [
          "ports below 1024 need root or CAP_NET_BIND_SERVICE: use " +
          "AmbientCapabilities=CAP_NET_BIND_SERVICE (deploy/djdns.service) or " +
          "'setcap cap_net_bind_service=+ep' on the binary (docs/SERVICE.md)",
        ];
      }
      return ["the operating system refused the bind"];
    case "EADDRNOTAVAIL":
      return [`${host} is not an address of this machine`];
    default:
      return [];
  }
}
