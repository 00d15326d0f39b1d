import { create } from "@bufbuild/protobuf";
import { ConnectionEndSchema, ConnectionStateSchema, GatewayRunSchema, StateKeys, type ConnectionState } from "@timenet/proto";
import type { StateBucket } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { GatewayMetrics } from "./metrics.js";
import type { CloseInfo, PeerConnection } from "./peer-connection.js";

export interface ConnectionStateOptions {
  bucket: StateBucket;
  /** This gateway process's run id (its Hello session id). */
  runId: Uint8Array;
  nodeId: string;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Entries of ended connections kept for readers (each IP's last end); the oldest are deleted beyond this. Default 1024. */
  maxEndedEntries?: number;
  /** Writes waiting for NATS; beyond this the queue is dropped and the bucket rewritten whole. Default 10 000. */
  maxQueued?: number;
  /** Pause before a failed write is tried again. Default 1 s. */
  retryMs?: number;
  /** A peer's higher announced block is written at most this often per peer (all due ones together). Default 1 s. */
  announcedEveryMs?: number;
  /** The connections established now (for a rewrite after an overflow). */
  current: () => PeerConnection[];
}

type Write = { key: string; value: ConnectionState } | { key: string; value: undefined };

/**
 * Publishes the gateway's connection set as state (bucket P2P_CONNECTIONS,
 * proto/timenet/p2p/v1/state.proto): the run entry at start, then one entry
 * per peer IP, written when its connection is established and again, with
 * the reason, when it ends. Writes go out one at a time in the order things
 * happened, and a failed write is retried (not skipped), so a watcher sees
 * every close with its reason. Readers never ask the gateway anything.
 */
export class ConnectionStatePublisher {
  private readonly queue: Write[] = [];
  /** Keys whose entry is an ended connection, oldest first, with that connection's id. */
  private readonly ended = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private resyncNeeded = false;
  private started = false;
  private stopped = false;
  private readonly maxEnded: number;
  private readonly maxQueued: number;
  private readonly retryMs: number;
  private readonly announcedEveryMs: number;
  /** Established connections whose peer announced a higher block since their entry was last queued. */
  private readonly announcedSince = new Set<PeerConnection>();
  private announcedTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ConnectionStateOptions) {
    this.maxEnded = o.maxEndedEntries ?? 1024;
    this.maxQueued = o.maxQueued ?? 10_000;
    this.retryMs = o.retryMs ?? 1_000;
    this.announcedEveryMs = o.announcedEveryMs ?? 1_000;
  }

  /**
   * Writes this run's entry and removes the entries of earlier runs (their
   * connections are gone). Entries of connections made meanwhile wait in the
   * queue, so a reader never sees one before the run it belongs to.
   */
  async start(): Promise<void> {
    await this.putRun();
    for (const key of await this.o.bucket.keys(StateKeys.allConnections)) await this.o.bucket.delete(key);
    this.started = true;
    if (this.queue.length > 0) this.kick();
  }

  connected(conn: PeerConnection): void {
    const key = StateKeys.connection(conn.remoteIp);
    this.ended.delete(key);
    this.enqueue({ key, value: this.stateOf(conn) });
  }

  /**
   * The peer announced a higher block: its entry is written again with it
   * (announced_height), so that a reader that starts late or reads the
   * bucket again knows it. At most once per `announcedEveryMs` for all
   * peers together (a liar announcing ever higher costs one write a
   * second), and a write of this connection not yet sent takes the newer
   * value instead of queueing another.
   */
  announced(conn: PeerConnection): void {
    this.announcedSince.add(conn);
    this.announcedTimer ??= setTimeout(() => this.writeAnnounced(), this.announcedEveryMs);
    this.announcedTimer.unref();
  }

  private writeAnnounced(): void {
    this.announcedTimer = undefined;
    const due = [...this.announcedSince];
    this.announcedSince.clear();
    for (const conn of due) {
      // Closed meanwhile: its end is written (with the announced block), and nothing may follow it.
      if (conn.state !== "established") continue;
      const key = StateKeys.connection(conn.remoteIp);
      const value = this.stateOf(conn);
      const last = this.queue.findLastIndex((w) => w.key === key);
      const pending = last >= 0 ? this.queue[last]!.value : undefined;
      // Not the head while the flush loop writes it: the loop shifts it off once written.
      const replaceable = last > 0 || (last === 0 && this.flushing === undefined);
      if (replaceable && pending && !pending.ended && pending.connId === conn.connId) this.queue[last] = { key, value };
      else this.enqueue({ key, value });
    }
  }

  closed(conn: PeerConnection, info: CloseInfo): void {
    this.announcedSince.delete(conn);
    const key = StateKeys.connection(conn.remoteIp);
    const value = this.stateOf(conn);
    value.ended = create(ConnectionEndSchema, { reason: info.reason, livedMs: BigInt(info.livedMs), atMs: BigInt(Date.now()) });
    this.enqueue({ key, value });
    this.ended.delete(key);
    this.ended.set(key, conn.connId);
    // Bounded: the oldest ended entries go (their readers have long seen them).
    for (const [oldKey] of this.ended) {
      if (this.ended.size <= this.maxEnded) break;
      this.ended.delete(oldKey);
      this.enqueue({ key: oldKey, value: undefined });
    }
  }

  /** Waits (at most `timeoutMs`) until every write so far reached NATS. */
  async stop(timeoutMs = 2_000): Promise<void> {
    const drained = this.flushing ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    clearTimeout(this.announcedTimer);
    this.stopped = true;
  }

  private stateOf(conn: PeerConnection): ConnectionState {
    return create(ConnectionStateSchema, {
      ip: conn.remoteIp,
      connId: conn.connId,
      runId: this.o.runId,
      direction: conn.direction,
      connectedAtMs: BigInt(conn.establishedAt),
      hello: conn.peerHello,
      encryption: conn.encryption,
      announcedHeight: conn.announced.height,
      announcedHash: conn.announced.hash,
    });
  }

  private enqueue(w: Write): void {
    if (this.resyncNeeded) return; // the rewrite will carry the current state
    if (this.queue.length >= this.maxQueued) {
      // NATS has been away for long: what is queued is history nobody can use
      // in order any more; rewrite the current state instead (closes in the
      // dropped part lose their reasons, which the registry treats as blameless).
      this.o.logger.warn({ queued: this.queue.length }, "connection-state queue full; the bucket will be rewritten whole");
      this.queue.length = 0;
      this.resyncNeeded = true;
    } else {
      this.queue.push(w);
    }
    this.o.metrics.stateQueue.set(this.queue.length);
    if (this.started) this.kick();
  }

  /** Starts the one flush loop unless it runs already. */
  private kick(): void {
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  private async putRun(): Promise<void> {
    await this.o.bucket.put(StateKeys.gatewayRun, GatewayRunSchema, { runId: this.o.runId, startedAtMs: BigInt(Date.now()), nodeId: this.o.nodeId });
  }

  private async flush(): Promise<void> {
    while (!this.stopped && (this.queue.length > 0 || this.resyncNeeded)) {
      if (this.resyncNeeded) {
        if (!(await this.attempt(() => this.resync()))) continue;
        this.resyncNeeded = false;
        this.o.metrics.stateWrites.inc({ result: "resync" });
        continue;
      }
      const w = this.queue[0]!;
      const ok = await this.attempt(() => (w.value ? this.o.bucket.put(w.key, ConnectionStateSchema, w.value).then(() => undefined) : this.o.bucket.delete(w.key)));
      if (!ok) continue;
      this.queue.shift();
      this.o.metrics.stateQueue.set(this.queue.length);
      this.o.metrics.stateWrites.inc({ result: "ok" });
    }
  }

  /** Runs one write; on failure logs, counts and pauses, and reports false (the caller retries the same write). */
  private async attempt(write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      this.o.metrics.stateWrites.inc({ result: "error" });
      this.o.logger.warn({ err: (err as Error).message, retry_in_ms: this.retryMs }, "cannot write the connection state; retrying");
      await new Promise((r) => setTimeout(r, this.retryMs));
      return false;
    }
  }

  /** The whole state again: this run, the live connections, and no other entry. */
  private async resync(): Promise<void> {
    const { bucket } = this.o;
    await this.putRun();
    const live = new Map(this.o.current().map((c) => [StateKeys.connection(c.remoteIp), c]));
    for (const [key, conn] of live) await bucket.put(key, ConnectionStateSchema, this.stateOf(conn));
    this.ended.clear();
    for (const key of await bucket.keys(StateKeys.allConnections)) if (!live.has(key)) await bucket.delete(key);
  }
}
