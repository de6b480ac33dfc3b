import assert from "node:assert/strict";
import { djdnsTaskArgs, run } from "./helpers/djdns.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("deploy: the shipped configuration passes config check", async () => {
  const r = await run(Deno.execPath(), [
    ...await djdnsTaskArgs(),
    "config",
    "check",
    `${ROOT}deploy/djdns.toml`,
  ]);
  assert.equal(r.code, 0, r.stderr);
});

Deno.test({
  name: "deploy: systemd accepts the unit, and it keeps its hardening",
  // systemd-analyze comes with systemd, which every target of the unit has; CI installs it.
  ignore: !(await run("sh", ["-c", "command -v systemd-analyze"]).then((r) => r.code === 0)),
  fn: async () => {
    const unit = await Deno.readTextFile(`${ROOT}deploy/djdns.service`);
    for (
      const line of [
        "DynamicUser=yes",
        "StateDirectory=djdns",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
      ]
    ) assert.match(unit, new RegExp(`^${line}$`, "m"), line);
    const mem = /^MemoryMax=(\d+)M$/m.exec(unit);
    assert.ok(mem && Number(mem[1]) <= 512, "MemoryMax fits a small router");
    // Verify a copy whose binary exists (the real one is installed by the operator).
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/djdns.service`,
      unit.replace("ExecStart=/usr/local/bin/djdns", "ExecStart=/bin/true"),
    );
    const r = await run("systemd-analyze", ["verify", `${dir}/djdns.service`]);
    await Deno.remove(dir, { recursive: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", r.stderr);
  },
});
