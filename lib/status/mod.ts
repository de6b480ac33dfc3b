/**
 * What an operator sees of a running node: the status page (HTML with the page tree as SVG)
 * and the HTTP server that also carries the Prometheus metrics.
 *
 * @module
 */
export { buildTree, TREE_LIMITS, type TreeKind, type TreeNode, type TreeSource } from "./tree.ts";
export { escapeHtml, LIST_MAX, statusHtml, type StatusView, treeSvg } from "./html.ts";
export { serveStatus, statusHandler, type StatusServer } from "./server.ts";
