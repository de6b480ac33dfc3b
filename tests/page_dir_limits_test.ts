import assert from "node:assert/strict";
import { loadPageDir, MAX_PAGE_FILES, MAX_REPORTED_ERRORS } from "../lib/sources/mod.ts";

Deno.test("page directory: names of missing pages in a page cannot grow memory past the file limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "djdns-pagedir-" });
  try {
    // 2,000 branches × 16 distinct missing targets: 32,000 names, none of them a file.
    const branches = Array.from({ length: 2000 }, (_, i) => ({
      selector: `^n${i}\\.test$`,
      records: [],
      targets: Array.from({ length: 16 }, (_, j) => `missing/${i}-${j}.json`),
    }));
    await Deno.writeTextFile(`${dir}/root.json`, JSON.stringify({ branches }));
    const snap = await loadPageDir(dir);
    assert.ok(snap.pages.size <= MAX_PAGE_FILES + 1, `${snap.pages.size} entries`);
    assert.ok(snap.errors.length <= MAX_REPORTED_ERRORS + 2, `${snap.errors.length} errors`);
    assert.match(snap.errors.at(-1)!, /more page errors not listed/);
    assert.ok(
      snap.errors.some((e) => /more than 10000 page files; the rest are not loaded/.test(e)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
