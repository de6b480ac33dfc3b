/**
 * Where a node keeps its data when `--data` is not given.
 *
 * @module
 */

/** The data directory a system service should use (pass it as `--data`, e.g. from systemd). */
export const SYSTEM_DATA_DIR = "/var/lib/djdns";

/** Read access to environment variables; `Deno.env` satisfies it. */
export interface EnvReader {
  /** Returns the variable's value, or undefined when unset. */
  get(name: string): string | undefined;
}

/**
 * Resolves the data directory: `--data` when given, else `$XDG_DATA_HOME/djdns`, else
 * `$HOME/.local/share/djdns`. A system service runs with `--data /var/lib/djdns`
 * ({@linkcode SYSTEM_DATA_DIR}); it is never chosen implicitly, because a user-run node must not
 * silently share a service's directory. Throws when neither a flag nor `HOME` gives an answer.
 *
 * Needs `--allow-env` (XDG_DATA_HOME, HOME) unless `dataFlag` is given.
 */
export function resolveDataDir(dataFlag?: string, env: EnvReader = Deno.env): string {
  if (dataFlag !== undefined && dataFlag !== "") return dataFlag;
  // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.get("XDG_DATA_HOME");
  if (xdg && xdg.startsWith("/")) return `${xdg.replace(/\/+$/, "")}/djdns`;
  const home = env.get("HOME");
  if (home && home.startsWith("/")) return `${home.replace(/\/+$/, "")}/.local/share/djdns`;
  throw new Error(
    `no data directory: HOME and XDG_DATA_HOME are unset; pass --data DIR (services: --data ${SYSTEM_DATA_DIR})`,
  );
}
