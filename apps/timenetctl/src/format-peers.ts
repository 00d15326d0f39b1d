import { compareIp } from "@timenet/net-address";
import type { Peer } from "@timenet/proto";
import { formatTable, type Column } from "./format-table.js";
import * as label from "./peer-labels.js";

const COLUMNS: readonly Column[] = [
  { header: "IP" },
  { header: "PORT", align: "right" },
  { header: "NODE ID" },
  { header: "LINK" },
  { header: "STATE" },
  { header: "DIR" },
  { header: "CONNECTED FOR", align: "right" },
  { header: "HEIGHT", align: "right" },
  { header: "SCORE", align: "right" },
  { header: "SOURCE" },
  { header: "FLAGS" },
  { header: "LAST DISCONNECT" },
  { header: "BAN" },
];

/** The `timenetctl peers` table, sorted by IP. */
export function formatPeersTable(peers: readonly Peer[], now: number): string {
  const rows = [...peers]
    .sort((a, b) => compareIp(a.ip, b.ip))
    .map((p) => [
      p.ip,
      String(p.port),
      label.nodeIdLabel(p.nodeId),
      label.linkLabel(p),
      label.stateLabel(p),
      label.directionShort(p),
      label.connectedFor(p, now),
      String(p.bestHeight),
      label.scoreLabel(p),
      label.sourceLabel(p),
      label.flagsLabel(p),
      label.reasonLabel(p),
      label.banLabel(p, now),
    ]);
  return formatTable(COLUMNS, rows);
}
