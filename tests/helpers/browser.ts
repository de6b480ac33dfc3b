/**
 * Debian's Chromium as the tests' browser: headless, with a fresh profile and none of its own
 * network traffic (the flags this machine needs; see the env notes of the project).
 *
 * @module
 */
import assert from "node:assert/strict";
import { run } from "./djdns.ts";

/** Runs headless Chromium on `url` with `extra` flags (`--dump-dom`, `--screenshot=FILE`…). */
export async function chromium(url: string, extra: string[]): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "djdns-chromium-" });
  try {
    const r = await run("chromium", [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...extra,
      url,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/** The DOM of `url` after it loaded, as Chromium serializes it. */
export function dumpDom(url: string): Promise<string> {
  return chromium(url, ["--dump-dom"]);
}
