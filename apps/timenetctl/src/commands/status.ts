import { ChainTipSchema, ConnectionSchema, GetInfoResponseSchema, StatsResponseSchema, StatusResponseSchema, type ChainTip } from "@timenet/proto";
import type { MutualTls } from "@timenet/grpc";
import { CliError, ExitCode } from "../cli-error.js";
import type { CommandReport } from "../command-report.js";
import { formatStatus, type NodeStatus } from "../format-status.js";
import { jsonValue } from "../json-text.js";
import { probeGateway, probeRegistry, probeSync, probeTip, type GatewayView } from "../node-probes.js";
import { partJson } from "../part.js";
import { statusHeights } from "../status-heights.js";

export interface StatusRequest {
  /** The node as the operator named it. */
  node: string;
  targets: NodeStatus["targets"];
  timeoutMs: number;
  /** The operator's client cert (mutual TLS), if any. */
  tls?: MutualTls | undefined;
  json: boolean;
  now(): number;
}

export const gatewayJson = (g: GatewayView) => ({
  info: jsonValue(GetInfoResponseSchema, g.info),
  connections: g.connections.map((c) => jsonValue(ConnectionSchema, c)),
});

export const tipJson = (tip: ChainTip) => ({ tip: jsonValue(ChainTipSchema, tip) });

/** The JSON of `status --json`: every part, each the service's protobuf JSON or `{unreachable, error}`. */
export function statusJson(s: NodeStatus): unknown {
  return {
    node: s.node,
    targets: s.targets,
    heights: s.heights,
    gateway: partJson(s.gateway, gatewayJson),
    chainSync: partJson(s.sync, (v) => jsonValue(StatusResponseSchema, v)),
    blockStore: partJson(s.tip, tipJson),
    registry: partJson(s.registry, (v) => jsonValue(StatsResponseSchema, v)),
  };
}

/**
 * `timenetctl status`: asks the node's gateway, chain-sync, block-store and
 * registry at once; a service that does not answer is shown unreachable. Only
 * an unreachable gateway makes it fail (exit 3).
 */
export async function statusCommand(r: StatusRequest): Promise<CommandReport> {
  const [gateway, sync, tip, registry] = await Promise.all([
    probeGateway(r.targets.gateway, r),
    probeSync(r.targets.sync, r),
    probeTip(r.targets.store, r),
    probeRegistry(r.targets.registry, r),
  ]);
  const status: NodeStatus = { node: r.node, targets: r.targets, gateway, sync, tip, registry, heights: statusHeights(gateway, sync, tip) };
  const text = r.json ? JSON.stringify(statusJson(status), null, 2) : formatStatus(status, r.now());
  return gateway.ok ? { text } : { text, failure: new CliError(gateway.error, ExitCode.unreachable) };
}
