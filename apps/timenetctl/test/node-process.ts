// A timenet node for the status tests: a real nats-server (JetStream) and the
// real block-store, p2p-gateway and (optionally) chain-sync processes, every
// listener on the node's own loopback IP 127.0.0.k with free ports.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { blockHash, DEVNET, devnetProducerKey, signBlock } from "@timenet/chain";
import { Bus } from "@timenet/bus";
import { createGrpcClient, type MutualTls } from "@timenet/grpc";
import { BlockStoreService, ChainSyncService, DialRequestSchema, GatewayService, Subjects, type Block } from "@timenet/proto";
import { httpsStatus } from "./https-get.js";
import { freePort, startNatsServer, startServiceProcess, tempDir, waitFor, type ServiceProcess } from "@timenet/testkit";

const APPS = fileURLToPath(new URL("../../../", import.meta.url));
const GATEWAY_MAIN = join(APPS, "p2p-gateway/dist/src/main.js");
const STORE_MAIN = join(APPS, "block-store/dist/src/main.js");
const SYNC_MAIN = join(APPS, "chain-sync/dist/src/main.js");
const childLogLevel = process.env.TEST_LOG_LEVEL ?? "fatal";

export interface NodeOptions {
  chainSync?: boolean;
  gatewayEnv?: Record<string, string>;
  /** Default 127.0.0.k. */
  ip?: string;
  /** Mutual TLS: every service gets OPERATOR_TLS_DIR=dir; the test's own clients and readiness probes use `client`. */
  tls?: { dir: string; client: MutualTls };
}

export interface TestNode {
  readonly ip: string;
  readonly p2pPort: number;
  readonly ports: { gateway: number; sync: number; store: number };
  readonly gateway: ServiceProcess;
  nodeId(): Promise<string>;
  /** Tells this node's gateway to dial `to` (as its registry would). */
  dial(to: TestNode): Promise<void>;
  /** Waits until this node's gateway has a connection to `to`. */
  waitConnected(to: TestNode): Promise<void>;
  /** Appends `count` signed blocks to this node's store (and waits for its chain-sync, if any, to learn them); `salt` makes a different chain. */
  extendChain(count: number, salt: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startNode(k: number, o: NodeOptions = {}): Promise<TestNode> {
  const ip = o.ip ?? `127.0.0.${k}`;
  const nats = await startNatsServer({ jetstream: true });
  const bus = await Bus.connect({ servers: nats.url, name: `timenetctl-test-${k}` });
  const dir = await tempDir(`timenetctl-node-${k}-`);
  const free = () => freePort(ip);
  const [p2pPort, gateway, gwMetrics, store, stMetrics, sync, syncMetrics] = [await free(), await free(), await free(), await free(), await free(), await free(), await free()];
  const common = { NATS_URL: nats.url, GRPC_HOST: ip, METRICS_HOST: ip, LOG_LEVEL: childLogLevel, NETWORK: "devnet", ...(o.tls ? { OPERATOR_TLS_DIR: o.tls.dir } : {}) };
  const processes: ServiceProcess[] = [];
  const gatewayClient = createGrpcClient(GatewayService, `${ip}:${gateway}`, { tls: o.tls?.client });
  const storeClient = createGrpcClient(BlockStoreService, `${ip}:${store}`, { tls: o.tls?.client });
  const syncClient = o.chainSync ? createGrpcClient(ChainSyncService, `${ip}:${sync}`, { tls: o.tls?.client }) : undefined;
  const stop = async () => {
    gatewayClient.close();
    storeClient.close();
    syncClient?.close();
    for (const p of processes.reverse()) await p.stop().catch(() => undefined);
    await bus.close();
    await nats.stop();
    await dir.remove();
  };
  const start = async (main: string, env: Record<string, string>, metricsPort: number) => {
    const tls = o.tls?.client;
    const readyUrl = `${tls ? "https" : "http"}://${ip}:${metricsPort}/readyz`;
    const readyCheck = tls ? async () => (await httpsStatus(readyUrl, { ca: tls.ca })) === 200 : undefined;
    processes.push(await startServiceProcess({ main, env: { ...common, ...env }, readyUrl, readyCheck }));
    return processes.at(-1)!;
  };
  try {
    await start(STORE_MAIN, { NODE_NAME: `st${k}`, STORE_DB_PATH: join(dir.path, "blocks"), GRPC_PORT: String(store), METRICS_PORT: String(stMetrics) }, stMetrics);
    const gw = await start(
      GATEWAY_MAIN,
      {
        NODE_NAME: `gw${k}`,
        P2P_HOST: ip,
        P2P_PORT: String(p2pPort),
        NODE_KEY_FILE: join(dir.path, "node.key"),
        GRPC_PORT: String(gateway),
        METRICS_PORT: String(gwMetrics),
        // Pings often (an RTT to show soon after connecting) but tolerant
        // of a busy CI machine: a node process descheduled for a second must
        // not lose its peer with PING_TIMEOUT in the middle of a test.
        PING_INTERVAL: "300ms",
        MISSED_PONGS: "20",
        ADMISSION_WAIT: "0",
        ...o.gatewayEnv,
      },
      gwMetrics,
    );
    if (o.chainSync) {
      const env = { NODE_NAME: `cs${k}`, WORKER_ID: `cs${k}-0`, BLOCK_STORE_GRPC: `${ip}:${store}`, GRPC_PORT: String(sync), METRICS_PORT: String(syncMetrics) };
      await start(SYNC_MAIN, env, syncMetrics);
    }
    return {
      ip,
      p2pPort,
      ports: { gateway, sync, store },
      gateway: gw,
      async nodeId() {
        return (await gatewayClient.getInfo({})).nodeId;
      },
      async dial(to) {
        bus.publish(Subjects.registryDial, DialRequestSchema, { ip: to.ip, port: to.p2pPort, reason: "test" });
        await bus.flush();
      },
      async waitConnected(to) {
        await waitFor(async () => (await gatewayClient.listConnections({})).connections.some((c) => c.ip === to.ip && c.lastRttMs > 0), {
          timeoutMs: 15_000,
          intervalMs: 100,
          message: `${ip} connected to ${to.ip}`,
        });
      },
      async extendChain(count, salt) {
        const tip = (await storeClient.getTip({})).tip!;
        let prev = (await storeClient.getBlock({ by: { case: "height", value: tip.height } })).block!.header!;
        const blocks: Block[] = [];
        for (let i = 0; i < count; i++) {
          const height = prev.height + 1;
          const tx = Buffer.from(`${salt}:${height}`);
          const block = signBlock({ height, prevHash: blockHash(prev), timestampMs: prev.timestampMs + BigInt(DEVNET.blockIntervalMs), txs: [tx] }, devnetProducerKey(height % 3));
          blocks.push(block);
          prev = block.header!;
        }
        const res = await storeClient.putBlocks({ blocks });
        if (res.applied !== count) throw new Error(`extendChain: result ${res.result}, ${res.detail}`);
        // chain-sync learns the tip by the store's chain.tip message, after the put's answer: settled before a test reads it.
        if (syncClient) await waitFor(async () => (await syncClient.status({})).ourHeight === prev.height, { timeoutMs: 10_000, message: `${ip}'s chain-sync learns height ${prev.height}` });
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
