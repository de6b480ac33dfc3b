/**
 * `deno task compile`: builds the single `djdns` executable with exactly the permission flags of
 * the `djdns` task (what the tests run), the V8 flags, and `--no-prompt`.
 *
 *   deno task compile [--target TRIPLE] [--output FILE] [--anchor FILE [--bundle FILE]]
 *
 * - `--target`: any target `deno compile` supports, e.g. x86_64-unknown-linux-gnu,
 *   aarch64-unknown-linux-gnu (default: this machine).
 * - `--anchor FILE`: the production root trust anchor to embed instead of the public testnet
 *   anchor (an anchor file, docs/PROTOCOL.md §10.1), with `--bundle FILE` its verified history
 *   (a JSON array of signed objects; default none). Both are verified before anything is built,
 *   and embedded through an import map that replaces `#root-anchor` and `#root-bundle`.
 *
 * `deno compile` downloads its runtime (`denort`) from Deno's servers; where they cannot be
 * reached, point `DENORT_BIN` at a local `denort` of the same Deno version and target.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { anchorLog } from "../lib/anchor/bundle.ts";
import { readAnchorFile } from "../lib/cli/anchor_file.ts";
import { checkObject, type SignedObject } from "../lib/page/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function fail(message: string): never {
  console.error(`compile: ${message}`);
  Deno.exit(1);
}

/** The `deno compile` arguments for the given options (exported for tests). */
export async function compileArgs(
  opts: { target?: string; output: string; importMap?: string },
): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = (config.tasks.djdns as string).split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts") {
    throw new Error("the djdns task must be 'deno run FLAGS… main.ts'");
  }
  const flags = words.slice(2, -1);
  return [
    "compile",
    ...flags,
    "--no-prompt",
    // Workers are not found by the module graph: the background check of stored records
    // (lib/node/store_check.ts) runs this one.
    "--include",
    `${ROOT}lib/store/record_scan_worker.ts`,
    ...(opts.importMap ? ["--import-map", opts.importMap] : []),
    ...(opts.target ? ["--target", opts.target] : []),
    "--output",
    opts.output,
    `${ROOT}main.ts`,
  ];
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        target: { type: "string" },
        output: { type: "string" },
        anchor: { type: "string" },
        bundle: { type: "string" },
      },
      strict: true,
    }));
  } catch (e) {
    fail((e as Error).message.split("\n")[0]);
  }
  if (values.bundle && !values.anchor) fail("--bundle needs --anchor");
  let importMap: string | undefined;
  if (values.anchor) {
    const anchor = await readAnchorFile(values.anchor).catch((e) => fail(e.message));
    let bundle: SignedObject[] = [];
    if (values.bundle) {
      try {
        const list = JSON.parse(await Deno.readTextFile(values.bundle));
        if (!Array.isArray(list)) throw new Error("a bundle is a JSON array of signed objects");
        bundle = list.map((o, i) => {
          try {
            return checkObject(o);
          } catch (e) {
            throw new Error(`object ${i}: ${(e as Error).message}`);
          }
        });
      } catch (e) {
        fail(`--bundle ${values.bundle}: ${(e as Error).message}`);
      }
    }
    try {
      const log = anchorLog(anchor, bundle);
      console.error(`compile: embedding root ${anchor.page}, head ${log.head()}`);
    } catch (e) {
      fail(`--anchor ${values.anchor}: ${(e as Error).message}`);
    }
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
    const imports = { ...config.imports };
    imports["#root-anchor"] = new URL(values.anchor, `file://${Deno.cwd()}/`).href;
    if (values.bundle) {
      imports["#root-bundle"] = new URL(values.bundle, `file://${Deno.cwd()}/`).href;
    } else {
      const empty = await Deno.makeTempFile({ suffix: ".json" });
      await Deno.writeTextFile(empty, "[]\n");
      imports["#root-bundle"] = `file://${empty}`;
    }
    importMap = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(importMap, JSON.stringify({ imports }));
  }
  const denort = Deno.env.get("DENORT_BIN");
  if (!denort) {
    fail(
      "deno compile needs its runtime (denort), which it downloads from Deno's servers; " +
        "set DENORT_BIN to a local denort binary of Deno " + Deno.version.deno +
        (values.target ? ` for ${values.target}` : "") + " where they cannot be reached",
    );
  }
  try {
    if (!Deno.statSync(denort).isFile) throw new Error("not a file");
  } catch (e) {
    fail(`DENORT_BIN=${denort}: ${(e as Error).message}`);
  }
  const output = values.output ?? `${ROOT}dist/djdns`;
  const args = await compileArgs({ target: values.target, output, importMap });
  const status = await new Deno.Command(Deno.execPath(), { args, env: { DENORT_BIN: denort } })
    .spawn().status;
  if (!status.success) Deno.exit(status.code || 1);
  console.error(`compile: wrote ${output}`);
}
