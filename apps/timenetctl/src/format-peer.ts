import type { Peer } from "@timenet/proto";
import { formatFields } from "./format-table.js";
import * as label from "./peer-labels.js";
import { formatTimestamp } from "./timestamp.js";

/** Every field of one peer, one per line (`timenetctl peer <ip>`). */
export function formatPeer(p: Peer, now: number): string {
  const time = (ms: bigint, zero?: string) => formatTimestamp(ms, now, zero);
  return formatFields([
    ["ip", p.ip],
    ["port", String(p.port)],
    ["state", label.stateLabel(p)],
    ["direction", label.directionLabel(p)],
    ["node id", label.textLabel(p.nodeId)],
    ["link", label.linkLabel(p)],
    ["software version", label.textLabel(p.softwareVersion)],
    ["network", label.textLabel(p.network)],
    ["best height", String(p.bestHeight)],
    ["best hash", label.hashLabel(p.bestHash)],
    ["source", label.sourceLabel(p)],
    ["flags", label.flagsLabel(p)],
    ["first seen", time(p.firstSeenMs)],
    ["last seen", time(p.lastSeenMs)],
    ["connected since", time(p.connectedSinceMs)],
    ["connection id", p.connId === 0 ? "-" : String(p.connId)],
    ["total connections", String(p.totalConnections)],
    ["last disconnect", label.reasonLabel(p)],
    ["dial failures in a row", String(p.consecutiveDialFailures)],
    ["next dial", time(p.nextDialMs, "any time")],
    ["score", label.scoreLabel(p)],
    ["score computed", time(p.scoreAtMs)],
    ["banned until", time(p.banUntilMs)],
    ["ban reason", label.textLabel(p.banReason)],
    ["times banned", String(p.banCount)],
    ["allow-listed", label.yesNo(p.allowListed)],
    ["persistent", label.yesNo(p.persistent)],
    ["is self", label.yesNo(p.isSelf)],
  ]);
}
