/**
 * DEJE serialization: the published vectors, Go-compatible escaping, key order and numbers, and
 * the shape checks of event and document input.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  DejeError,
  hashDocument,
  hashEvent,
  hashValue,
  type JsonValue,
  MAX_DEPTH,
  MAX_EVENTS,
  MAX_TIMESTAMPS,
  parseDocument,
  parseEvent,
  parseJsonText,
  serializeDocument,
  serializeEvent,
  serializeValue,
} from "../lib/deje/mod.ts";

const FIXTURES = new URL("./fixtures/deje/", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, FIXTURES));
const sha1 = (s: string) => createHash("sha1").update(s, "utf8").digest("hex");

const VECTORS = [
  "abcd/event",
  "dns_roaming_initiative/event",
  "dns_roaming_initiative/document",
];

Deno.test("deje serialize: published vectors, every format, byte for byte", () => {
  let checked = 0;
  for (const dir of VECTORS) {
    const input = parseJsonText(read(`${dir}/input`));
    for (const format of ["compact", "pretty4", "hash"] as const) {
      const expected = read(`${dir}/expected/${format}`);
      let produced: string;
      if (dir.endsWith("/event")) {
        const ev = parseEvent(input);
        produced = format === "hash" ? hashEvent(ev) : serializeEvent(ev, format);
      } else {
        const doc = parseDocument(input);
        produced = format === "hash" ? hashDocument(doc) : serializeDocument(doc, format);
      }
      assert.equal(produced, expected, `${dir} ${format}`);
      assert.ok(!produced.endsWith("\n"), `${dir} ${format}: no trailing newline`);
      checked++;
    }
  }
  assert.equal(checked, 9);
});

Deno.test("deje serialize: the abcd event of the reference digest", () => {
  const ev = parseEvent({
    parent: "",
    handler: "SET",
    args: { value: { c: "d", a: "b" }, path: [] },
  });
  const compact = '{"parent":"","handler":"SET","args":{"path":[],"value":{"a":"b","c":"d"}}}';
  assert.equal(serializeEvent(ev, "compact"), compact);
  assert.equal(hashEvent(ev), "d931572e60641c10837a812f856ca189964a8478");
  assert.equal(sha1(compact), "d931572e60641c10837a812f856ca189964a8478");
});

Deno.test("deje serialize: strings are escaped as go-deje's Go encoding/json did", () => {
  const cases: [string, string][] = [
    ["plain", '"plain"'],
    ['q"b\\', '"q\\"b\\\\"'],
    ["\n\r\t", '"\\n\\r\\t"'],
    ["\b\f\u0000\u001f", '"\\u0008\\u000c\\u0000\\u001f"'],
    ["<a href='x'>&amp;</a>", "\"\\u003ca href='x'\\u003e\\u0026amp;\\u003c/a\\u003e\""],
    ["\u2028\u2029", '"\\u2028\\u2029"'],
    ["\u007f é 日本 😀 /", '"\u007f é 日本 😀 /"'],
  ];
  for (const [input, expected] of cases) {
    assert.equal(serializeValue(input, "compact"), expected, JSON.stringify(input));
    // Whatever the escapes, the output is still JSON for the same string.
    assert.equal(JSON.parse(expected), input);
  }
  // Keys are escaped the same way.
  assert.equal(serializeValue({ "<k>": 1 }, "compact"), '{"\\u003ck\\u003e":1}');
});

Deno.test("deje serialize: keys sort by UTF-8 bytes, not UTF-16 units", () => {
  // U+FFFF is EF BF BF in UTF-8, U+1F600 is F0 9F 98 80: U+FFFF first (JS sort says otherwise).
  const value = { "\u{1F600}": 2, "\uffff": 1, b: 0, ab: 0, a: 0, B: 0, "": 0 };
  assert.equal(
    serializeValue(value, "compact"),
    '{"":0,"B":0,"a":0,"ab":0,"b":0,"\uffff":1,"\u{1F600}":2}',
  );
  assert.deepEqual(Object.keys(value).sort(), ["", "B", "a", "ab", "b", "\u{1F600}", "\uffff"]);
});

Deno.test("deje serialize: numbers print as Go (1.8+) and ECMAScript print float64", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [-0, "-0"],
    [9292, "9292"],
    [1.5, "1.5"],
    [-2.25, "-2.25"],
    [1e20, "100000000000000000000"],
    [1e21, "1e+21"],
    [0.000001, "0.000001"],
    [1e-7, "1e-7"],
    [1.2345e-7, "1.2345e-7"],
    [2 ** 53 + 2, "9007199254740994"],
    [0.1 + 0.2, "0.30000000000000004"],
  ];
  for (const [n, s] of cases) assert.equal(serializeValue(n, "compact"), s, String(n));
  assert.equal(serializeValue(parseJsonText("-0"), "compact"), "-0");
});

Deno.test("deje serialize: pretty4 layout, empty containers, nested arrays", () => {
  const value: JsonValue = { b: [], a: {}, c: [1, [2, {}], { y: null, x: true }] };
  assert.equal(
    serializeValue(value, "pretty4"),
    [
      "{",
      '    "a": {},',
      '    "b": [],',
      '    "c": [',
      "        1,",
      "        [",
      "            2,",
      "            {}",
      "        ],",
      "        {",
      '            "x": true,',
      '            "y": null',
      "        }",
      "    ]",
      "}",
    ].join("\n"),
  );
  assert.equal(serializeValue([], "pretty4"), "[]");
  assert.equal(serializeValue("x", "pretty4"), '"x"');
});

Deno.test("deje serialize: events keep parent, handler, args order; missing fields are zero", () => {
  const ev = parseEvent({ args: { z: 1, a: 2 }, handler: "DELETE", parent: "p", extra: "dropped" });
  assert.equal(
    serializeEvent(ev, "compact"),
    '{"parent":"p","handler":"DELETE","args":{"a":2,"z":1}}',
  );
  assert.equal(serializeEvent(parseEvent({}), "compact"), '{"parent":"","handler":"","args":null}');
  assert.equal(
    serializeEvent(parseEvent({ parent: null, handler: "SET", args: null }), "pretty4"),
    '{\n    "parent": "",\n    "handler": "SET",\n    "args": null\n}',
  );
});

Deno.test("deje serialize: documents re-key events by id and drop unknown keys", () => {
  const root = { parent: "", handler: "SET", args: { path: [], value: 1 } };
  const rootId = hashEvent(parseEvent(root));
  const child = { parent: rootId, handler: "SET", args: { path: [], value: 2 } };
  const childId = hashEvent(parseEvent(child));
  const doc = parseDocument({
    topic: "deje://x/",
    quorums: {},
    timestamps: ["unknown", rootId],
    events: { "wrong-key": child, zzz: root, dup: root },
  });
  assert.deepEqual([...doc.events.keys()].sort(), [rootId, childId].sort());
  const [first, second] = [rootId, childId].sort();
  const events = `{"${first}":${serializeEvent(doc.events.get(first)!, "compact")},"${second}":${
    serializeEvent(doc.events.get(second)!, "compact")
  }}`;
  const compact = `{"events":${events},"timestamps":["unknown","${rootId}"]}`;
  assert.equal(serializeDocument(doc, "compact"), compact);
  assert.equal(hashDocument(doc), sha1(compact));
  assert.equal(serializeDocument(parseDocument({}), "compact"), '{"events":{},"timestamps":[]}');
  assert.equal(
    serializeDocument(parseDocument({ events: null, timestamps: null }), "pretty4"),
    '{\n    "events": {},\n    "timestamps": []\n}',
  );
});

Deno.test("deje serialize: hashValue is SHA-1 of the compact, fully sorted form", () => {
  assert.equal(hashValue({}), "bf21a9e8fbc5a3846fb05b4fa0859e0917b2202f");
  assert.equal(hashValue({ b: 1, a: [true, null] }), sha1('{"a":[true,null],"b":1}'));
});

function rejects(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DejeError, `expected DejeError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one-line message");
    return true;
  });
}

Deno.test("deje input: bad events are refused with clear errors", () => {
  rejects(() => parseEvent([]), /event: must be a JSON object/);
  rejects(() => parseEvent("SET"), /event: must be a JSON object/);
  rejects(() => parseEvent(null), /event: must be a JSON object/);
  rejects(() => parseEvent({ parent: 5 }), /'parent' must be a string/);
  rejects(() => parseEvent({ handler: true }), /'handler' must be a string/);
  rejects(() => parseEvent({ args: [] }), /'args' must be an object/);
  rejects(() => parseEvent({ args: "x" }), /'args' must be an object/);
  rejects(() => parseEvent({ args: { v: NaN } }), /not finite/);
  rejects(() => parseEvent({ args: { v: undefined } }), /undefined is not a JSON value/);
  rejects(() => parseEvent({ args: { v: new Date() } }), /not a plain JSON object/);
});

Deno.test("deje input: bad documents are refused with clear errors", () => {
  rejects(() => parseDocument([]), /document: must be a JSON object/);
  rejects(() => parseDocument({ events: [] }), /'events' must be an object/);
  rejects(() => parseDocument({ events: { a: 1 } }), /event 'a': must be a JSON object/);
  rejects(() => parseDocument({ events: { a: { parent: 1 } } }), /event 'a': 'parent'/);
  rejects(() => parseDocument({ timestamps: "abc" }), /'timestamps' must be an array/);
  rejects(() => parseDocument({ timestamps: ["a", 2] }), /timestamps\[1\] must be a string/);
  const many: Record<string, unknown> = {};
  for (let i = 0; i <= MAX_EVENTS; i++) many[i] = {};
  rejects(() => parseDocument({ events: many }), /more than 100000 events/);
  const ts = new Array(MAX_TIMESTAMPS + 1).fill("x");
  rejects(() => parseDocument({ timestamps: ts }), /more than 100000 timestamps/);
});

Deno.test("deje input: JSON text is bounded and must be valid", () => {
  rejects(() => parseJsonText(""), /^invalid JSON: /);
  rejects(() => parseJsonText("{"), /^invalid JSON: /);
  rejects(() => parseJsonText('{"a":1,}'), /^invalid JSON: /);
  rejects(() => parseJsonText('"\\ud800"'), /lone UTF-16 surrogate/);
  rejects(() => parseJsonText('{"\\udc00":1}'), /lone UTF-16 surrogate/);
  rejects(() => parseJsonText("[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1)), /nested/);
  assert.doesNotThrow(() => parseJsonText("[".repeat(MAX_DEPTH) + "]".repeat(MAX_DEPTH)));
  rejects(() => parseJsonText(" ".repeat(16 * 1024 * 1024 + 1)), /larger than/);
  // Well-formed surrogate pairs are fine.
  assert.equal(parseJsonText('"\\ud83d\\ude00"'), "😀");
});

Deno.test("deje input: __proto__ keys are data, not prototypes", () => {
  const ev = parseEvent(parseJsonText('{"args":{"__proto__":{"x":1},"a":2}}'));
  assert.equal(
    serializeEvent(ev, "compact"),
    '{"parent":"","handler":"","args":{"__proto__":{"x":1},"a":2}}',
  );
  assert.equal(({} as Record<string, unknown>).x, undefined);
});
