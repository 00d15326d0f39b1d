import { randomBytes } from "node:crypto";
import type { Logger } from "@timenet/telemetry";
import type { Clock, TimerHandle } from "./clock.js";
import type { GatewayMetrics } from "./metrics.js";

/** What the heartbeat asks of its connection. */
export interface HeartbeatHost {
  sendPing(nonce: bigint): void;
  /** A pong answered its ping after rttMs. */
  pong(rttMs: number): void;
  /** That many consecutive pings went unanswered: the link is dead. */
  timedOut(unanswered: number): void;
}

export interface HeartbeatOptions {
  intervalMs: number;
  /** Consecutive unanswered pings that time the link out. */
  missedPongs: number;
  clock: Clock;
  metrics: GatewayMetrics;
  /** The peer's metrics label. */
  peerLabel: string;
  log: Logger;
}

/**
 * Liveness of one established connection: a Ping{nonce} every interval; a
 * Pong clears exactly its own ping and gives the round trip; `missedPongs`
 * consecutive unanswered pings time the link out. Our own stalls are never
 * blamed on the peer: ticks missed while the event loop was blocked are
 * skipped rather than sent as a burst, and the check runs only after the
 * bytes that arrived meanwhile have been read.
 */
export class Heartbeat {
  lastRttMs = 0;
  /** nonce -> sent at, in send order. */
  private readonly outstanding = new Map<bigint, number>();
  private timer: TimerHandle | undefined;
  private lastTickAt = 0;
  private running = false;

  constructor(
    private readonly host: HeartbeatHost,
    private readonly o: HeartbeatOptions,
  ) {}

  start(): void {
    this.running = true;
    this.lastTickAt = this.o.clock.now();
    this.ping();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  onPong(nonce: bigint): void {
    const sentAt = this.outstanding.get(nonce);
    if (sentAt === undefined) {
      this.o.log.debug({ nonce: nonce.toString() }, "pong for no outstanding ping ignored");
      return;
    }
    // This pong clears its own ping; older unanswered pings are lost for good.
    let missed = 0;
    for (const n of this.outstanding.keys()) {
      this.outstanding.delete(n);
      if (n === nonce) break;
      missed++;
    }
    const peer = { peer: this.o.peerLabel };
    if (missed > 0) this.o.metrics.pongsMissed.inc(peer, missed);
    this.lastRttMs = this.o.clock.now() - sentAt;
    this.o.metrics.pongsReceived.inc(peer);
    this.o.metrics.rtt.observe(peer, this.lastRttMs / 1000);
    this.host.pong(this.lastRttMs);
  }

  private schedule(): void {
    // Sending the ping may have closed the connection (send queue full).
    if (this.running) this.timer = this.o.clock.setTimeout(() => this.tick(), this.o.intervalMs);
  }

  private tick(): void {
    const now = this.o.clock.now();
    const elapsed = now - this.lastTickAt;
    this.lastTickAt = now;
    // Check after the poll phase, so pongs that arrived while the event loop
    // was busy are read before we count them as missing.
    this.o.clock.setImmediate(() => {
      if (!this.running) return;
      if (elapsed > 2 * this.o.intervalMs) {
        // The event loop stalled: the missed ticks are skipped (no burst of
        // pings) and the stall is not blamed on the peer.
        this.o.log.warn({ stalled_ms: Math.round(elapsed - this.o.intervalMs) }, "event loop stalled; skipping missed ping ticks");
      } else if (this.outstanding.size >= this.o.missedPongs) {
        const unanswered = this.outstanding.size;
        this.o.metrics.pongsMissed.inc({ peer: this.o.peerLabel }, unanswered);
        this.stop();
        this.host.timedOut(unanswered);
        return;
      }
      this.ping();
      this.schedule();
    });
  }

  private ping(): void {
    const nonce = randomBytes(8).readBigUInt64BE();
    this.outstanding.set(nonce, this.o.clock.now());
    this.o.metrics.pingsSent.inc({ peer: this.o.peerLabel });
    this.host.sendPing(nonce);
  }
}
