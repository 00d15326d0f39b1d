import type { StatsResponse } from "@timenet/proto";
import { formatFields } from "./format-table.js";

/** The line under the peers table. */
export function formatStatsLine(s: StatsResponse): string {
  return (
    `connected ${s.connected} (in ${s.inbound} / out ${s.outbound}), disconnected ${s.disconnected}, ` +
    `banned ${s.banned}, book size ${s.bookSize}, target outbound ${s.targetOutbound}`
  );
}

/** `timenetctl stats`. */
export function formatStats(s: StatsResponse): string {
  return formatFields([
    ["connected", String(s.connected)],
    ["inbound", String(s.inbound)],
    ["outbound", String(s.outbound)],
    ["target outbound", String(s.targetOutbound)],
    ["disconnected", String(s.disconnected)],
    ["banned", String(s.banned)],
    ["book size", String(s.bookSize)],
    ["dials pending", String(s.dialsPending)],
  ]);
}
