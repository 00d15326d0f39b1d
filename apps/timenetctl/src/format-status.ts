import { compareIp } from "@timenet/net-address";
import type { ChainTip, Connection, RecentDisconnect, StatsResponse, StatusResponse } from "@timenet/proto";
import { formatDuration } from "./duration.js";
import { formatFields, formatTable, type Column } from "./format-table.js";
import { formatStatsLine } from "./format-stats.js";
import type { GatewayView } from "./node-probes.js";
import type { Part } from "./part.js";
import type { StatusHeights } from "./status-heights.js";
import * as label from "./status-labels.js";
import { nodeIdLabel } from "./peer-labels.js";
import { formatTimestamp } from "./timestamp.js";

/** Everything `status` asked one node, each service's part on its own. */
export interface NodeStatus {
  node: string;
  targets: { gateway: string; sync: string; store: string; registry: string };
  gateway: Part<GatewayView>;
  sync: Part<StatusResponse>;
  tip: Part<ChainTip>;
  registry: Part<StatsResponse>;
  heights: StatusHeights;
}

type Field = readonly [name: string, value: string];

const PEER_COLUMNS: readonly Column[] = [
  { header: "IP" },
  { header: "DIRECTION" },
  { header: "NODE ID" },
  { header: "LINK" },
  { header: "CONNECTED FOR", align: "right" },
  { header: "RTT MS", align: "right" },
  { header: "HEIGHT", align: "right" },
  { header: "VERSION" },
];

const DISCONNECT_COLUMNS: readonly Column[] = [
  { header: "IP" },
  { header: "REASON" },
  { header: "BY" },
  { header: "WHEN", align: "right" },
  { header: "LIVED", align: "right" },
];

function identityFields(s: NodeStatus, now: number): Field[] {
  if (!s.gateway.ok) return [["gateway", label.unreachableLabel(s.gateway.error)]];
  const info = s.gateway.value.info;
  return [
    ["node id", label.shortHex(info.nodeId)],
    ["version", info.softwareVersion || "-"],
    ["protocol", String(info.protocolVersion)],
    ["network", info.network || "-"],
    ["genesis", label.shortHex(info.genesisHash)],
    ["started", formatTimestamp(info.startedAtMs, now)],
    ["clock", label.clockLabel(info)],
  ];
}

function heightFields(h: StatusHeights): Field[] {
  const ours = h.ours ? `${h.ours.height} (${h.ours.from})` : "unknown";
  const best = h.bestPeer ? `${h.bestPeer.height}${h.bestPeer.ip ? ` at ${h.bestPeer.ip}` : ""} (${h.bestPeer.from})` : "no peers";
  return [
    ["height", ours],
    ["best peer", best],
  ];
}

function syncFields(sync: Part<StatusResponse>): Field[] {
  if (!sync.ok) return [["sync", label.unreachableLabel(sync.error)]];
  const s = sync.value;
  const eta = s.etaSeconds > 0 ? `ETA ${formatDuration(s.etaSeconds * 1000)}` : s.ourHeight >= s.bestPeerHeight ? "caught up" : "ETA unknown";
  return [
    ["sync", `${eta}, ${s.blocksPerSecond.toFixed(1)} blocks/s, batches ${s.batchesPending} pending / ${s.batchesInFlight} in flight / ${s.batchesDone} done`],
    ["workers", `${s.workersSeen} seen${s.planner ? `, planner ${s.planner}` : ""}`],
  ];
}

function storeFields(tip: Part<ChainTip>): Field[] {
  return [["store tip", tip.ok ? `${tip.value.height} ${label.shortHex(tip.value.hash)}` : label.unreachableLabel(tip.error)]];
}

function registryFields(registry: Part<StatsResponse>): Field[] {
  return [["registry", registry.ok ? formatStatsLine(registry.value) : label.unreachableLabel(registry.error)]];
}

export function formatPeerTable(connections: readonly Connection[], now: number): string {
  const rows = [...connections]
    .sort((a, b) => compareIp(a.ip, b.ip))
    .map((c) => [
      c.ip,
      label.directionLabel(c.direction),
      nodeIdLabel(c.nodeId),
      c.encryption || "-",
      label.sinceLabel(c.connectedSinceMs, now),
      label.rttLabel(c.lastRttMs),
      String(c.bestHeight),
      c.softwareVersion || "-",
    ]);
  return formatTable(PEER_COLUMNS, rows);
}

export function formatDisconnects(disconnects: readonly RecentDisconnect[], now: number): string {
  const rows = disconnects.map((d) => [
    d.ip,
    label.reasonLabel(d.reason),
    d.initiator || "-",
    label.agoLabel(d.atMs, now),
    formatDuration(Number(d.livedMs)),
  ]);
  return formatTable(DISCONNECT_COLUMNS, rows);
}

function peerSections(gateway: Part<GatewayView>, now: number): string[] {
  if (!gateway.ok) return ["peers: unreachable", "recent disconnects: unreachable"];
  const { connections, info } = gateway.value;
  const peers = connections.length > 0 ? `peers (${connections.length}):\n${formatPeerTable(connections, now)}` : "peers: none connected";
  const gone = info.recentDisconnects;
  const disconnects = gone.length > 0 ? `recent disconnects (${gone.length}):\n${formatDisconnects(gone, now)}` : "recent disconnects: none";
  return [peers, disconnects];
}

/** The one screen of `timenetctl status`. */
export function formatStatus(s: NodeStatus, now: number): string {
  const fields: Field[] = [
    ["node", `${s.node} (gateway ${s.targets.gateway})`],
    ...identityFields(s, now),
    ...heightFields(s.heights),
    ...syncFields(s.sync),
    ...storeFields(s.tip),
    ...registryFields(s.registry),
  ];
  return [formatFields(fields), ...peerSections(s.gateway, now)].join("\n\n");
}
