import type { PeerIp } from "@timenet/net-address";
import type { Logger } from "@timenet/telemetry";
import type { Clock, WallClock } from "./clock.js";
import type { GatewayMetrics } from "./metrics.js";

/**
 * What one completed handshake tells about the peer's wall clock: its Hello's
 * timestamp_ms, when that Hello reached us on our monotonic clock, and the
 * handshake's round trip that brought it (the dialler: its first Noise
 * message out, the one carrying the peer's Hello back; the acceptor: its own
 * Hello's message out, the peer's with its Hello back). The peer made its
 * Hello about half of it before we read it.
 */
export interface ClockSample {
  peerTimestampMs: number;
  receivedMonoMs: number;
  rttMs: number;
}

/** Our clock against the connected peers' at one instant. */
export interface ClockVerdict {
  /**
   * Our wall clock minus the median of the peers' clocks, in milliseconds:
   * negative when ours is behind. 0 with no samples.
   */
  offsetMs: number;
  /** Connected peers with a sample. */
  peers: number;
  /** Enough peers to judge (at least minPeers). */
  judged: boolean;
  /** Judged, and |offsetMs| above the warning threshold. */
  suspect: boolean;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The verdict on our clock from each peer's offset (ours minus theirs).
 * The median, not the mean: with three or more peers one peer with a wrong
 * clock (or one lying in its Hello) cannot move it beyond the honest ones.
 */
export function judgeClock(offsetsMs: readonly number[], warnOffsetMs: number, minPeers: number): ClockVerdict {
  const offsetMs = median(offsetsMs);
  const judged = offsetsMs.length >= minPeers;
  return { offsetMs, peers: offsetsMs.length, judged, suspect: judged && Math.abs(offsetMs) > warnOffsetMs };
}

export interface ClockOffsetsOptions {
  clock: Clock;
  wallClock: WallClock;
  /** |median offset| above this makes our clock suspect (CLOCK_WARN_OFFSET). */
  warnOffsetMs: number;
  /** Samples needed to judge (CLOCK_MIN_PEERS). */
  minPeers: number;
  metrics: GatewayMetrics;
  logger: Logger;
}

/**
 * Our wall clock as our peers see it. Each connected peer IP keeps the one
 * sample of its kept connection's handshake (so at most one per connection;
 * dropped when the connection ends). A sample fixes the peer's clock against
 * our monotonic clock:
 *
 *   peer clock at monotonic m  ≈  timestamp_ms + rtt/2 + (m − received_mono)
 *
 * (the Hello took about half the handshake round trip to reach us), and each
 * evaluation compares it with our wall clock now. So a step of our wall clock
 * (NTP fixing it) shows at the next evaluation, without waiting for
 * reconnects; a peer's clock is assumed to run at the rate of ours.
 *
 * It only observes: a peer's clock is never a reason to refuse, close or
 * report it, and ours being wrong is our operator's problem (a metric, a log
 * line, `timenetctl status`).
 */
export class ClockOffsets {
  /** Per peer: its clock minus our monotonic clock, in ms. */
  private readonly bases = new Map<PeerIp, number>();
  private suspect = false;

  constructor(private readonly o: ClockOffsetsOptions) {}

  add(ip: PeerIp, s: ClockSample): void {
    this.bases.set(ip, s.peerTimestampMs + s.rttMs / 2 - s.receivedMonoMs);
    this.evaluate();
  }

  remove(ip: PeerIp): void {
    if (this.bases.delete(ip)) this.evaluate();
  }

  /** Each peer's offset now: our wall clock minus its clock, in ms. */
  offsets(): number[] {
    const ours = this.o.wallClock() - this.o.clock.now();
    return [...this.bases.values()].map((base) => ours - base);
  }

  /** Judges our clock now: sets the gauges, and logs when it turns suspect or recovers. */
  evaluate(): ClockVerdict {
    const v = judgeClock(this.offsets(), this.o.warnOffsetMs, this.o.minPeers);
    const m = this.o.metrics;
    m.clockOffset.set(v.offsetMs / 1000);
    m.clockPeers.set(v.peers);
    m.clockSuspect.set(v.suspect ? 1 : 0);
    if (v.suspect !== this.suspect) {
      this.suspect = v.suspect;
      const fields = { clock_offset_ms: Math.round(v.offsetMs), clock_peers: v.peers, clock_warn_offset_ms: this.o.warnOffsetMs };
      if (v.suspect) {
        this.o.logger.warn(
          fields,
          `our clock looks wrong: ${describeOffset(v.offsetMs)} the median of ${v.peers} peers' clocks (more than CLOCK_WARN_OFFSET); check NTP on this host (peers are not penalised for it)`,
        );
      } else if (v.judged) {
        this.o.logger.info(fields, `our clock agrees with our peers again: ${describeOffset(v.offsetMs)} the median of ${v.peers} peers' clocks`);
      } else {
        this.o.logger.info(fields, `too few peers to judge our clock now (${v.peers} of ${this.o.minPeers} needed)`);
      }
    }
    return v;
  }
}

/** "20.1 s behind", "0.3 s ahead of". */
export function describeOffset(offsetMs: number): string {
  const s = (Math.abs(offsetMs) / 1000).toFixed(1);
  return offsetMs < 0 ? `${s} s behind` : `${s} s ahead of`;
}
