/**
 * djdns: a decentralized DNS server. Entry point of the executable.
 *
 * @module
 */
import { main } from "./lib/cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
