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

/** The clock fields of a gateway's GetInfo. */
export interface ClockInfo {
  clockOffsetMs: number;
  clockPeers: number;
  clockSuspect: boolean;
  clockMinPeers: number;
  clockWarnOffsetMs: bigint;
}

const peersLabel = (n: number): string => `${n} peer${n === 1 ? "" : "s"}`;

/** What a gateway's clock fields say, in the order they are judged: both the `status` line and the `status --all` cell show this. */
type ClockJudgement = "unreported" | "no_peers" | "suspect" | "too_few" | "within";

function judgeClock(c: ClockInfo): ClockJudgement {
  if (c.clockMinPeers === 0) return "unreported";
  if (c.clockPeers === 0) return "no_peers";
  if (c.clockSuspect) return "suspect";
  return c.clockPeers < c.clockMinPeers ? "too_few" : "within";
}

/** |offset| in seconds with one decimal: "20.1". */
const offsetSeconds = (c: ClockInfo): string => (Math.abs(c.clockOffsetMs) / 1000).toFixed(1);

/**
 * Our clock against the peers' (the median of their Hello timestamps):
 * "20.1 s behind the median of 4 peers — check NTP (CLOCK_WARN_OFFSET 5s)",
 * "within 0.2 s of 4 peers".
 */
export function clockLabel(c: ClockInfo): string {
  const size = `${offsetSeconds(c)} s`;
  const side = c.clockOffsetMs < 0 ? `${size} behind` : `${size} ahead of`;
  switch (judgeClock(c)) {
    case "unreported":
      return "not reported by this gateway";
    case "no_peers":
      return "no peers to compare with";
    case "suspect":
      return `${side} the median of ${peersLabel(c.clockPeers)} — check NTP (CLOCK_WARN_OFFSET ${formatDuration(Number(c.clockWarnOffsetMs))})`;
    case "too_few":
      return `${side} the median of ${peersLabel(c.clockPeers)} (too few to judge: ${c.clockMinPeers} needed)`;
    case "within":
      return `within ${size} of ${peersLabel(c.clockPeers)}`;
  }
}

/**
 * The same, in one table cell for `status --all`: our clock minus the peers'
 * median, "-20.1s CHECK NTP" when judged wrong, "+0.2s (1/3 peers)" with too
 * few peers to judge, "no peers", "-" from a gateway that does not report it.
 */
export function clockCell(c: ClockInfo): string {
  const offset = `${c.clockOffsetMs < 0 ? "-" : "+"}${offsetSeconds(c)}s`;
  switch (judgeClock(c)) {
    case "unreported":
      return "-";
    case "no_peers":
      return "no peers";
    case "suspect":
      return `${offset} CHECK NTP`;
    case "too_few":
      return `${offset} (${c.clockPeers}/${c.clockMinPeers} peers)`;
    case "within":
      return offset;
  }
}
