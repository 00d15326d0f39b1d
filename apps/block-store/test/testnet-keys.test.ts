// A node of a real network (its own producer keys in a network file) refuses
// a block signed with a derivable devnet key, on the store's real gRPC API.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { blockHash, devnetProducerKey, loadNetwork, signBlock, type NetworkParams } from "@timenet/chain";
import { NodeKey } from "@timenet/node-key";
import { BlockInvalidReason, PutResult } from "@timenet/proto";
import { tempDir } from "@timenet/testkit";
import { startTestStore, type TestStore } from "./harness.js";

const keys = [NodeKey.generate(), NodeKey.generate(), NodeKey.generate()];
let network: NetworkParams;
let s: TestStore;
let dir: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  dir = await tempDir("testnet-keys-");
  const file = join(dir.path, "testnet.json");
  writeFileSync(file, JSON.stringify({ name: "testnet", genesis_timestamp_ms: 1768435200000, producers: keys.map((k) => Buffer.from(k.publicKey).toString("hex")), block_interval_ms: 5000 }));
  network = loadNetwork(file);
  s = await startTestStore({ network });
});
after(async () => {
  await s?.stop();
  await dir?.remove();
});

test("a testnet node refuses a block signed with a derived devnet key (UNKNOWN_PRODUCER) and takes its own producer's", async () => {
  const genesis = network.genesis.header!;
  const at = { height: 1, prevHash: blockHash(genesis), timestampMs: genesis.timestampMs + 5000n, txs: [Buffer.from("tx")] };
  for (let i = 0; i < 3; i++) {
    const res = await s.client.putBlocks({ blocks: [signBlock(at, devnetProducerKey(i))] });
    assert.equal(res.result, PutResult.INVALID, `devnet key ${i}: ${res.detail}`);
    assert.equal(res.invalidReason, BlockInvalidReason.UNKNOWN_PRODUCER);
  }
  // Height 1 is the second producer's turn.
  const res = await s.client.putBlocks({ blocks: [signBlock(at, keys[1]!)] });
  assert.equal(res.result, PutResult.APPLIED, res.detail);
  assert.equal(await s.metric("timenet_store_validation_failures_total", { reason: "unknown_producer" }), 3);
});
