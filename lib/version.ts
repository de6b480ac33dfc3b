/** The djdns version, printed by `djdns --version`. */
export const VERSION = "0.1.0";
