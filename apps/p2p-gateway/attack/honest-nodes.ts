import { join } from "node:path";
import { readFile, writeFile } from "node:fs/promises";
import { Bus } from "@timenet/bus";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import { ChainTipSchema, GatewayService, PeerRegistryService, Subjects } from "@timenet/proto";
import type { DevnetHandle } from "./devnet.js";
import { LogTail } from "./log-tail.js";

const SCRAPE_TIMEOUT_MS = 2_000;
const RPC_DEADLINE_MS = 2_000;

/** One scrape of a /metrics endpoint: its text, and how long the service took to answer. */
export interface Scrape {
  text: string;
  ms: number;
  ok: boolean;
}

/**
 * One honest devnet node as the suite observes it: its gateway's, store's
 * and registry's metrics, its gateway's and registry's gRPC, its chain.tip on its
 * own NATS, its gateway's peak RSS from /proc, and the tails of its gateway
 * and registry logs.
 */
export class HonestNode {
  readonly gatewayLog: LogTail;
  readonly registryLog: LogTail;
  private constructor(
    readonly k: number,
    readonly ip: string,
    private readonly urls: { gateway: string; store: string; registry: string },
    readonly gateway: ServiceClient<typeof GatewayService>,
    readonly registry: ServiceClient<typeof PeerRegistryService>,
    private readonly bus: Bus,
    private readonly gatewayPid: number | undefined,
    logs: string,
  ) {
    this.gatewayLog = new LogTail(join(logs, `n${k}-p2p-gateway.log`));
    this.registryLog = new LogTail(join(logs, `n${k}-peer-registry.log`));
  }

  static async connect(net: DevnetHandle, k: number, onTip: (k: number, height: number) => void): Promise<HonestNode> {
    const ip = net.ipOf(k);
    const svc = net.ports.services;
    const bus = await Bus.connect({ servers: `nats://${ip}:${net.ports.nats}`, name: `attack-observer-${k}`, ...net.natsOperator });
    bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => onTip(k, t.height));
    const pid = net.processes().find((p) => p.name === `n${k}-p2p-gateway`)?.pid;
    return new HonestNode(
      k,
      ip,
      {
        gateway: `http://${ip}:${svc["p2p-gateway"]!.metrics}/metrics`,
        store: `http://${ip}:${svc["block-store"]!.metrics}/metrics`,
        registry: `http://${ip}:${svc["peer-registry"]!.metrics}/metrics`,
      },
      createGrpcClient(GatewayService, `${ip}:${svc["p2p-gateway"]!.grpc}`),
      createGrpcClient(PeerRegistryService, `${ip}:${svc["peer-registry"]!.grpc}`),
      bus,
      pid,
      net.logs,
    );
  }

  gatewayMetrics(): Promise<Scrape> {
    return scrape(this.urls.gateway);
  }

  storeMetrics(): Promise<Scrape> {
    return scrape(this.urls.store);
  }

  registryMetrics(): Promise<Scrape> {
    return scrape(this.urls.registry);
  }

  /** Connection id of each established peer IP (undefined when the gateway did not answer). */
  async connections(): Promise<Map<string, number> | undefined> {
    try {
      const r = await this.gateway.listConnections({}, { deadlineMs: RPC_DEADLINE_MS });
      return new Map(r.connections.map((c) => [c.ip, c.connId]));
    } catch {
      return undefined;
    }
  }

  /** The registry's record of a peer: its score and whether it is banned now (undefined when unknown or no answer). */
  async judgement(ip: string): Promise<{ score: number; banned: boolean; banReason: string } | undefined> {
    try {
      const p = (await this.registry.getPeer({ ip }, { deadlineMs: RPC_DEADLINE_MS })).peer;
      return p ? { score: p.score, banned: Number(p.banUntilMs) > Date.now(), banReason: p.banReason } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Restarts the kernel's peak-RSS count of the gateway (VmHWM), so the next read is the peak since now. */
  async resetPeakRss(): Promise<void> {
    if (this.gatewayPid === undefined) return;
    await writeFile(`/proc/${this.gatewayPid}/clear_refs`, "5").catch(() => undefined);
  }

  /** The gateway's peak resident memory since the last reset, in bytes (undefined off Linux). */
  async peakRss(): Promise<number | undefined> {
    if (this.gatewayPid === undefined) return undefined;
    const status = await readFile(`/proc/${this.gatewayPid}/status`, "utf8").catch(() => "");
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  }

  async close(): Promise<void> {
    this.gateway.close();
    this.registry.close();
    await this.bus.close();
  }
}

async function scrape(url: string): Promise<Scrape> {
  const t0 = performance.now();
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) })).text();
    return { text, ms: performance.now() - t0, ok: true };
  } catch {
    return { text: "", ms: performance.now() - t0, ok: false };
  }
}
