// Start-up: genesis written to an empty store, a foreign genesis refused with
// one line; the configuration and main.js's exits.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEVNET, hashHex, loadNetwork } from "@timenet/chain";
import { createRegistry } from "@timenet/telemetry";
import { tempDir } from "@timenet/testkit";
import { BlockStore, BlockStoreError } from "../src/block-store.js";
import { StoreMetrics } from "../src/metrics.js";
import { blockStoreEnvSchema, parseBlockStoreEnv } from "../src/config.js";
import type { NetworkParams } from "@timenet/chain";
import { testLogger } from "./harness.js";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

const deps = (network: NetworkParams) => ({ network, metrics: new StoreMetrics(createRegistry({ service: "t", collectDefault: false })), logger: testLogger("t") });

/** A devnet store on disk, and a network that differs from devnet only by its genesis timestamp. */
async function devnetStoreAndOtherNetwork() {
  const dir = await tempDir("genesis-");
  cleanups.push(() => dir.remove());
  const dbPath = join(dir.path, "blocks");
  const store = await BlockStore.open(dbPath, deps(DEVNET));
  assert.equal(store.tip.height, 0);
  assert.equal(hashHex(store.tip.hash), hashHex(DEVNET.genesisHash));
  await store.close();
  const networkFile = join(dir.path, "devnet-other.json");
  writeFileSync(
    networkFile,
    JSON.stringify({
      name: "devnet-other",
      genesis_timestamp_ms: 1767225600001,
      producers: DEVNET.producers.map((p) => Buffer.from(p).toString("hex")),
    }),
  );
  return { dbPath, networkFile, other: loadNetwork(networkFile) };
}

test("a store of another network's genesis refuses to start with one line naming both hashes and the network", async () => {
  const { dbPath, other } = await devnetStoreAndOtherNetwork();
  assert.notEqual(hashHex(other.genesisHash), hashHex(DEVNET.genesisHash));
  const expected = `stored genesis ${hashHex(DEVNET.genesisHash)} in ${dbPath} differs from network devnet-other's ${hashHex(other.genesisHash)}: wrong data volume or wrong NETWORK`;
  await assert.rejects(BlockStore.open(dbPath, deps(other)), (err: unknown) => {
    assert.ok(err instanceof BlockStoreError);
    assert.equal(err.code, "ERR_GENESIS_MISMATCH");
    assert.equal(err.message, expected);
    return true;
  });
  // Nothing was written: the store still opens as devnet.
  const again = await BlockStore.open(dbPath, deps(DEVNET));
  assert.equal(again.tip.height, 0);
  await again.close();
});

test("main.js on a store of another network exits 1 with the mismatch as its fatal line", async () => {
  const { dbPath, networkFile, other } = await devnetStoreAndOtherNetwork();
  const r = spawnSync(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, NETWORK: networkFile, STORE_DB_PATH: dbPath, NATS_URL: "nats://127.0.0.1:1", LOG_PRETTY: "false" },
    encoding: "utf8",
  });
  assert.equal(r.status, 1, r.stderr);
  const fatal = r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { level: string; msg: string; err?: { code?: string; message?: string } })
    .filter((l) => l.level === "fatal");
  assert.equal(fatal.length, 1);
  assert.equal(fatal[0]!.msg, "block-store failed to start");
  assert.equal(fatal[0]!.err?.code, "ERR_GENESIS_MISMATCH");
  assert.match(fatal[0]!.err!.message!, new RegExp(`^stored genesis ${hashHex(DEVNET.genesisHash)} .* differs from network devnet-other's ${hashHex(other.genesisHash)}: wrong data volume or wrong NETWORK$`));
});

test("configuration: defaults follow the port plan; a bad value stops main.js with one line and exit 2", () => {
  const c = parseBlockStoreEnv({});
  assert.equal(c.GRPC_PORT, 50054);
  assert.equal(c.GRPC_HOST, "127.0.0.1");
  assert.equal(c.METRICS_PORT, 9104);
  assert.equal(c.NETWORK, "devnet");
  assert.equal(c.STORE_DB_PATH, "data/blocks");
  assert.equal(c.SERVE_MAX_BLOCKS, 256);
  assert.equal(c.SERVE_MAX_BYTES, 4 * 1024 * 1024);
  assert.equal(c.TIP_REPUBLISH, 5_000);
  assert.equal(parseBlockStoreEnv({ SERVE_MAX_BYTES: "512KiB", TIP_REPUBLISH: "2s" }).SERVE_MAX_BYTES, 512 * 1024);

  const r = spawnSync(process.execPath, [MAIN], { env: { PATH: process.env.PATH, TIP_REPUBLISH: "soon" }, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr.trim(), /^invalid configuration: TIP_REPUBLISH="soon": [^\n]+$/);
  assert.equal(r.stdout, "");
});

test("main.js with an unknown NETWORK exits 2 with one line on stderr naming the file, like the other services", async () => {
  const dir = await tempDir("network-");
  cleanups.push(() => dir.remove());
  const r = spawnSync(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, NETWORK: "nosuchnet", STORE_DB_PATH: join(dir.path, "blocks"), LOG_PRETTY: "false" },
    cwd: dir.path,
    encoding: "utf8",
  });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^invalid configuration: NETWORK="nosuchnet": network file .*nosuchnet\.json: not found \(network "nosuchnet" is not built in\)\n$/);
});

test("the README's configuration table lists every variable the block-store reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(blockStoreEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});
