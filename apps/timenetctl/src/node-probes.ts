import { PORT_PLAN } from "@timenet/config";
import {
  BlockStoreService,
  ChainSyncService,
  GatewayService,
  PeerRegistryService,
  type ChainTip,
  type Connection,
  type GetInfoResponse,
  type StatsResponse,
  type StatusResponse,
} from "@timenet/proto";
import { CliError, ExitCode } from "./cli-error.js";
import { REGISTRY, type ServiceName } from "./grpc-failure.js";
import { probe, type Part } from "./part.js";
import type { Dial } from "./dial.js";

// The questions `status` asks each service of a node; each answer is a Part.

export const GATEWAY: ServiceName = { name: "p2p-gateway", portOption: "--gateway-port" };
export const CHAIN_SYNC: ServiceName = { name: "chain-sync", portOption: "--sync-port" };
export const BLOCK_STORE: ServiceName = { name: "block-store", portOption: "--store-port" };

/** The node's default gRPC ports (the port plan: the same on every host). */
export const DEFAULT_PORTS = {
  gateway: PORT_PLAN.services["p2p-gateway"].grpc,
  registry: PORT_PLAN.services["peer-registry"].grpc,
  sync: PORT_PLAN.services["chain-sync"].grpc,
  store: PORT_PLAN.services["block-store"].grpc,
} as const;

export interface GatewayView {
  info: GetInfoResponse;
  connections: Connection[];
}

/** Who the node is (GetInfo) and its connections (ListConnections), asked together. */
export function probeGateway(target: string, dial: Dial): Promise<Part<GatewayView>> {
  return probe(GatewayService, GATEWAY, target, dial, async (gw, call) => {
    const [info, list] = await Promise.all([gw.getInfo({}, call), gw.listConnections({}, call)]);
    return { info, connections: list.connections };
  });
}

export function probeSync(target: string, dial: Dial): Promise<Part<StatusResponse>> {
  return probe(ChainSyncService, CHAIN_SYNC, target, dial, (sync, call) => sync.status({}, call));
}

/** The store's tip. */
export function probeTip(target: string, dial: Dial): Promise<Part<ChainTip>> {
  return probe(BlockStoreService, BLOCK_STORE, target, dial, async (store, call) => {
    const { tip } = await store.getTip({}, call);
    if (!tip) throw new CliError(`block-store at ${target} answered without a tip`, ExitCode.failure);
    return tip;
  });
}

export function probeRegistry(target: string, dial: Dial): Promise<Part<StatsResponse>> {
  return probe(PeerRegistryService, REGISTRY, target, dial, (registry, call) => registry.stats({}, call));
}
