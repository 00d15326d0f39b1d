// A small timenet network of real processes for the dashboard and alert
// tests: every service's built main.js, real nats-servers, on 127.0.0.k.
//
//   host-1  gateway, registry, block-store, chain-sync, block-producer (devnet key 0)
//   host-2  gateway, registry (MAX_BANS 1), block-store, chain-sync; its NATS takes
//           8 MB messages (host-1's only 256 KB)
//   host-3  gateway, block-store, chain-sync on a 2-block fork of its own, on a
//           copy of the network whose max_reorg_depth is 1: its genesis is final,
//           so it sees host-1's chain and can never take it
//
// The network is the devnet with a 250 ms block interval (a network file in
// the temp dir: the interval is a rule every node checks).
//           its gateway's clock is 20 s slow (judged with one peer: it dials nobody)
//   127.0.0.4  a gateway on another genesis (not scraped): a declared peer of
//           host-1 that can never connect
//
// host-1's registry bootstraps to the other three, host-2's to host-1.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { BlockStoreService, GatewayService, PutResult, type BlockHeader } from "@timenet/proto";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { blockHash, DEVNET, devnetProducerKey, earliestTimestampMs, loadNetwork, networkFileJson, rankAt, signBlock, withLimits } from "@timenet/chain";
import { freePort, skewedClockEnv, startNatsServer, startServiceProcess, tempDir, waitFor, type ServiceProcess } from "@timenet/testkit";
import { startNatsWithConfig } from "../src/nats.js";

export const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
export const DEPLOY = join(ROOT, "deploy");

export const JOBS = ["p2p-gateway", "peer-registry", "chain-sync", "block-store", "block-producer"] as const;
export type Job = (typeof JOBS)[number];

const childLogLevel = process.env.TEST_LOG_LEVEL ?? "fatal";
const stderr = process.env.TEST_LOG_LEVEL ? "inherit" : "ignore";

/** A service of a host: its ports are known before it starts (Prometheus is configured first). */
export interface Service {
  readonly job: Job;
  readonly host: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly metricsUrl: string;
  process?: ServiceProcess;
}

export interface Host {
  readonly name: string;
  readonly ip: string;
  readonly p2pPort: number;
  natsUrl: string;
  readonly services: Service[];
  service(job: Job): Service;
  readonly gateway: ServiceClient<typeof GatewayService>;
  /** The block-store's gRPC client (hosts with a block-store). */
  readonly store: ServiceClient<typeof BlockStoreService>;
  height(): Promise<number>;
  close(): void;
}

export interface TestNetwork {
  /** The scraped hosts, host-1..host-3. */
  readonly hosts: Host[];
  readonly intruder: Host;
  host(name: string): Host;
  /** Every scraped service (for the Prometheus configuration). */
  services(): Service[];
  /** Starts every process (Prometheus may already be scraping the ports). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function planHost(k: number, jobs: readonly Job[]): Promise<Host> {
  const ip = `127.0.0.${k}`;
  const name = `host-${k}`;
  const services: Service[] = [];
  for (const job of jobs) {
    const [grpcPort, metricsPort] = [await freePort(), await freePort()];
    services.push({ job, host: name, grpcPort, metricsPort, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` });
  }
  const service = (job: Job) => {
    const s = services.find((x) => x.job === job);
    if (!s) throw new Error(`${name} runs no ${job}`);
    return s;
  };
  const gateway = createGrpcClient(GatewayService, `127.0.0.1:${service("p2p-gateway").grpcPort}`);
  let store: ServiceClient<typeof BlockStoreService> | undefined;
  const p2pPort = await freePort(ip);
  const host: Host = {
    name,
    ip,
    p2pPort,
    natsUrl: "",
    services,
    service,
    gateway,
    get store() {
      store ??= createGrpcClient(BlockStoreService, `127.0.0.1:${service("block-store").grpcPort}`);
      return store;
    },
    async height() {
      return (await host.store.getTip({}, { deadlineMs: 2_000 })).tip?.height ?? 0;
    },
    close() {
      gateway.close();
      store?.close();
    },
  };
  return host;
}

/** Plans the network (ports, hosts); `start()` runs it. */
export async function planTestNetwork(): Promise<TestNetwork> {
  const h1 = await planHost(1, JOBS);
  const h2 = await planHost(2, ["p2p-gateway", "peer-registry", "chain-sync", "block-store"]);
  const h3 = await planHost(3, ["p2p-gateway", "chain-sync", "block-store"]);
  const intruder = await planHost(4, ["p2p-gateway"]);
  const hosts = [h1, h2, h3];
  const dir = await tempDir("observability-");
  const FAST = withLimits(DEVNET, { blockIntervalMs: 250, maxFutureDriftMs: 80 });
  const networkFile = (name: string, params: typeof DEVNET) => {
    const path = join(dir.path, name);
    writeFileSync(path, networkFileJson(params));
    return path;
  };
  const fast = networkFile("devnet-250ms.json", FAST);
  const fastShallow = networkFile("devnet-250ms-depth-1.json", withLimits(FAST, { maxReorgDepth: 1 }));
  const natsStops: Array<() => Promise<unknown>> = [];
  const processes: ServiceProcess[] = [];

  const run = async (host: Host, job: Job, env: Record<string, string>) => {
    const s = host.service(job);
    s.process = await startServiceProcess({
      main: join(ROOT, "apps", job, "dist/src/main.js"),
      env: {
        NODE_NAME: `${host.name}-${job}`,
        NATS_URL: host.natsUrl,
        GRPC_PORT: String(s.grpcPort),
        METRICS_PORT: String(s.metricsPort),
        LOG_LEVEL: childLogLevel,
        LOG_PRETTY: "false",
        NETWORK: fast,
        ...env,
      },
      readyUrl: `http://127.0.0.1:${s.metricsPort}/readyz`,
      timeoutMs: 30_000,
      stderr,
    });
    processes.push(s.process);
  };
  const grpcOf = (host: Host, job: Job) => `127.0.0.1:${host.service(job).grpcPort}`;
  const startGateway = (host: Host, named: Host[], extra: Record<string, string> = {}) =>
    run(host, "p2p-gateway", {
      P2P_HOST: host.ip,
      P2P_PORT: String(host.p2pPort),
      NODE_KEY_FILE: join(dir.path, `${host.name}.key`),
      NAMED_PEERS: named.map((h) => h.ip).join(","),
      PING_INTERVAL: "500ms",
      ADMISSION_WAIT: "0",
      RATE_LIMIT_GET_BLOCKS: "1000/s:1000",
      ...extra,
    });
  const startStore = (host: Host, extra: Record<string, string> = {}) => run(host, "block-store", { STORE_DB_PATH: join(dir.path, `${host.name}-blocks`), ...extra });
  const startRegistry = (host: Host, bootstrap: Host[], extra: Record<string, string> = {}) =>
    run(host, "peer-registry", {
      REGISTRY_DB_PATH: join(dir.path, `${host.name}-peers`),
      BOOTSTRAP_PEERS: bootstrap.map((h) => `${h.ip}:${h.p2pPort}`).join(","),
      BACKOFF_MIN: "50ms",
      BACKOFF_MAX: "1s",
      DIAL_GIVE_UP: "3s",
      ...extra,
    });
  const startSync = (host: Host, extra: Record<string, string> = {}) =>
    run(host, "chain-sync", {
      WORKER_ID: `${host.name}-w0`,
      BLOCK_STORE_GRPC: grpcOf(host, "block-store"),
      SYNC_LEASE_TTL: "1s",
      SYNC_ACK_WAIT: "3s",
      SYNC_REQUEST_TIMEOUT: "2s",
      SYNC_MAX_WAIT: "3s",
      SYNC_REPLAN_AFTER: "3s",
      ...extra,
    });

  const network: TestNetwork = {
    hosts,
    intruder,
    host(name) {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no host ${name}`);
      return h;
    },
    services: () => hosts.flatMap((h) => h.services),
    async start() {
      // NATS: host-2's takes 8 MB messages (as the devnet's), host-1's only 256 KB
      // (so a transaction within the network's limit still fails to reach its
      // bus: the gateway's NATS publish errors), host-3's the 1 MB default.
      const natsOf = async (h: Host, start: () => Promise<{ url: string; stop(): Promise<void> }>) => {
        const n = await start();
        natsStops.push(() => n.stop());
        h.natsUrl = n.url;
      };
      await Promise.all([
        natsOf(h1, () => startNatsWithConfig("max_payload: 256KB")),
        natsOf(h2, () => startNatsWithConfig("max_payload: 8MB")),
        natsOf(h3, () => startNatsServer({ jetstream: true })),
        natsOf(intruder, () => startNatsServer()),
      ]);

      await Promise.all([
        startGateway(intruder, [], { GENESIS_HASH: "ab".repeat(32) }),
        startStore(h1),
        startStore(h2),
        startStore(h3, { NETWORK: fastShallow }),
      ]);
      await Promise.all([startGateway(h1, [h2, h3, intruder]), startGateway(h2, [h1, h3])]);
      await Promise.all([
        startRegistry(h1, [h2, h3, intruder]),
        startSync(h1),
        run(h1, "block-producer", { PRODUCER_DEVNET_INDEX: "0", BLOCK_STORE_GRPC: grpcOf(h1, "block-store") }),
        // Room for one ban only: the test's operator bans overflow it (TimenetBanListFull).
        startRegistry(h2, [h1], { MAX_BANS: "1" }),
        startSync(h2),
      ]);
      // host-3 joins only once host-1 and host-2 are past its fork, so that
      // neither of them could take its 2-block branch for the longer chain.
      await waitFor(async () => (await h1.height()) >= 4 && (await h2.height()) >= 4, { timeoutMs: 30_000, intervalMs: 100, message: "host-1 and host-2 at height 4" });
      await forkAway(h3, h1, fastShallow);
      // A host whose clock is wrong (its gateway only; the store and
      // chain-sync keep the right time, so that the chain scenario stays).
      await startGateway(h3, [h1, h2], { ...skewedClockEnv(-20_000), CLOCK_MIN_PEERS: "1" });
      await startSync(h3, { NETWORK: fastShallow });
    },
    async stop() {
      for (const h of [...hosts, intruder]) h.close();
      // Every process at once, then the NATS servers, then the data.
      await Promise.allSettled(processes.splice(0).map((p) => p.stop()));
      await Promise.allSettled(natsStops.splice(0).map((stop) => stop()));
      await dir.remove();
    },
  };
  return network;
}

/**
 * host-3's own chain before it meets anyone: a block by a key that is not a
 * producer (refused: a validation failure), then a valid 2-block branch from
 * genesis that no one else has and that host-1 and host-2 do not prefer
 * either (they probe it: a tip below theirs may be a heavier branch). Both
 * blocks are key 0's, like host-1's whole chain, so both branches weigh 1
 * and their first blocks have the same rank; the fork choice's last rule, the
 * lower hash of the first block, must be host-1's, so host-3's is ground
 * until its hash is higher.
 */
async function forkAway(host: Host, producer: Host, networkFile: string): Promise<void> {
  const params = loadNetwork(networkFile);
  const genesis = params.genesis.header!;
  const theirs = blockHash((await producer.store.getBlock({ by: { case: "height", value: 1 } }, { deadlineMs: 5_000 })).block!.header!);
  const at = BigInt(Date.now() - 5_000);
  const make = (height: number, parent: BlockHeader, keyIndex: number, salt: number) => {
    const earliest = earliestTimestampMs(parent.timestampMs, rankAt(height, keyIndex, params), params);
    const timestampMs = height === 1 && at > earliest ? at : earliest;
    return signBlock({ height, prevHash: blockHash(parent), timestampMs, txs: [Buffer.from(`${host.name} branch ${height} ${salt}`)] }, devnetProducerKey(keyIndex));
  };
  const stranger = signBlock({ height: 1, prevHash: blockHash(genesis), timestampMs: at, txs: [Buffer.from(`${host.name} stranger`)] }, devnetProducerKey(7));
  const refused = await host.store.putBlocks({ blocks: [stranger] }, { deadlineMs: 5_000 });
  if (refused.result !== PutResult.INVALID) throw new Error(`${host.name}: a block by a non-producer was not refused: ${PutResult[refused.result]}`);
  let b1 = make(1, genesis, 0, 0);
  for (let salt = 1; Buffer.compare(blockHash(b1.header!), theirs) <= 0; salt++) b1 = make(1, genesis, 0, salt);
  const b2 = make(2, b1.header!, 0, 0);
  const put = await host.store.putBlocks({ blocks: [b1, b2] }, { deadlineMs: 5_000 });
  if (put.result !== PutResult.APPLIED) throw new Error(`${host.name}: its branch was not applied: ${PutResult[put.result]} ${put.detail}`);
}
