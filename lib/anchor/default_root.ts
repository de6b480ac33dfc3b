/**
 * The registry this build serves when no page directory is given: the embedded default root.
 * It claims the `djdns.` name space only, so every other name is forwarded upstream.
 *
 * @module
 */

/** The embedded default root page, in the original DJDNS page format. */
export const DEFAULT_ROOT_PAGE = {
  meta: {
    authority: "djdns project",
    about: "Embedded default root of this djdns build",
    policy: "Structural: names under djdns. describe this node.",
  },
  branches: [
    {
      selector: "^localhost\\.djdns$",
      records: [
        { domain_name: "localhost.djdns", rtype: "A", rdata: "127.0.0.1", rttl: 86400 },
        { domain_name: "localhost.djdns", rtype: "AAAA", rdata: "::1", rttl: 86400 },
      ],
    },
    { selector: "(^|\\.)djdns$", records: [], targets: [] },
  ],
} as const;
