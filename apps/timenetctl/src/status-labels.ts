import { DirectionSchema, DisconnectReasonSchema, type Direction, type DisconnectReason, enumLabel } from "@timenet/proto";
import { formatDuration } from "./duration.js";

// Short readable values of a node's identity and connections, shared by `status` and `status --all`.

/** The first 16 hex digits of a hash or key (bytes or hex text); "-" when empty. */
export function shortHex(value: Uint8Array | string, digits = 16): string {
  const hex = typeof value === "string" ? value : Buffer.from(value).toString("hex");
  return hex === "" ? "-" : hex.slice(0, digits);
}

export const fullHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** "inbound" / "outbound". */
export const directionLabel = (d: Direction): string => enumLabel(DirectionSchema, d, "-");

/** "ping_timeout", "duplicate", ... */
export const reasonLabel = (r: DisconnectReason): string => enumLabel(DisconnectReasonSchema, r, "-");

/** A round-trip time in ms with one decimal; "-" before the first pong. */
export const rttLabel = (ms: number): string => (ms > 0 ? ms.toFixed(1) : "-");

/** How long since a Unix-ms time: "5m 3s"; "-" when unset. */
export const sinceLabel = (atMs: bigint, now: number): string => (atMs === 0n ? "-" : formatDuration(now - Number(atMs)));

/** The same as "5m 3s ago". */
export const agoLabel = (atMs: bigint, now: number): string => (atMs === 0n ? "-" : `${sinceLabel(atMs, now)} ago`);

/** What a report shows for a service that did not answer. */
export const unreachableLabel = (error: string): string => `unreachable (${error})`;
