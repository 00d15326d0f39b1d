import { DisconnectReasonSchema, PeerDirection, PeerDirectionSchema, PeerSourceSchema, PeerStateSchema, type Peer, enumLabel } from "@timenet/proto";
import { formatDuration } from "./duration.js";

// Short readable values of one peer's fields, shared by the table and the detail view.

export const stateLabel = (p: Peer): string => enumLabel(PeerStateSchema, p.state, "-");
export const sourceLabel = (p: Peer): string => enumLabel(PeerSourceSchema, p.source, "-");
export const reasonLabel = (p: Peer): string => enumLabel(DisconnectReasonSchema, p.lastDisconnectReason, "-");
export const directionLabel = (p: Peer): string => enumLabel(PeerDirectionSchema, p.direction, "-");

/** "in" / "out", for a narrow column. */
export function directionShort(p: Peer): string {
  if (p.direction === PeerDirection.INBOUND) return "in";
  if (p.direction === PeerDirection.OUTBOUND) return "out";
  return directionLabel(p);
}

export function flagsLabel(p: Peer): string {
  const flags = [p.allowListed && "allow-listed", p.persistent && "persistent", p.isSelf && "self"].filter(Boolean);
  return flags.length > 0 ? flags.join(",") : "-";
}

/** The node id, short (16 hex digits, as the gateway logs it), or "-". */
export function nodeIdLabel(nodeId: string): string {
  return nodeId ? nodeId.slice(0, 16) : "-";
}

/** How the current connection is protected ("noise-xx"), or "-" when not connected. */
export function linkLabel(p: Peer): string {
  return p.connId !== 0 && p.encryption ? p.encryption : "-";
}

/** How long it has been connected, or "-". */
export function connectedFor(p: Peer, now: number): string {
  return p.connectedSinceMs === 0n ? "-" : formatDuration(now - Number(p.connectedSinceMs));
}

/** The remaining ban time and its reason ("1h 59m (spam)"), or "-" when not banned. */
export function banLabel(p: Peer, now: number): string {
  const left = Number(p.banUntilMs) - now;
  if (p.banUntilMs === 0n || left <= 0) return "-";
  return p.banReason ? `${formatDuration(left)} (${p.banReason})` : formatDuration(left);
}

export const scoreLabel = (p: Peer): string => p.score.toFixed(1);

export const hashLabel = (bytes: Uint8Array): string => (bytes.length === 0 ? "-" : Buffer.from(bytes).toString("hex"));

export const textLabel = (s: string): string => (s === "" ? "-" : s);

export const yesNo = (b: boolean): string => (b ? "yes" : "no");
