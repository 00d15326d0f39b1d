// A start that fails part-way ends every thread it began: the validation
// workers start before the chain is opened and the serving worker before
// NATS is reached, so each failure after them must end them too. A thread
// left running would keep a service's process alive after its start failed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { DEVNET } from "@timenet/chain";
import { freePort, startNatsServer, tempDir, waitFor, type NatsServerHandle } from "@timenet/testkit";
import { startBlockStore } from "../src/service.js";
import type { BlockStoreOptions } from "../src/options.js";
import { testLogger } from "./harness.js";

/** This process's OS threads (a worker thread is one of them). */
const threads = () => readdirSync("/proc/self/task").length;

describe("a block-store start that fails", () => {
  let nats: NatsServerHandle;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let taken: Server;
  let takenPort: number;
  let idle: number;
  const options = (extra: Partial<BlockStoreOptions>): BlockStoreOptions => ({
    node: "f",
    natsUrl: nats.url,
    dbPath: join(dir.path, "blocks"),
    network: DEVNET,
    grpcPort: 0,
    metricsPort: 0,
    verifyThreads: 2,
    logger: testLogger("f"),
    ...extra,
  });

  before(async () => {
    nats = await startNatsServer();
    dir = await tempDir("start-failure-");
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    takenPort = (taken.address() as { port: number }).port;
    // One whole start and stop first: what a start creates for good (libuv's thread pool) is counted in `idle`.
    await (await startBlockStore(options({}))).stop();
    idle = threads();
  });
  after(async () => {
    taken.close();
    await nats.stop();
    await dir.remove();
  });

  const endsEveryThread = async (why: string) => {
    await waitFor(() => threads() <= idle, { timeoutMs: 10_000, message: () => `after ${why}: ${threads()} threads, ${idle} before the start` });
  };

  test("the chain cannot be opened: the validation workers, already loading, are ended", async () => {
    const file = join(dir.path, "not-a-directory");
    writeFileSync(file, "x");
    await assert.rejects(startBlockStore(options({ dbPath: file })));
    await endsEveryThread("a chain that cannot be opened");
  });

  test("NATS cannot be reached: the serving worker, already opening the chain, and the validation workers are ended", async () => {
    const closed = await freePort();
    await assert.rejects(startBlockStore(options({ natsUrl: `nats://127.0.0.1:${closed}` })), /cannot connect to NATS/);
    await endsEveryThread("NATS unreachable");
  });

  test("the gRPC port is taken: every worker is ended", async () => {
    await assert.rejects(startBlockStore(options({ grpcPort: takenPort })));
    await endsEveryThread("a taken gRPC port");
  });

  test("it can start again on the same chain afterwards", async () => {
    const s = await startBlockStore(options({}));
    await s.stop();
  });
});
