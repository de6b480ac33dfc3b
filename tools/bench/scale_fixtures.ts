/**
 * Fixtures of the scale and service benchmarks: a page of `n` names as a page file, and the same
 * names as a signed page in a data directory, built as a node stores it.
 *
 * @module
 */
import { sha256 } from "../../lib/crypto/mod.ts";
import { publicKeyOf } from "../../lib/crypto/mod.ts";
import {
  approve,
  canonicalize,
  createGenesis,
  type JsonObject,
  objectId,
  proposeEvent,
} from "../../lib/page/mod.ts";
import { openStore, type StoredObject, toStoredObject } from "../../lib/store/mod.ts";

/** The i-th name. */
export const host = (i: number) => `h${i}.example`;
/** The i-th name's address. */
export const ip = (i: number) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;

function branch(i: number): JsonObject {
  return {
    selector: `^${host(i).replaceAll(".", "\\.")}$`,
    targets: [],
    records: [{ domain_name: host(i), rtype: "A", rdata: ip(i), rttl: 3600 }],
  };
}

// The root page delegates `.example` to the page of names (a file or a signed page), as a root
// delegates a TLD: names under `.example` that the page lacks are the registry's (NXDOMAIN).
const rootPage = (target: string) =>
  JSON.stringify({ branches: [{ selector: "\\.example$", targets: [target] }] });

/** A page directory whose root delegates `.example` to a page file holding `n` names. */
export async function pageDir(n: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "djdns-scale-" });
  await Deno.writeTextFile(`${dir}/root.json`, rootPage("names.json"));
  const page = {
    meta: { about: `${n} names` },
    branches: Array.from({ length: n }, (_, i) => branch(i)),
  };
  await Deno.writeTextFile(`${dir}/names.json`, JSON.stringify(page));
  return dir;
}

/**
 * A data directory holding one signed page of `n` names, built as a node stores it: genesis, one
 * signed ADD_BRANCH event (with its approval) per name, head and materialized state; and a page
 * directory whose root delegates `.example` to that page.
 */
export async function signedDirs(n: number): Promise<{ pages: string; data: string }> {
  const data = await Deno.makeTempDir({ prefix: "djdns-scale-data-" });
  const secret = sha256(new TextEncoder().encode("djdns scale bench key"));
  const pub = publicKeyOf(secret).toHex();
  const g = createGenesis({ participants: { [pub]: { weight: 1 } }, nonce: `scale ${n}` });
  const pageId = objectId(g);
  const store = openStore(data);
  try {
    store.putBatch({ objects: [toStoredObject(g)], follow: [{ pageId, following: true }] });
    let parent = pageId;
    const branches: JsonObject[] = [];
    for (let start = 0; start < n; start += 1000) {
      const objects: StoredObject[] = [];
      for (let i = start; i < Math.min(n, start + 1000); i++) {
        const ev = proposeEvent(pageId, parent, "ADD_BRANCH", { branch: branch(i) });
        objects.push(toStoredObject(ev), toStoredObject(approve(secret, ev)));
        branches.push(branch(i));
        parent = objectId(ev);
      }
      const last = start + 1000 >= n;
      const state = last ? canonicalize({ ...g.state, branches }) : undefined;
      store.putBatch({
        objects,
        heads: state === undefined ? [] : [{
          pageId,
          headId: parent,
          state,
          stateHash: sha256(new TextEncoder().encode(state)).toHex(),
        }],
      });
    }
  } finally {
    store.close();
  }
  const pages = await Deno.makeTempDir({ prefix: "djdns-scale-root-" });
  await Deno.writeTextFile(`${pages}/root.json`, rootPage(`djdns:${pageId}`));
  return { pages, data };
}
