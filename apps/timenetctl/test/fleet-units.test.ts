import { test } from "node:test";
import assert from "node:assert/strict";
import { CliError } from "../src/cli-error.js";
import { parseFleet } from "../src/fleet-file.js";
import { groupByValue } from "../src/fleet-drift.js";
import { sampleHeights } from "../src/fork-check.js";
import { formatMatrix } from "../src/format-matrix.js";
import { formatValueDrift } from "../src/format-fleet.js";
import { parseNode } from "../src/registry-target.js";

const ESC = "\u001b";
const NOW = Date.parse("2025-01-01T12:00:00.000Z");

test("sampleHeights: the common height and evenly spaced ones below it, at most 5, down to 1", () => {
  assert.deepEqual(sampleHeights(100), [100, 75, 50, 25, 1]);
  assert.deepEqual(sampleHeights(3), [3, 2, 1]);
  assert.deepEqual(sampleHeights(1), [1]);
  assert.deepEqual(sampleHeights(0), [0]);
});

test("parseFleet reads names, addresses, optional ports and p2p_ip; problems are one-line usage errors", () => {
  const hosts = parseFleet(
    '[{"name":"host-1","address":"203.0.113.11"},{"name":"h2","address":"10.8.0.2","gateway_port":6000,"store_port":6001,"p2p_ip":"::ffff:198.51.100.2"}]',
    "f.json",
  );
  assert.deepEqual(
    hosts.map((h) => [h.name, h.node.host, h.gatewayPort, h.storePort, h.p2pIp]),
    [
      ["host-1", "203.0.113.11", undefined, undefined, undefined],
      ["h2", "10.8.0.2", 6000, 6001, "198.51.100.2"],
    ],
  );
  const bad: Array<[string, RegExp]> = [
    ["{", /^bad fleet file f\.json: /],
    ["[]", /non-empty JSON array/],
    ['[{"address":"1.2.3.4"}]', /host 1 has no "name"/],
    ['[{"name":"a"}]', /host 1 \(a\) has no "address"/],
    ['[{"name":"a","address":"1.2.3"}]', /bad address of a in f\.json "1\.2\.3"/],
    ['[{"name":"a","address":"1.2.3.4","store_port":0}]', /"store_port" must be a port/],
    ['[{"name":"a","address":"10.8.0.1","p2p_ip":"host-a"}]', /"p2p_ip" must be an IPv4 or IPv6 address/],
    ['[{"name":"a","address":"1.2.3.4"},{"name":"a","address":"1.2.3.5"}]', /"a" appears twice/],
  ];
  for (const [text, pattern] of bad) {
    assert.throws(() => parseFleet(text, "f.json"), (err: CliError) => err instanceof CliError && err.exitCode === 2 && pattern.test(err.message) && !err.message.includes("\n"), text);
  }
});

test("parseNode: the host (IPv6 bracketed) and the port only when one is named", () => {
  assert.deepEqual(parseNode("10.0.0.1"), { host: "10.0.0.1", port: undefined });
  assert.deepEqual(parseNode("10.0.0.1:7"), { host: "10.0.0.1", port: 7 });
  assert.deepEqual(parseNode("::1"), { host: "[::1]", port: undefined });
  assert.deepEqual(parseNode("[::1]:9"), { host: "[::1]", port: 9 });
  assert.deepEqual(parseNode("node-1.example"), { host: "node-1.example", port: undefined });
});

test("the matrix: arrows with age and RTT, -- on the diagonal, MISSING red only with colour", () => {
  const cells = [
    [{ state: "self" as const }, { state: "outbound" as const, connectedSinceMs: BigInt(NOW - 90_000), rttMs: 1.25, connId: 1 }],
    [{ state: "missing" as const }, { state: "self" as const }],
  ];
  const plain = formatMatrix(["h1", "h2"], cells, NOW, false);
  assert.equal(plain.split("\n").slice(0, 3).join("\n"), ["    h1       h2", "h1  --       → 1m 30s 1.3ms", "h2  MISSING  --"].join("\n"));
  const red = formatMatrix(["h1", "h2"], cells, NOW, true);
  assert.ok(red.includes(`\nh2  ${ESC}[31mMISSING${ESC}[0m  --\n`), red);
});

test("value drift names the hosts outside the most common value", () => {
  const values = groupByValue([
    ["h1", "v1"],
    ["h2", "v2"],
    ["h3", "v1"],
  ]);
  assert.deepEqual(values, [
    { value: "v1", hosts: ["h1", "h3"] },
    { value: "v2", hosts: ["h2"] },
  ]);
  assert.equal(formatValueDrift({ field: "software", values, differing: ["h2"] }), "software: 2 distinct values: h2 differs (v1 on h1, h3; v2 on h2)");
});
