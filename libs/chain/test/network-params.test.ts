import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeKey } from "@timenet/node-key";
import { DEVNET, MAX_DEVNET_PRODUCER_INDEX, devnetKeyIndex, devnetProducerKey, hashHex, isDevnetName, loadNetwork } from "../src/index.js";

function writeSync(dir: string, doc: unknown): string {
  const path = join(dir, "upper.json");
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

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

test("the shipped testnet file is refused until its placeholders are replaced, by name and by path: one line saying what to do", () => {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    assert.throws(() => loadNetwork("testnet"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "ERR_NETWORK_PARAMS");
      assert.equal(
        err.message,
        `network file ${join(root, "deploy/networks/testnet.json")}: producers[0] is still a placeholder: ` +
          `create each producer's key with "timenetctl producer-key create --out <file>" on its host and paste the printed public keys here (deploy/README.md, "Producer keys")`,
      );
      return true;
    });
  } finally {
    process.chdir(cwd);
  }
  assert.throws(() => loadNetwork(join(root, "deploy/networks/testnet.json")), { code: "ERR_NETWORK_PARAMS", message: /testnet\.json: producers\[0\] is still a placeholder/ });
  // Three producers, and the genesis timestamp it has always had.
  const doc = JSON.parse(readFileSync(join(root, "deploy/networks/testnet.json"), "utf8")) as { producers: string[]; genesis_timestamp_ms: number };
  assert.deepEqual(doc.producers, [1, 2, 3].map((i) => `REPLACE-WITH-PRODUCER-${i}-PUBLIC-KEY`));
  assert.equal(doc.genesis_timestamp_ms, 1768435200000);
});

test("the shipped devnet-fast file: the devnet's genesis and keys, 500 ms blocks", () => {
  const fast = loadNetwork(join(root, "deploy/networks/devnet-fast.json"));
  assert.equal(fast.name, "devnet-fast");
  assert.equal(fast.blockIntervalMs, 500);
  assert.equal(hashHex(fast.genesisHash), hashHex(DEVNET.genesisHash));
  assert.deepEqual(fast.producers.map(hashHex), DEVNET.producers.map(hashHex));
  assert.equal(fast.maxReorgDepth, DEVNET.maxReorgDepth);
  assert.ok(fast.maxFutureDriftMs < fast.blockIntervalMs, "under one interval, as every network must be");
});

test("a network not named devnet or devnet-* may not list a key anyone can derive", async () => {
  const dir = await mkdtemp(join(tmpdir(), "chain-net-"));
  try {
    const write = async (file: string, doc: unknown) => {
      const path = join(dir, file);
      await writeFile(path, JSON.stringify(doc));
      return path;
    };
    const own = NodeKey.generate().nodeId;
    const doc = (name: string, producers: string[]) => ({ name, genesis_timestamp_ms: 1767225600001, producers });
    // The last index PRODUCER_DEVNET_INDEX allows, as well as the three the devnet uses.
    for (const index of [0, 2, MAX_DEVNET_PRODUCER_INDEX]) {
      const path = await write(`lab-${index}.json`, doc("lab", [own, devnetProducerKey(index).nodeId]));
      assert.throws(() => loadNetwork(path), (err: Error & { code?: string }) => {
        assert.equal(err.code, "ERR_NETWORK_PARAMS");
        assert.match(err.message, new RegExp(`^network file ${path.replace(/[.]/g, "\\.")}: field "producers\\[1\\]" is devnet producer key ${index}, whose private key anyone can derive`));
        assert.match(err.message, /timenetctl producer-key create --out <file>/);
        assert.ok(!err.message.includes("\n"), "one line");
        return true;
      });
    }
    // Upper case hex is the same key.
    assert.throws(() => loadNetwork(writeSync(dir, doc("lab", [devnetProducerKey(1).nodeId.toUpperCase()]))), { message: /is devnet producer key 1/ });
    assert.equal(devnetKeyIndex(devnetProducerKey(MAX_DEVNET_PRODUCER_INDEX + 1).nodeId), undefined);
    // A devnet may, by name: "devnet-*" files are public-key networks by definition.
    const local = loadNetwork(await write("devnet-local.json", doc("devnet-local", [devnetProducerKey(0).nodeId, devnetProducerKey(7).nodeId])));
    assert.equal(local.producers.length, 2);
    assert.equal(isDevnetName("devnet-local"), true);
    for (const name of ["devnetx", "testnet", "my-devnet", "devnet2"]) assert.equal(isDevnetName(name), false, name);
    // Its own keys: fine under any name.
    assert.equal(loadNetwork(await write("lab.json", doc("lab", [own]))).name, "lab");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a bad network file is a one-line error naming the file and the field", async () => {
  const dir = await mkdtemp(join(tmpdir(), "chain-net-"));
  const good = { name: "lab", genesis_timestamp_ms: 1767225600001, producers: [NodeKey.generate().nodeId], block_interval_ms: 3000 };
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
