/**
 * Logging set-up: LogTape loggers under the `djdns` category write one line per record to
 * stderr, as text or JSON lines. Query lines exist only at debug level.
 *
 * @module
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

/** Log levels accepted on the command line. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** Configures logging for the process. Safe to call more than once. */
export function setupLogging(level: LogLevel, format: "text" | "json" = "text"): void {
  const formatter = format === "json" ? getJsonLinesFormatter() : getTextFormatter();
  const encoder = new TextEncoder();
  const sink = (record: LogRecord) => {
    try {
      Deno.stderr.writeSync(encoder.encode(formatter(record)));
    } catch { /* stderr gone: nothing useful to do */ }
  };
  resetSync();
  configureSync({
    sinks: { stderr: sink },
    loggers: [
      { category: ["djdns"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
