// A FIFO created inside the --pages directory (an outside reviewer's attack): it blocked the
// file watcher's thread, closing the watcher on SIGTERM then blocked the JS thread and the
// process never exited. Now it exits cleanly on SIGTERM.
import assert from "node:assert/strict";
import { fixtureRegistry, startDjdns } from "./helpers/djdns.ts";

const hasMkfifo = (() => {
  try {
    return new Deno.Command("mkfifo", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "attack pages: a FIFO in the pages directory does not stop SIGTERM from ending djdns",
  ignore: !hasMkfifo,
  fn: async () => {
    const pages = await fixtureRegistry();
    const s = await startDjdns(["--pages", pages, "--no-upstream"]);
    try {
      const made = await new Deno.Command("mkfifo", { args: [`${pages}/x`] }).output();
      assert.ok(made.success, "mkfifo failed");
      // Past the watcher's debounce, so the reload it triggers has run into the FIFO.
      await new Promise((r) => setTimeout(r, 1500));
      const t = performance.now();
      const timer = setTimeout(() => {
        try {
          s.process.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
      const st = await s.stop();
      clearTimeout(timer);
      const took = performance.now() - t;
      assert.equal(st.code, 0, `exit ${st.code} after ${Math.round(took)} ms\n${s.log()}`);
      assert.ok(took < 6000, `stopping took ${Math.round(took)} ms\n${s.log()}`);
    } finally {
      await s.stop("SIGKILL");
      await Deno.remove(pages, { recursive: true });
    }
  },
});
