/**
 * The import graph of `lib/` follows the data flow (DESIGN §2): pure layers import only the
 * layers below them and no I/O, nothing imports the CLI, and the branch format is all that signed
 * pages take from the registry. A back-arrow added anywhere fails here with the file and the
 * import at fault.
 */
import assert from "node:assert/strict";
import * as path from "node:path";

const LIB = new URL("../lib", import.meta.url).pathname;

/**
 * Which other `lib/` modules each module may import (`module` or `module/file.ts`). Modules not
 * listed (new ones, `cli`) may import any module except `cli`; when one of them becomes a layer
 * others build on, give it a line here.
 */
const ALLOWED: Record<string, readonly string[]> = {
  dns: [],
  cache: [],
  crypto: [],
  deje: [],
  registry: ["dns"],
  // A signed page's state holds a branch table: the format, never the resolver or its sources.
  page: [
    "crypto",
    "registry/branches.ts",
    "registry/rdata.ts",
    "registry/names.ts",
    "registry/selector.ts",
  ],
  anchor: ["page"],
  forwarder: ["dns"],
  store: ["page", "crypto"],
  sources: ["registry", "page", "store", "dns", "anchor"],
  server: ["dns", "cache", "registry"],
  // Replication decisions are pure: they run in the simulator without sockets or clocks.
  sync: ["crypto", "page"],
  net: ["crypto", "page", "sync"],
  zone: ["registry"],
  // The operator's views read the node's parts; nothing below reads them.
  metrics: ["server"],
  status: ["metrics", "node", "registry", "sources"],
  config: [],
};

/** Pure layers: no sockets, files, processes or clocks (time comes in as a function). */
const PURE = ["dns", "cache", "crypto", "deje", "registry", "page", "sync", "zone"];
const IO = [
  /\bDeno\.(?!errors\b)/,
  /\bDate\.now\(/,
  /\bperformance\.now\(/,
  /from "node:(fs|fs\/promises|net|dgram|http|https|http2|tls|child_process|os|path|process)"/,
];

interface Import {
  file: string; // relative to lib/
  line: number;
  specifier: string;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = path.join(dir, e.name);
    if (e.isDirectory) yield* walk(p);
    else if (e.isFile && p.endsWith(".ts")) yield p;
  }
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;

async function importsOf(file: string): Promise<{ imports: Import[]; text: string }> {
  const text = await Deno.readTextFile(file);
  const imports: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = m[1] ?? m[2] ?? m[3];
    const line = text.slice(0, m.index).split("\n").length;
    imports.push({ file: path.relative(LIB, file), line, specifier });
  }
  return { imports, text };
}

// Comments and strings may mention anything; code is what counts for the I/O rule.
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

const files: { file: string; imports: Import[]; text: string }[] = [];
for await (const f of walk(LIB)) files.push({ file: f, ...(await importsOf(f)) });

Deno.test("layers: the import scanner sees the imports it must judge", () => {
  const responder = files.find((f) => f.file.endsWith("server/responder.ts"))!;
  const specs = responder.imports.map((i) => i.specifier);
  assert.ok(specs.includes("../dns/wire.ts"), specs.join(", "));
  assert.ok(specs.includes("dns-packet"));
  const cli = files.find((f) => f.file.endsWith("cli/mod.ts"))!;
  assert.ok(cli.imports.some((i) => i.specifier === "./page.ts"), "dynamic imports are seen");
  assert.ok(files.length > 50);
});

/**
 * Why `file` (relative to lib/) may not import `specifier`, or null when it may. Only relative
 * imports are judged: npm:, node: and bare specifiers fall under the I/O rule below.
 */
function problem(file: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const from = file.split("/")[0];
  const target = path.relative(LIB, path.resolve(LIB, path.dirname(file), specifier))
    .split(path.sep).join("/");
  if (target.startsWith("..")) return "outside lib/";
  const to = target.split("/")[0];
  if (to === from) return null;
  if (to === "cli") return "only the CLI imports the CLI";
  const allowed = ALLOWED[from];
  if (allowed === undefined || allowed.some((a) => a === to || a === target)) return null;
  return `lib/${from} may import only ${allowed.join(", ") || "itself"}`;
}

Deno.test("layers: lib/ imports point down the data flow", () => {
  const problems: string[] = [];
  for (const { imports } of files) {
    for (const imp of imports) {
      const file = imp.file.split(path.sep).join("/");
      const why = problem(file, imp.specifier);
      if (why) problems.push(`lib/${file}:${imp.line} imports ${imp.specifier}: ${why}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("layers: pure layers do no I/O and read no clock", () => {
  const problems: string[] = [];
  for (const { file, text } of files) {
    const module = path.relative(LIB, file).split(path.sep)[0];
    if (!PURE.includes(module)) continue;
    const body = code(text);
    for (const pattern of IO) {
      const m = pattern.exec(body);
      if (m) problems.push(`lib/${path.relative(LIB, file)}: ${m[0]}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("layers: the rules catch a back-arrow", () => {
  const refused = [
    ["dns/message.ts", "../registry/resolver.ts"],
    ["registry/resolver.ts", "../page/mod.ts"],
    ["registry/resolver.ts", "../server/responder.ts"],
    ["registry/resolver.ts", "../sources/files.ts"],
    ["page/state.ts", "../registry/resolver.ts"],
    ["page/state.ts", "../store/mod.ts"],
    ["dns/wire.ts", "../net/node.ts"],
    ["forwarder/forwarder.ts", "../server/responder.ts"],
    ["server/responder.ts", "../cli/registry.ts"],
    ["net/node.ts", "../cli/run.ts"],
    ["dns/wire.ts", "../../tests/helpers/raw_dns.ts"],
  ];
  for (const [file, spec] of refused) {
    assert.notEqual(problem(file, spec), null, `${file} → ${spec}`);
  }
  const accepted = [
    ["page/state.ts", "../registry/branches.ts"],
    ["sources/signed.ts", "../page/mod.ts"],
    ["registry/resolver.ts", "../dns/message.ts"],
    ["registry/resolver.ts", "./branches.ts"],
    ["cli/run.ts", "../server/udp.ts"],
    ["dns/question.ts", "dns-packet"],
  ];
  for (const [file, spec] of accepted) assert.equal(problem(file, spec), null, `${file} → ${spec}`);
});
