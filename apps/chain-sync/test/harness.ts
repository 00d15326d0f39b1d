// Test harness: a node = a real nats-server (JetStream) + the real p2p-gateway
// and block-store processes + chain-sync replicas in-process, on 127.0.0.k.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, BlockStoreService, ChainTipSchema, DialRequestSchema, GatewayService, PeerMessageSchema, PutResult, SendToPeerSchema, Subjects, type Block, type BlockHeader } from "@timenet/proto";
import { Bus, type BusSubscription } from "@timenet/bus";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { createLogger } from "@timenet/telemetry";
import { encodeBlocksEnvelope, withEmbeddedField } from "@timenet/wire";
import { blockHash, DEVNET, devnetProducerKey, earliestTimestampMs, loadNetwork, rankAt, signBlock, type NetworkParams } from "@timenet/chain";
import { freePort, nodePoolOf, startNatsServer, startServiceProcess, tempDir, waitFor, type NatsServerHandle, type ServiceProcess } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { startChainSync, type ChainSync } from "../src/chain-sync.js";
import { STORE_REQUEST_ENCODERS } from "../src/received-blocks.js";
import type { ChainSyncOptions } from "../src/options.js";

const APPS = fileURLToPath(new URL("../../../", import.meta.url));
const GATEWAY_MAIN = join(APPS, "p2p-gateway/dist/src/main.js");
const STORE_MAIN = join(APPS, "block-store/dist/src/main.js");
const PRODUCER_MAIN = join(APPS, "block-producer/dist/src/main.js");
const REGISTRY_MAIN = join(APPS, "peer-registry/dist/src/main.js");
const SYNC_MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const logLevel = process.env.TEST_LOG_LEVEL ?? "silent";
const childLogLevel = process.env.TEST_LOG_LEVEL ?? "fatal";

/** Short intervals make the tests fast. */
export const FAST: Partial<ChainSyncOptions> = {
  batchSize: 128,
  concurrency: 4,
  ackWaitMs: 3_000,
  requestTimeoutMs: 2_000,
  maxWaitMs: 3_000,
  leaseTtlMs: 1_000,
  planIntervalMs: 100,
  replanAfterMs: 3_000,
  heartbeatMs: 300,
  // Long enough for a healed partition's honest peer to learn our branch on a loaded machine; short enough for the rogue's test.
  losingBranchGraceMs: 10_000,
};

export interface NodeOptions {
  /** NETWORK of the gateway and the store (a name or a JSON path). Default devnet. */
  network?: string;
  storeEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /** The node's loopback address. Default 127.0.0.k (benches pass their own range). */
  ip?: string;
  /**
   * A nats-server configuration file (e.g. the deployment's `max_payload: 8MB`, which lets a peer's answer carry
   * the store's whole SERVE_MAX_BYTES). Default none: nats-server's own defaults (1 MB payloads).
   */
  natsConfigFile?: string;
}

export interface SyncNode {
  readonly ip: PeerIp;
  readonly p2pPort: number;
  readonly nats: NatsServerHandle;
  readonly bus: Bus;
  readonly store: ServiceClient<typeof BlockStoreService>;
  readonly gatewayGrpc: ServiceClient<typeof GatewayService>;
  readonly storeGrpcAddress: string;
  readonly gatewayGrpcAddress: string;
  readonly storeMetricsUrl: string;
  readonly gatewayMetricsUrl: string;
  gateway: ServiceProcess;
  storeProcess: ServiceProcess;
  readonly syncs: ChainSync[];
  startSync(extra?: Partial<ChainSyncOptions>): Promise<ChainSync>;
  /** Tells this node's gateway to dial another node (as its registry would). */
  dial(to: SyncNode): Promise<void>;
  /** Stops the gateway (SIGTERM: Goodbye{SHUTDOWN} to every peer) and starts it again: the same key, address and port. */
  restartGateway(): Promise<void>;
  height(): Promise<number>;
  tipHash(): Promise<string>;
  stop(): Promise<void>;
}

export async function startNode(k: number, o: NodeOptions = {}): Promise<SyncNode> {
  const ip = (o.ip ?? `127.0.0.${k}`) as PeerIp;
  const nats = await startNatsServer({ jetstream: true, ...(o.natsConfigFile === undefined ? {} : { configFile: o.natsConfigFile }) });
  const bus = await Bus.connect({ servers: nats.url, name: `test-${k}` });
  const dir = await tempDir(`sync-${k}-`);
  const [p2pPort, gwGrpc, gwMetrics, stGrpc, stMetrics] = [await freePort(ip), await freePort(), await freePort(), await freePort(), await freePort()];
  const network = o.network ?? "devnet";
  const stderr = process.env.TEST_LOG_LEVEL ? "inherit" : "ignore";
  const clients: Array<{ close(): void }> = [];
  const syncs: ChainSync[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];
  const storeGrpcAddress = `127.0.0.1:${stGrpc}`;
  const gatewayGrpcAddress = `127.0.0.1:${gwGrpc}`;
  // Blocks decoded from bytes (an EncodedChain's) are put as those bytes, as chain-sync puts what it fetched.
  const store = createGrpcClient(BlockStoreService, storeGrpcAddress, { encoders: STORE_REQUEST_ENCODERS });
  const gatewayGrpc = createGrpcClient(GatewayService, gatewayGrpcAddress);
  clients.push(store, gatewayGrpc);

  const node = {
    ip,
    p2pPort,
    nats,
    bus,
    store,
    gatewayGrpc,
    storeGrpcAddress,
    gatewayGrpcAddress,
    storeMetricsUrl: `http://127.0.0.1:${stMetrics}/metrics`,
    gatewayMetricsUrl: `http://127.0.0.1:${gwMetrics}/metrics`,
    syncs,
    async startSync(extra: Partial<ChainSyncOptions> = {}) {
      const s = await startChainSync({
        node: `s${k}`,
        workerId: `s${k}-${syncs.length}`,
        natsUrl: nats.url,
        network: loadNetwork(network),
        blockStoreGrpc: storeGrpcAddress,
        grpcPort: 0,
        metricsPort: 0,
        logger: createLogger({ service: "chain-sync", node: `s${k}`, level: logLevel, pretty: false }),
        ...FAST,
        ...extra,
      });
      syncs.push(s);
      return s;
    },
    async dial(to: SyncNode) {
      bus.publish(Subjects.registryDial, DialRequestSchema, { ip: to.ip, port: to.p2pPort, reason: "test" });
      await bus.flush();
    },
    async restartGateway() {
      await node.gateway.stop();
      node.gateway = await startGateway();
    },
    async height() {
      return (await store.getTip({})).tip!.height;
    },
    async tipHash() {
      return Buffer.from((await store.getTip({})).tip!.hash).toString("hex");
    },
    async stop() {
      await Promise.allSettled(syncs.splice(0).map((s) => s.stop()));
      for (const c of clients) c.close();
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
      await bus.close();
      await nats.stop();
      await dir.remove();
    },
  } as SyncNode;
  try {
    node.storeProcess = await startServiceProcess({
      main: STORE_MAIN,
      env: {
        NODE_NAME: `st${k}`,
        NETWORK: network,
        STORE_DB_PATH: join(dir.path, "blocks"),
        NATS_URL: nats.url,
        GRPC_PORT: String(stGrpc),
        METRICS_PORT: String(stMetrics),
        LOG_LEVEL: childLogLevel,
        ...o.storeEnv,
      },
      readyUrl: `http://127.0.0.1:${stMetrics}/readyz`,
      stderr,
    });
    cleanup.push(() => node.storeProcess.stop());
    node.gateway = await startGateway();
    cleanup.push(() => node.gateway.stop());
  } catch (err) {
    await node.stop();
    throw err;
  }
  return node;

  function startGateway(): Promise<ServiceProcess> {
    return startServiceProcess({
      main: GATEWAY_MAIN,
      env: {
        NODE_NAME: `gw${k}`,
        NETWORK: network,
        P2P_HOST: ip,
        P2P_PORT: String(p2pPort),
        NODE_KEY_FILE: join(dir.path, "node.key"),
        NATS_URL: nats.url,
        GRPC_PORT: String(gwGrpc),
        METRICS_PORT: String(gwMetrics),
        PING_INTERVAL: "1s",
        RATE_LIMIT_GET_BLOCKS: "1000/s:1000",
        ADMISSION_WAIT: "0",
        LOG_LEVEL: childLogLevel,
        ...o.gatewayEnv,
      },
      readyUrl: `http://127.0.0.1:${gwMetrics}/readyz`,
      stderr,
    });
  }
}

/** Starts nodes for one test file and stops them all in its `after` hook. */
export function nodePool() {
  return nodePoolOf(startNode);
}

/**
 * A valid chain of `count` blocks on top of `parent`, signed in turn by the
 * devnet producers, ~1 KiB of transactions each unless told otherwise.
 * `salt` makes a different (forked) chain from the same parent.
 */
export function buildChain(parent: BlockHeader, count: number, o: { salt?: string; txBytes?: number } = {}): Block[] {
  const blocks: Block[] = [];
  let prev = parent;
  const txBytes = o.txBytes ?? 1_000;
  for (let i = 1; i <= count; i++) {
    const height = prev.height + 1;
    const tx = Buffer.alloc(txBytes, 0);
    tx.write(`${o.salt ?? "main"}:${height}`);
    // Each height by its own producer, one devnet interval after its parent: the earliest the schedule allows.
    const block = signBlock({ height, prevHash: blockHash(prev), timestampMs: prev.timestampMs + BigInt(DEVNET.blockIntervalMs), txs: [tx] }, devnetProducerKey(height % 3));
    blocks.push(block);
    prev = block.header!;
  }
  return blocks;
}

/**
 * A valid branch on `parent`: block i signed by devnet producer `producers[i]`
 * at the earliest timestamp its rank allows (the first no earlier than
 * `firstTimestampMs`), so the branch's fork-choice weight is chosen by the
 * producers given: a run of one key weighs 1, a rotation 1 a block.
 */
export function signedBranch(parent: BlockHeader, producers: readonly number[], o: { salt: string; params?: NetworkParams; firstTimestampMs?: bigint }): Block[] {
  const params = o.params ?? DEVNET;
  const out: Block[] = [];
  let p = parent;
  for (const index of producers) {
    const height = p.height + 1;
    const earliest = earliestTimestampMs(p.timestampMs, rankAt(height, index, params), params);
    const timestampMs = out.length === 0 && o.firstTimestampMs !== undefined && o.firstTimestampMs > earliest ? o.firstTimestampMs : earliest;
    const block = signBlock({ height, prevHash: blockHash(p), timestampMs, txs: [Buffer.from(`${o.salt} ${height}`)] }, devnetProducerKey(index));
    out.push(block);
    p = block.header!;
  }
  return out;
}

/**
 * Writes blocks through the store's real PutBlocks, in order, in puts of `batch`, up to `inFlight` of
 * them sent and not yet answered. Puts in flight together may reach the store out of order (gRPC
 * streams interleave): one answered PARENT_UNKNOWN is sent again once the put before it is answered.
 */
/** Blocks to put in order: an array, or anything that hands out runs of them (an EncodedChain). */
export interface BlockRun {
  readonly length: number;
  slice(start: number, end: number): Block[];
}

export async function putChain(n: SyncNode, blocks: BlockRun, batch = 500, inFlight = 1): Promise<void> {
  const sent = new Set<Promise<void>>();
  let previous: Promise<void> = Promise.resolve();
  for (let i = 0; i < blocks.length; i += batch) {
    const request = { blocks: blocks.slice(i, i + batch) };
    const before = previous;
    const put = n.store.putBlocks(request, { deadlineMs: 30_000 }).then(async (first) => {
      let res = first;
      if (res.result === PutResult.PARENT_UNKNOWN && inFlight > 1) {
        await before;
        res = await n.store.putBlocks(request, { deadlineMs: 30_000 });
      }
      if (res.applied === 0 && res.result !== PutResult.ALREADY_HAVE) throw new Error(`putChain: ${res.result} ${res.detail}`);
    });
    previous = put;
    sent.add(put);
    void put.then(
      () => sent.delete(put),
      () => undefined,
    );
    if (sent.size >= inFlight) await Promise.race(sent);
  }
  await Promise.all(sent);
}

/** A replica's metric, summed over the values whose `result` label is `result` (all values without one). */
export async function syncMetric(s: ChainSync, name: string, result?: string): Promise<number> {
  const m = (await s.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return m?.values.filter((v) => result === undefined || v.labels.result === result).reduce((a, v) => a + v.value, 0) ?? 0;
}

/** The batch size a node's planner uses now (the leader replica's timenet_sync_batch_blocks), undefined before it planned. */
export async function batchBlocks(n: SyncNode): Promise<number | undefined> {
  for (const s of n.syncs) {
    // An unset gauge reads 0 (a batch is never empty): that replica has not planned.
    const v = (await s.registry.getMetricsAsJSON()).find((m) => m.name === "timenet_sync_batch_blocks")?.values[0]?.value;
    if (v) return v;
  }
  return undefined;
}

export async function waitHeight(n: SyncNode, height: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await n.height()) >= height, { timeoutMs, intervalMs: 100, message: `${n.ip} reaches height ${height}` });
}

/**
 * Makes node `l`'s gateway claim `tip` in its Hello (a height, or a real block's header): a chain.tip on l's
 * NATS, said until the gateway has it (one just started may not be subscribed yet). l's store must be
 * stopped, or it says the truth.
 */
export async function claimHeight(l: SyncNode, tip: number | BlockHeader, genesisHash: Uint8Array): Promise<void> {
  const claim =
    typeof tip === "number"
      ? { height: tip, hash: randomBytes(32), timestampMs: 1n, genesisHash }
      : { height: tip.height, hash: blockHash(tip), timestampMs: 1n, genesisHash, header: tip };
  await waitFor(
    async () => {
      l.bus.publish(Subjects.chainTip, ChainTipSchema, claim);
      await l.bus.flush();
      return (await l.gatewayGrpc.getInfo({})).bestHeight === claim.height;
    },
    { intervalMs: 50, message: `${l.ip}'s gateway claims ${claim.height}` },
  );
}

/** A GetBlocks asked of a node whose store the test stands in for, and the ways to answer it. */
export interface BlocksAsk {
  readonly peerIp: string;
  readonly fromHeight: number;
  readonly count: number;
  /** Answers with these blocks: messages as protobuf-es encodes them, bytes spliced in as they are (what no encoder writes). */
  answer(blocks: ReadonlyArray<Block | Uint8Array>): void;
  /** Answers busy, with no block. */
  busy(): void;
}

// PeerMessage.envelope and SendToPeer.envelope are both field 3, length-delimited.
const SEND_ENVELOPE_TAG = (3 << 3) | 2;

/**
 * The test in place of node `n`'s block-store, behind n's real gateway: the store is stopped (it would answer
 * honestly and say its real height), the gateway claims `tip` on the devnet's genesis if one is given (else it
 * keeps claiming the store's last tip), and every GetBlocks n's peers send is handed to `onAsk`, which answers
 * it, holds the answer back or drops it. Returns the subscription (unsubscribed, the questions go unanswered).
 */
export async function answerInPlaceOfStore(n: SyncNode, onAsk: (q: BlocksAsk) => void, tip?: number | BlockHeader): Promise<BusSubscription> {
  await n.storeProcess.stop();
  if (tip !== undefined) await claimHeight(n, tip, DEVNET.genesisHash);
  const sub = n.bus.subscribe(Subjects.peerIn("get_blocks"), PeerMessageSchema, (m) => {
    if (m.envelope?.payload.case !== "getBlocks") return;
    const { requestId } = m.envelope;
    const head = toBinary(SendToPeerSchema, create(SendToPeerSchema, { peerIp: m.peerIp, connId: m.connId }));
    const send = (entries: Uint8Array[], busy: boolean) =>
      n.bus.publishEncoded(Subjects.peerOutSend, withEmbeddedField(head, SEND_ENVELOPE_TAG, encodeBlocksEnvelope(requestId, entries, busy)));
    onAsk({
      peerIp: m.peerIp,
      fromHeight: m.envelope.payload.value.fromHeight,
      count: m.envelope.payload.value.count,
      answer: (blocks) => send(blocks.map((b) => (b instanceof Uint8Array ? b : toBinary(BlockSchema, b))), false),
      busy: () => send([], true),
    });
  });
  await n.bus.flush();
  return sub;
}

/** Dials `to` from `from` and waits until the link is up with the height `to` claims. */
export async function dialClaiming(from: SyncNode, to: SyncNode, height: number): Promise<void> {
  await from.dial(to);
  await waitFor(async () => (await from.gatewayGrpc.listConnections({})).connections.some((x) => x.ip === to.ip && x.bestHeight === height), {
    timeoutMs: 15_000,
    message: `${from.ip} connected to ${to.ip}, which claims ${height}`,
  });
}


/** A chain-sync replica of node `n` as a real process (main.js: signals, exit codes), with `env` on top of n's addresses. */
export async function startSyncProcess(n: SyncNode, workerId: string, env: Record<string, string>): Promise<ServiceProcess> {
  const metricsPort = await freePort();
  return startServiceProcess({
    main: SYNC_MAIN,
    env: {
      NODE_NAME: workerId,
      WORKER_ID: workerId,
      NATS_URL: n.nats.url,
      BLOCK_STORE_GRPC: n.storeGrpcAddress,
      GRPC_PORT: "0",
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: childLogLevel,
      ...env,
    },
    readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
    stderr: process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
  });
}

/** Runs the real block-producer process with devnet key `index` on node `n`'s store and NATS. */
export async function startProducerProcess(n: SyncNode, index: number, network: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const metrics = await freePort();
  return startServiceProcess({
    main: PRODUCER_MAIN,
    env: {
      NODE_NAME: `p${index}`,
      NETWORK: network,
      PRODUCER_DEVNET_INDEX: String(index),
      BLOCK_STORE_GRPC: n.storeGrpcAddress,
      NATS_URL: n.nats.url,
      GRPC_PORT: String(await freePort()),
      METRICS_PORT: String(metrics),
      LOG_LEVEL: childLogLevel,
      ...env,
    },
    readyUrl: `http://127.0.0.1:${metrics}/readyz`,
    stderr: process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
  });
}

/** Runs the real peer-registry process on node `n`'s NATS: it decides whom n's gateway dials. Returns it and its gRPC address. */
export async function startRegistryProcess(n: SyncNode, dbPath: string, env: Record<string, string> = {}): Promise<{ process: ServiceProcess; grpcAddress: string }> {
  const metrics = await freePort();
  const grpc = await freePort();
  const process_ = await startServiceProcess({
    main: REGISTRY_MAIN,
    env: {
      NODE_NAME: `r${n.ip}`,
      NATS_URL: n.nats.url,
      REGISTRY_DB_PATH: dbPath,
      PUBLIC_IP: n.ip,
      GRPC_PORT: String(grpc),
      METRICS_PORT: String(metrics),
      LOG_LEVEL: childLogLevel,
      ...env,
    },
    readyUrl: `http://127.0.0.1:${metrics}/readyz`,
    stderr: process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
  });
  return { process: process_, grpcAddress: `127.0.0.1:${grpc}` };
}
