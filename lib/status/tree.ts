/**
 * The page tree as a person sees it: the root page, the pages its branches lead to (page files,
 * signed pages held and verified, signed pages not held), and the `dns://` exits, built from
 * the registry as loaded. Bounded in size and depth, and safe against cycles: pages are shared
 * by many branches and may point back up.
 *
 * @module
 */
import { pageKey } from "../sources/mod.ts";
import type { LoadedPage } from "../registry/source.ts";

/** What a node of the tree is. */
export type TreeKind = "file" | "signed" | "dns" | "missing" | "error" | "cycle";

/** A node of the drawn tree. */
export interface TreeNode {
  /** What is shown: a file path, `djdns:<short id>`, or `dns://host:port`. */
  label: string;
  kind: TreeKind;
  /** A longer description (the full page id, the selector that leads here, an error). */
  detail: string;
  children: TreeNode[];
}

/** Limits of {@linkcode buildTree}. */
export const TREE_LIMITS = { nodes: 200, depth: 8, childrenPerPage: 24 } as const;

/** The registry as the tree needs it (a page snapshot satisfies it). */
export interface TreeSource {
  root: LoadedPage;
  pages: Map<string, LoadedPage | Error>;
}

/**
 * Builds the tree from the root. A page reached twice is drawn once (its second appearance is a
 * leaf of kind "cycle" when it is an ancestor, else the page again without its children).
 */
export function buildTree(src: TreeSource): { root: TreeNode; truncated: boolean } {
  let count = 0;
  let truncated = false;
  const expanded = new Set<string>();
  const visit = (page: LoadedPage, via: string, path: Set<string>, depth: number): TreeNode => {
    count++;
    const signed = page.key.startsWith("djdns:");
    const node: TreeNode = {
      label: signed ? `djdns:${page.key.slice(6, 18)}…` : page.key || "(root)",
      kind: signed ? "signed" : "file",
      detail: (signed ? page.key : `page file ${page.key}`) + (via ? ` via ${via}` : ""),
      children: [],
    };
    if (expanded.has(page.key) || depth >= TREE_LIMITS.depth) {
      if (page.page.branches.some((b) => b.targets.length)) truncated = true;
      return node;
    }
    expanded.add(page.key);
    const inner = new Set(path).add(page.key);
    let kids = 0;
    for (const branch of page.page.branches) {
      for (const t of branch.targets) {
        if (count >= TREE_LIMITS.nodes || kids >= TREE_LIMITS.childrenPerPage) {
          truncated = true;
          return node;
        }
        kids++;
        const sel = branch.selector.source;
        if (t.kind === "dns") {
          count++;
          node.children.push({
            label: `dns://${t.host}:${t.port}`,
            kind: "dns",
            detail: `ordinary DNS server for names matching ${sel}`,
            children: [],
          });
          continue;
        }
        let key: string;
        try {
          key = t.kind === "djdns" ? `djdns:${t.pageId}` : pageKey(t.path);
        } catch (e) {
          count++;
          node.children.push({
            label: t.kind === "file" ? t.path : t.pageId,
            kind: "error",
            detail: (e as Error).message,
            children: [],
          });
          continue;
        }
        const found = src.pages.get(key);
        if (inner.has(key)) {
          count++;
          node.children.push({
            label: labelOf(key),
            kind: "cycle",
            detail: `back to ${key}`,
            children: [],
          });
        } else if (found === undefined) {
          count++;
          node.children.push({
            label: labelOf(key),
            kind: "missing",
            detail: t.kind === "djdns" ? `${key} is not held by this node` : `${key} is not loaded`,
            children: [],
          });
        } else if (found instanceof Error) {
          count++;
          node.children.push({
            label: labelOf(key),
            kind: "error",
            detail: found.message,
            children: [],
          });
        } else {
          node.children.push(visit(found, sel, inner, depth + 1));
        }
      }
    }
    return node;
  };
  return { root: visit(src.root, "", new Set(), 0), truncated };
}

function labelOf(key: string): string {
  return key.startsWith("djdns:") ? `djdns:${key.slice(6, 18)}…` : key;
}
