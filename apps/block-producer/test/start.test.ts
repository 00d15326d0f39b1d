// What a producer checks before it makes anything: its key, its configuration, the size of what it builds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { DEVNET, devnetProducerKey, hashHex, maxTxBytes, validateBlock } from "@timenet/chain";
import { NodeKey } from "@timenet/node-key";
import { ChainTipSchema } from "@timenet/proto";
import { tempDir } from "@timenet/testkit";
import { buildBlock, txBudget, txCost } from "../src/block-builder.js";
import { blockProducerEnvSchema, parseBlockProducerEnv } from "../src/config.js";
import { Mempool } from "../src/mempool.js";
import { resolveProducerIdentity } from "../src/producer-key.js";
import { startBlockProducer } from "../src/producer.js";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
/** Runs main.js with `env` (NATS never dialled: the key is refused first); asserts exit 1 with one fatal log line, and returns it. */
function mainFatalLine(env: Record<string, string>): { level: string; err: { code: string; message: string } } {
  const r = spawnSync(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, NATS_URL: "nats://127.0.0.1:1", LOG_PRETTY: "false", ...env },
    encoding: "utf8",
    timeout: 10_000,
  });
  assert.equal(r.status, 1);
  const lines = (r.stdout + r.stderr).trim().split("\n");
  assert.equal(lines.length, 1, lines.join("\n"));
  const line = JSON.parse(lines[0]!) as { level: string; err: { code: string; message: string } };
  assert.equal(line.level, "fatal");
  return line;
}
const genesisTip = () =>
  create(ChainTipSchema, { height: 0, hash: DEVNET.genesisHash, timestampMs: DEVNET.genesis.header!.timestampMs, genesisHash: DEVNET.genesisHash, header: DEVNET.genesis.header });

test("a devnet index or a key file gives the producer's key and its place in the round-robin", async () => {
  const id = await resolveProducerIdentity({ devnetIndex: 2 }, DEVNET);
  assert.equal(id.index, 2);
  assert.equal(hashHex(id.key.publicKey), hashHex(DEVNET.producers[2]!));
  assert.equal((await resolveProducerIdentity(devnetProducerKey(1), DEVNET)).index, 1);
  const dir = await tempDir("producer-key-");
  try {
    const file = join(dir.path, "producer.key");
    await NodeKey.loadOrCreate(file);
    await assert.rejects(resolveProducerIdentity({ file }, DEVNET), { code: "ERR_NOT_A_PRODUCER", message: /^producer key [0-9a-f]{64} \(.*producer\.key\) is not one of the 3 producers of network devnet$/ });
  } finally {
    await dir.remove();
  }
  await assert.rejects(resolveProducerIdentity({ devnetIndex: 3 }, DEVNET), { code: "ERR_NOT_A_PRODUCER" });
});

test("a public devnet key is refused on a network that is not a devnet, even one that lists it", async () => {
  // Parameters built in code can list devnet keys under any name (loadNetwork refuses such files).
  for (const name of ["testnet", "lab", "devnetx", "my-devnet"]) {
    await assert.rejects(resolveProducerIdentity({ devnetIndex: 0 }, { ...DEVNET, name }), (err: Error & { code?: string }) => {
      assert.equal(err.name, "ProducerError");
      assert.equal(err.code, "ERR_DEVNET_KEY");
      assert.match(err.message, new RegExp(`^devnet key 0 \\(PRODUCER_DEVNET_INDEX\\) is public, anyone can sign with it: refused on network ${name}, `));
      assert.match(err.message, /PRODUCER_KEY_FILE \(timenetctl producer-key create\)$/);
      return true;
    });
  }
  // Devnets: "devnet" and "devnet-*".
  assert.equal((await resolveProducerIdentity({ devnetIndex: 1 }, { ...DEVNET, name: "devnet-fast" })).index, 1);
  // The same key given as a key, or from a file, is checked only against the list (a file network cannot list it).
  assert.equal((await resolveProducerIdentity(devnetProducerKey(1), { ...DEVNET, name: "lab" })).index, 1);
});

test("main refuses PRODUCER_DEVNET_INDEX on a non-devnet network: one fatal line, exit 1", async () => {
  const dir = await tempDir("producer-devnet-key-");
  try {
    const network = join(dir.path, "lab.json");
    writeFileSync(network, JSON.stringify({ name: "lab", genesis_timestamp_ms: 1767225600001, producers: [NodeKey.generate().nodeId] }));
    const line = mainFatalLine({ NETWORK: network, PRODUCER_DEVNET_INDEX: "0" });
    assert.equal(line.err.code, "ERR_DEVNET_KEY");
    assert.match(line.err.message, /refused on network lab/);
  } finally {
    await dir.remove();
  }
});

test("startBlockProducer refuses a key that is not a producer before it opens anything", async () => {
  // The NATS URL is never dialled: the key check comes first.
  await assert.rejects(startBlockProducer({ natsUrl: "nats://127.0.0.1:1", network: DEVNET, key: NodeKey.generate(), logLevel: "silent" }), {
    name: "ProducerError",
    code: "ERR_NOT_A_PRODUCER",
  });
});

test("a block filled from a full mempool stays within the network's limits and is valid on its parent", () => {
  const small = { ...DEVNET, maxBlockBytes: 4_096, maxTxs: 1_000 };
  const m = new Mempool({ maxTxs: 1_000, maxBytes: 1 << 20, maxTxBytes: maxTxBytes(small) });
  for (let i = 0; i < 300; i++) m.add(Uint8Array.from({ length: 20 + (i % 7) * 30 }, (_, j) => (j < 2 ? i >> j * 8 : 1)));
  assert.equal(m.add(new Uint8Array(maxTxBytes(small) + 1)), "too_large");
  const txs = m.select(small.maxTxs, txBudget(small), txCost);
  assert.ok(txs.length > 10);
  const now = Number(DEVNET.genesis.header!.timestampMs) + 60_000;
  const block = buildBlock(genesisTip(), txs, devnetProducerKey(1), small, now);
  assert.deepEqual(validateBlock(block, DEVNET.genesis.header, small, now).ok, true);
  assert.equal(block.header!.height, 1);
  assert.equal(block.header!.timestampMs, BigInt(now));
  // One byte more than the budget left would not have fitted.
  const one = [new Uint8Array(maxTxBytes(small))];
  assert.equal(validateBlock(buildBlock(genesisTip(), one, devnetProducerKey(1), small, now), DEVNET.genesis.header, small, now).ok, true);
});

test("a block's timestamp is never before its parent's, whatever the clock says", () => {
  const tip = genesisTip();
  const block = buildBlock(tip, [], devnetProducerKey(1), DEVNET, Number(tip.timestampMs) - 10_000);
  assert.equal(block.header!.timestampMs, tip.timestampMs);
});

test("configuration: defaults, and a bad variable stops main with one line and exit 2", () => {
  const c = parseBlockProducerEnv({});
  assert.equal(c.GRPC_PORT, 50055);
  assert.equal(c.METRICS_PORT, 9105);
  assert.equal(c.BLOCK_STORE_GRPC, "127.0.0.1:50054");
  assert.equal(c.MEMPOOL_MAX_TXS, 10_000);
  assert.equal(c.MEMPOOL_MAX_BYTES, 64 * 1024 * 1024);
  assert.equal("BLOCK_INTERVAL" in c, false, "the block interval is a rule of the network, not a setting");
  assert.equal(c.PRODUCER_DEVNET_INDEX, undefined);
  assert.ok(Object.keys(blockProducerEnvSchema).includes("PRODUCER_KEY_FILE"));
  for (const [name, value, expected] of [
    ["MEMPOOL_MAX_TXS", "lots", /^invalid configuration: MEMPOOL_MAX_TXS="lots": expected an integer/],
    ["PRODUCER_DEVNET_INDEX", "-1", /^invalid configuration: PRODUCER_DEVNET_INDEX="-1": expected an integer from 0/],
  ] as const) {
    const r = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, [name]: value }, encoding: "utf8" });
    assert.equal(r.status, 2, name);
    assert.match(r.stderr.trim(), expected);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
});

test("main refuses a key that is not a producer: one line naming it, exit 1", async () => {
  const dir = await tempDir("producer-main-");
  try {
    const line = mainFatalLine({ PRODUCER_KEY_FILE: join(dir.path, "producer.key") });
    assert.equal(line.err.code, "ERR_NOT_A_PRODUCER");
    assert.match(line.err.message, /is not one of the 3 producers of network devnet/);
  } finally {
    await dir.remove();
  }
});

test("the README's configuration table lists every variable the producer reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(blockProducerEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});
