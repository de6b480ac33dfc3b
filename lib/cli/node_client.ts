/**
 * Connects the tools' `--node HOST:PORT` (lib/cli/pagedata.ts) to the network client API
 * (lib/net/client.ts): fetching a page from a running node, and publishing through it. A node
 * that refuses an object (invalid, or a page it does not follow) makes the command fail with
 * the node's reasons.
 *
 * @module
 */
import { setNodeClient } from "./pagedata.ts";

setNodeClient(async () => {
  const net = await import("../net/client.ts");
  return {
    fetchPage: (addr, pageId) => net.fetchPage(addr, pageId),
    async publish(addr, objects) {
      const results = await net.publish(addr, objects);
      const refused = results.filter((r) => r.outcome === "invalid" || r.outcome === "dropped");
      if (refused.length > 0) {
        throw new Error(
          "the node refused " +
            refused.map((r) =>
              `${r.id || "an object"} (${r.code}${r.reason ? `: ${r.reason}` : ""})`
            )
              .join(", "),
        );
      }
    },
  };
});
