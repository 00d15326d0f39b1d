// Test harness: one node's chain side = a real nats-server + the real
// block-store process + block-producers in-process, all on loopback.
import { fileURLToPath } from "node:url";
import type { Registry } from "prom-client";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { writeFileSync } from "node:fs";
import { DEVNET, hashHex, networkFileJson, withLimits } from "@timenet/chain";
import { BlockStoreService, PeerMessageSchema, Subjects, type Block } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { createLogger } from "@timenet/telemetry";
import { freePort, startNatsServer, startServiceProcess, tempDir, type NatsServerHandle, type ServiceProcess } from "@timenet/testkit";
import { startBlockProducer, type BlockProducer } from "../src/producer.js";
import type { BlockProducerOptions } from "../src/options.js";

const STORE_MAIN = fileURLToPath(new URL("../../../block-store/dist/src/main.js", import.meta.url));
const logLevel = process.env.TEST_LOG_LEVEL ?? "silent";

export interface TestChain {
  readonly nats: NatsServerHandle;
  /** A client on the node's NATS, as the gateway would be. */
  readonly bus: Bus;
  readonly store: ServiceProcess;
  readonly storeGrpc: string;
  readonly storeClient: ServiceClient<typeof BlockStoreService>;
  /** Running producers by devnet index. */
  readonly producers: Map<number, BlockProducer>;
  startProducer(devnetIndex: number, extra?: Partial<BlockProducerOptions>): Promise<BlockProducer>;
  stopProducer(devnetIndex: number): Promise<void>;
  /** The main chain from height 1 up to the store's tip, read back over GetBlock. */
  blocks(): Promise<Block[]>;
  /** Publishes a tx as the gateway does for a peer's Tx message. */
  publishTx(data: Uint8Array): void;
  stop(): Promise<void>;
}

/** A real store and NATS for producers of the devnet, with its block interval set to `intervalMs` (a rule of the network). */
export async function startChain(intervalMs = DEVNET.blockIntervalMs): Promise<TestChain> {
  const nats = await startNatsServer();
  const dir = await tempDir("producer-chain-");
  const network = withLimits(DEVNET, { blockIntervalMs: intervalMs });
  const networkFile = join(dir.path, "devnet.json");
  writeFileSync(networkFile, networkFileJson(network));
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const storeGrpc = `127.0.0.1:${grpcPort}`;
  const producers = new Map<number, BlockProducer>();
  const cleanups: Array<() => Promise<void> | void> = [() => nats.stop(), () => dir.remove()];
  const stopAll = async () => {
    for (const p of producers.values()) await p.stop();
    producers.clear();
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const bus = await Bus.connect({ servers: nats.url, name: "test-gateway" });
    cleanups.push(() => bus.close());
    const store = await startServiceProcess({
      main: STORE_MAIN,
      env: {
        NODE_NAME: "store",
        NETWORK: networkFile,
        NATS_URL: nats.url,
        STORE_DB_PATH: join(dir.path, "blocks"),
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(grpcPort),
        METRICS_HOST: "127.0.0.1",
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: process.env.TEST_LOG_LEVEL === undefined ? "fatal" : process.env.TEST_LOG_LEVEL,
      },
      readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
      stderr: process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
    });
    cleanups.push(() => store.stop().then(() => undefined));
    const storeClient = createGrpcClient(BlockStoreService, storeGrpc);
    cleanups.push(() => storeClient.close());

    return {
      nats,
      bus,
      store,
      storeGrpc,
      storeClient,
      producers,
      async startProducer(devnetIndex, extra = {}) {
        const p = await startBlockProducer({
          node: `p${devnetIndex}`,
          natsUrl: nats.url,
          network,
          key: { devnetIndex },
          blockStoreGrpc: storeGrpc,
          grpcPort: 0,
          metricsPort: 0,
          logger: createLogger({ service: "block-producer", node: `p${devnetIndex}`, level: logLevel, pretty: false }),
          ...extra,
        });
        producers.set(devnetIndex, p);
        return p;
      },
      async stopProducer(devnetIndex) {
        await producers.get(devnetIndex)?.stop();
        producers.delete(devnetIndex);
      },
      async blocks() {
        const tip = (await storeClient.getTip({})).tip!;
        const out: Block[] = [];
        for (let h = 1; h <= tip.height; h++) {
          const res = await storeClient.getBlock({ by: { case: "height", value: h } });
          if (!res.mainChain || !res.block) throw new Error(`height ${h} is not on the main chain`);
          out.push(res.block);
        }
        return out;
      },
      publishTx: (data) => publishTx(bus, data),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll(); // a half-started chain must not leave a nats-server keeping the test alive
    throw err;
  }
}

let txSeq = 0;

/** Publishes a tx on p2p.in.tx as the gateway does for a peer's Tx message. */
export function publishTx(bus: Bus, data: Uint8Array): void {
  const msg = create(PeerMessageSchema, { peerIp: "127.0.0.9", connId: ++txSeq, envelope: { payload: { case: "tx", value: { data } } } });
  bus.publish(Subjects.peerIn("tx"), PeerMessageSchema, msg);
}

/** The devnet index of a block's producer. */
export function producerIndex(block: Block): number {
  return DEVNET.producers.findIndex((p) => hashHex(p) === hashHex(block.header!.producerId));
}

/** Value of a metric (summed over samples matching `labels`) in a producer's own registry. */
export async function metricValue(p: { registry: Registry }, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await p.registry.getSingleMetric(name)?.get();
  if (!metric) throw new Error(`no metric ${name}`);
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
