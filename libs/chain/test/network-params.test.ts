import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEVNET, devnetProducerKey, hashHex, loadNetwork } from "../src/index.js";

// dist/test/ -> the workspace root, where deploy/networks/ lives.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

test("devnet is built in: limits, and producers derived from their public seeds", () => {
  assert.equal(loadNetwork("devnet"), DEVNET);
  assert.equal(DEVNET.blockIntervalMs, 5000);
  assert.equal(DEVNET.maxBlockBytes, 1024 * 1024);
  assert.equal(DEVNET.maxTxs, 10_000);
  assert.equal(DEVNET.maxFutureDriftMs, 2_000);
  assert.equal(DEVNET.maxReorgDepth, 100);
  assert.equal(devnetProducerKey(1).nodeId, hashHex(DEVNET.producers[1]!));
});

test("the shipped testnet file loads by name from the workspace root and by path", () => {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const testnet = loadNetwork("testnet");
    assert.equal(testnet.name, "testnet");
    assert.deepEqual(testnet.producers.map(hashHex), DEVNET.producers.map(hashHex));
    assert.equal(testnet.blockIntervalMs, 5000);
    assert.equal(testnet.maxTxs, DEVNET.maxTxs);
    assert.equal(testnet.genesis.header!.timestampMs, 1768435200000n);
    // Its own genesis: a devnet node refuses testnet peers at the handshake.
    assert.notEqual(hashHex(testnet.genesisHash), hashHex(DEVNET.genesisHash));
  } finally {
    process.chdir(cwd);
  }
  assert.equal(loadNetwork(join(root, "deploy/networks/testnet.json")).name, "testnet");
});

test("a bad network file is a one-line error naming the file and the field", async () => {
  const dir = await mkdtemp(join(tmpdir(), "chain-net-"));
  const good = { name: "lab", genesis_timestamp_ms: 1767225600001, producers: [hashHex(DEVNET.producers[0]!)], block_interval_ms: 3000 };
  const attempt = async (doc: unknown): Promise<void> => {
    const path = join(dir, "lab.json");
    await writeFile(path, typeof doc === "string" ? doc : JSON.stringify(doc));
    loadNetwork(path);
  };
  const cases: [unknown, RegExp][] = [
    [{ ...good, producers: ["abc"] }, /lab\.json: field "producers\[0\]" must be 64 hex digits/],
    [{ ...good, producers: [] }, /field "producers" must be a non-empty array/],
    [{ ...good, genesis_timestamp_ms: "soon" }, /field "genesis_timestamp_ms" must be a non-negative integer/],
    [{ ...good, block_interval_ms: 0 }, /field "block_interval_ms" must be a positive integer/],
    [{ ...good, block_intervall_ms: 5 }, /unknown field "block_intervall_ms"/],
    [{ ...good, max_future_drift_ms: 3000 }, /"max_future_drift_ms" \(3000\) must be less than "block_interval_ms" \(3000\)/],
    [{ name: "lab", producers: good.producers }, /field "genesis_timestamp_ms" is missing/],
    ["{ not json", /lab\.json: not JSON/],
  ];
  try {
    await attempt(good);
    const lab = loadNetwork(join(dir, "lab.json"));
    assert.equal(lab.blockIntervalMs, 3000);
    assert.equal(lab.maxFutureDriftMs, DEVNET.maxFutureDriftMs);
    assert.notEqual(hashHex(lab.genesisHash), hashHex(DEVNET.genesisHash));
    for (const [doc, message] of cases) {
      await assert.rejects(attempt(doc), (err: Error & { code?: string }) => {
        assert.equal(err.code, "ERR_NETWORK_PARAMS");
        assert.match(err.message, message);
        assert.ok(!err.message.includes("\n"), "one line");
        return true;
      });
    }
    assert.throws(() => loadNetwork(join(dir, "missing.json")), { code: "ERR_NETWORK_PARAMS", message: /missing\.json: not found/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
