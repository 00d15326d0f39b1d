// Test harness: a block-store in-process on a real nats-server and a real
// LMDB in a temp dir, its real gRPC API, and a recorder of chain.tip.
import { join } from "node:path";
import { BlockStoreService, ChainTipSchema, Subjects, type ChainTip } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { hashHex, DEVNET } from "@timenet/chain";
import { createLogger } from "@timenet/telemetry";
import { startNatsServer, tempDir, waitFor, type NatsServerHandle } from "@timenet/testkit";
import { startBlockStore, type BlockStoreHandle } from "../src/service.js";
import type { BlockStoreOptions } from "../src/options.js";

export const testLogger = (node: string) => createLogger({ service: "block-store", node, level: process.env.TEST_LOG_LEVEL ?? "silent", pretty: false });

export interface TestStore {
  readonly nats: NatsServerHandle;
  /** A client on the store's NATS, as another service would be. */
  readonly bus: Bus;
  readonly dbPath: string;
  readonly handle: BlockStoreHandle;
  readonly client: ServiceClient<typeof BlockStoreService>;
  /** Every ChainTip published on chain.tip, in order. */
  readonly tips: ChainTip[];
  /** Waits for a chain.tip message naming this height (and hash). */
  waitTip(height: number, hash?: Uint8Array): Promise<ChainTip>;
  /**
   * How many tips were received, once the last one is the store's tip now:
   * every publication of the puts before has arrived (they come in order), so
   * a count taken here is not raised later by one still on its way.
   */
  settledTips(): Promise<number>;
  /** A sample of the store's registry (a histogram's as <name>_count etc.); 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestStore(extra: Partial<BlockStoreOptions> = {}): Promise<TestStore> {
  const nats = await startNatsServer();
  const dir = await tempDir("block-store-");
  const bus = await Bus.connect({ servers: nats.url, name: "test" });
  const tips: ChainTip[] = [];
  bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => void tips.push(t));
  await bus.flush();
  const dbPath = join(dir.path, "blocks");
  let handle: BlockStoreHandle;
  try {
    handle = await startBlockStore({
      node: "t",
      natsUrl: nats.url,
      dbPath,
      network: DEVNET,
      grpcPort: 0,
      metricsPort: 0,
      tipRepublishMs: 60_000,
      logger: testLogger("t"),
      ...extra,
    });
  } catch (err) {
    await bus.close();
    await nats.stop();
    await dir.remove();
    throw err;
  }
  const client = createGrpcClient(BlockStoreService, `127.0.0.1:${handle.grpcPort}`);
  return {
    nats,
    bus,
    dbPath,
    handle,
    client,
    tips,
    waitTip(height, hash) {
      const want = hash && hashHex(hash);
      return waitFor(() => tips.find((t) => t.height === height && (want === undefined || hashHex(t.hash) === want)), {
        message: `chain.tip at height ${height}`,
      });
    },
    async settledTips() {
      const now = hashHex((await client.getTip({})).tip!.hash);
      await waitFor(() => tips.length > 0 && hashHex(tips.at(-1)!.hash) === now, { message: "the last chain.tip received is the store's tip" });
      return tips.length;
    },
    async metric(name, labels = {}) {
      // A histogram's samples are named <base>_sum, _count, _bucket.
      const base = handle.registry.getSingleMetric(name) ? name : name.replace(/_(sum|count|bucket)$/, "");
      const values = (await handle.registry.getSingleMetric(base)?.get())?.values ?? [];
      const sample = values.find((v) => ((v as { metricName?: string }).metricName ?? base) === name && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
      return sample?.value ?? 0;
    },
    async stop() {
      client.close();
      await handle.stop();
      await bus.close();
      await nats.stop();
      await dir.remove();
    },
  };
}
