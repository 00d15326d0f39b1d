// Test harness: a node = a real nats-server + the real p2p-gateway process +
// this peer-registry in-process, on 127.0.0.k.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { GatewayService, PeerRegistryService } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { createLogger } from "@timenet/telemetry";
import { freePort, nodePoolOf, startNatsServer, startServiceProcess, tempDir, waitFor, type NatsServerHandle, type ServiceProcess } from "@timenet/testkit";
import type { PeerEndpoint, PeerIp } from "@timenet/net-address";
import { startRegistry, type PeerRegistry } from "../src/registry.js";
import type { RegistryOptions } from "../src/options.js";

const GATEWAY_MAIN = fileURLToPath(new URL("../../../p2p-gateway/dist/src/main.js", import.meta.url));
const logLevel = process.env.TEST_LOG_LEVEL ?? "silent";

/** Short intervals make timing tests fast; every test can override them. */
export const FAST: Partial<RegistryOptions> = {
  tickMs: 50,
  passiveWaitMs: 300,
  backoffMinMs: 100,
  backoffMaxMs: 2_000,
  stableAfterMs: 500,
  dialGiveUpMs: 3_000,
  peerExchangeIntervalMs: 500,
};

export interface NodeOptions {
  registry?: Partial<RegistryOptions>;
  /** Extra environment for the gateway process. */
  gatewayEnv?: Record<string, string>;
  /** Start without a registry (a bare gateway that only does as told). */
  noRegistry?: boolean;
  /** P2P port (default: a free one), when another node must know it in advance. */
  p2pPort?: number;
}

export interface TestNode {
  readonly ip: PeerIp;
  readonly p2pPort: number;
  readonly endpoint: PeerEndpoint;
  readonly nats: NatsServerHandle;
  /** A client on the node's NATS, as another service would be. */
  readonly bus: Bus;
  gateway: ServiceProcess;
  registry: PeerRegistry | undefined;
  readonly gatewayGrpc: ServiceClient<typeof GatewayService>;
  readonly gatewayMetricsUrl: string;
  readonly dataDir: string;
  registryClient(): ServiceClient<typeof PeerRegistryService>;
  startGateway(): Promise<void>;
  startRegistry(extra?: Partial<RegistryOptions>): Promise<PeerRegistry>;
  stopRegistry(): Promise<void>;
  stop(): Promise<void>;
}

export async function startNode(k: number, o: NodeOptions = {}): Promise<TestNode> {
  const ip = `127.0.0.${k}` as PeerIp;
  const nats = await startNatsServer();
  const bus = await Bus.connect({ servers: nats.url, name: `test-${k}` });
  const dir = await tempDir(`registry-${k}-`);
  const p2pPort = o.p2pPort ?? (await freePort(ip));
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const gatewayEnv: Record<string, string> = {
    NODE_NAME: `gw${k}`,
    P2P_HOST: ip,
    P2P_PORT: String(p2pPort),
    NODE_KEY_FILE: join(dir.path, "node.key"),
    NATS_URL: nats.url,
    GRPC_PORT: String(grpcPort),
    METRICS_PORT: String(metricsPort),
    PING_INTERVAL: "500ms",
    HANDSHAKE_TIMEOUT: "2s",
    DIAL_TIMEOUT: "2s",
    RATE_LIMIT_GET_PEERS: "50/s:50",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL === undefined ? "fatal" : process.env.TEST_LOG_LEVEL,
    ...o.gatewayEnv,
  };
  const gatewayMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const gatewayGrpc = createGrpcClient(GatewayService, `127.0.0.1:${grpcPort}`);
  let lastExtra: Partial<RegistryOptions> = o.registry ?? {};
  const clients: Array<{ close(): void }> = [gatewayGrpc];

  const node: TestNode = {
    ip,
    p2pPort,
    endpoint: { ip, port: p2pPort },
    nats,
    bus,
    gateway: undefined as unknown as ServiceProcess,
    registry: undefined,
    gatewayGrpc,
    gatewayMetricsUrl,
    dataDir: dir.path,
    registryClient() {
      if (!node.registry) throw new Error("no registry running");
      const c = createGrpcClient(PeerRegistryService, `127.0.0.1:${node.registry.grpcPort}`);
      clients.push(c);
      return c;
    },
    async startGateway() {
      node.gateway = await startServiceProcess({
        main: GATEWAY_MAIN,
        env: gatewayEnv,
        readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
        stderr: process.env.TEST_LOG_LEVEL ? "inherit" : "ignore",
      });
    },
    async startRegistry(extra = lastExtra) {
      lastExtra = extra;
      node.registry = await startRegistry({
        node: `r${k}`,
        natsUrl: nats.url,
        dbPath: join(dir.path, "peers"),
        publicIp: ip,
        grpcPort: 0,
        metricsPort: 0,
        logger: createLogger({ service: "peer-registry", node: `r${k}`, level: logLevel, pretty: false }),
        ...FAST,
        ...extra,
      });
      return node.registry;
    },
    async stopRegistry() {
      await node.registry?.stop();
      node.registry = undefined;
    },
    async stop() {
      for (const c of clients) c.close();
      await node.registry?.stop();
      await node.gateway?.stop();
      await bus.close();
      await nats.stop();
      await dir.remove();
    },
  };
  // The gateway first, as in a real node (either order works: both watch the other's state).
  try {
    await node.startGateway();
    if (!o.noRegistry) await node.startRegistry();
  } catch (err) {
    await node.stop(); // a half-started node must not leave a nats-server keeping the test alive
    throw err;
  }
  return node;
}

/** Starts nodes for one test file and stops them all in its `after` hook. */
export function nodePool() {
  return nodePoolOf(startNode);
}

/** The gateway's established connections, by IP, over its real gRPC API. */
export async function gatewayPeers(n: TestNode): Promise<Map<string, { direction: number; connId: number }>> {
  const res = await n.gatewayGrpc.listConnections({});
  return new Map(res.connections.map((c) => [c.ip, { direction: c.direction, connId: c.connId }]));
}

/** "ip#connId, …": what a gateway's peers map holds, for failure messages. */
export function describeConnections(peers: Map<string, { connId: number }>): string {
  return [...peers.entries()].map(([ip, c]) => `${ip}#${c.connId}`).join(", ");
}

/** Sum of a metric's samples (matching labels) from a /metrics text. */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

export async function gatewayMetric(n: TestNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleSum(await (await fetch(n.gatewayMetricsUrl)).text(), name, labels);
}

export async function registryMetric(n: TestNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleSum(await n.registry!.registry.metrics(), name, labels);
}

/** Waits until a and b hold a connection to each other, as their gateways report it. */
export async function waitLinked(a: TestNode, b: TestNode, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await gatewayPeers(a)).has(b.ip) && (await gatewayPeers(b)).has(a.ip), {
    timeoutMs,
    intervalMs: 50,
    message: `${a.ip} <-> ${b.ip} linked`,
  });
}
