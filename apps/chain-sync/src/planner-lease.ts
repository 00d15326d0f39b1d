import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { RequestError, TimeoutError, type NatsConnection } from "@nats-io/transport-node";
import { TypedEvents, type ListenerErrorHandler } from "@timenet/events";
import { Buckets } from "@timenet/proto";
import { jetStreamLoss } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";

export const LEASE_BUCKET = Buckets.syncLeader;
export const LEASE_KEY = "planner";

export interface PlannerLeaseOptions {
  nc: NatsConnection;
  workerId: string;
  ttlMs: number;
  logger: Logger;
  metrics: SyncMetrics;
  onListenerError: ListenerErrorHandler;
}

export type LeaseEvents = {
  changed: (leader: boolean) => void;
};

type RenewalFailure = "timeout" | "wrong_revision" | "error";
/** When the next attempt comes: the usual period, soon (a failure), or now (the key is ours at a revision just learnt). */
type Next = "period" | "soon" | "now";

/** Attempts in a row that may go at once (each is a KV round trip); then they wait like any retry. */
const MAX_IMMEDIATE_RETRIES = 3;
type DropReason = "other_holder" | "key_gone" | "no_renewal_within_ttl";

function failureReason(err: unknown): RenewalFailure {
  if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)) return "timeout";
  if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) return "wrong_revision";
  return "error";
}

/**
 * Exactly one planner at a time: the replica that creates the key in a KV
 * bucket whose entries live `ttlMs` holds the lease and renews it every third
 * of that, one renewal at a time (the next is scheduled when the previous has
 * settled). A failed renewal is not a lost lease: the key is read, and while
 * it holds our id we stay leader at its revision. Leadership is dropped only
 * when another replica holds the key, or when no renewal has succeeded for a
 * whole TTL (the key may have expired and another replica may lead: safety
 * first). If the holder dies, another replica's create succeeds within the TTL.
 */
export class PlannerLease extends TypedEvents<LeaseEvents> {
  private kv: KV | undefined;
  /** Revision of the key while it holds our id; 0 when it does not (as far as we know). */
  private revision = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  /** Fires a TTL after the last successful renewal was sent. */
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private immediateRetries = 0;
  leader = false;
  holder = "";

  constructor(private readonly o: PlannerLeaseOptions) {
    super(o.onListenerError);
  }

  private get renewEveryMs(): number {
    return Math.max(50, Math.floor(this.o.ttlMs / 3));
  }

  async start(): Promise<void> {
    this.kv = await this.createBucket();
    await this.round();
  }

  private createBucket(): Promise<KV> {
    // A KV call that hangs gives up within a renewal period, leaving time to retry within the TTL.
    const js = jetstream(this.o.nc, { timeout: this.renewEveryMs });
    return new Kvm(js).create(LEASE_BUCKET, { ttl: this.o.ttlMs, history: 1 });
  }

  /**
   * Creates the bucket again if NATS no longer has it (started again without
   * its store): else no replica could ever take the lease again, and nobody
   * would plan. True when it did.
   */
  private async restoreBucketIfLost(): Promise<boolean> {
    try {
      await (await jetstreamManager(this.o.nc, { timeout: this.renewEveryMs })).streams.info(`KV_${LEASE_BUCKET}`);
      return false;
    } catch (err) {
      if (jetStreamLoss(err) !== "stream") return false;
    }
    this.kv = await this.createBucket();
    this.o.metrics.natsStateRestored.inc({ what: "lease_bucket" });
    this.o.logger.warn({ worker: this.o.workerId, bucket: LEASE_BUCKET }, "the planner lease's bucket was gone from NATS (its store lost?): created again");
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.expiryTimer);
    if (this.leader && this.kv) {
      // Hand over at once instead of making the others wait for the TTL.
      await this.kv.delete(LEASE_KEY, { previousSeq: this.revision }).catch(() => undefined);
    }
    this.setLeader(false);
  }

  /** One renewal (or acquisition attempt), then the next one scheduled: never two at once. */
  private async round(): Promise<void> {
    let next = await this.tick();
    if (this.stopped) return;
    if (next === "now" && ++this.immediateRetries > MAX_IMMEDIATE_RETRIES) next = "soon";
    if (next !== "now") this.immediateRetries = 0;
    // After a failure, retry sooner (but never in a tight loop) so one lost call costs little of the TTL.
    const delay = next === "period" ? this.renewEveryMs : next === "soon" ? Math.max(50, Math.floor(this.o.ttlMs / 10)) : 0;
    this.renewTimer = setTimeout(() => void this.round(), delay);
  }

  private async tick(): Promise<Next> {
    const kv = this.kv!;
    const sentAt = Date.now();
    try {
      const revision = this.revision > 0 ? await kv.update(LEASE_KEY, this.o.workerId, this.revision) : await kv.create(LEASE_KEY, this.o.workerId);
      if (this.stopped) return "period";
      this.renewed(revision, sentAt);
      return "period";
    } catch (err) {
      if (this.stopped) return "period";
      if (this.revision > 0) {
        const reason = failureReason(err);
        this.o.metrics.leaseRenewalFailures.inc({ reason });
        this.o.logger.warn({ worker: this.o.workerId, reason, err: (err as Error).message }, "planner lease renewal failed; checking who holds the key");
      }
      return this.checkHolder();
    }
  }

  /** After a failed call: who holds the key decides whether we still lead. */
  private async checkHolder(): Promise<Next> {
    let entry;
    try {
      entry = await this.kv!.get(LEASE_KEY);
    } catch (err) {
      // Unknown: keep what we have; the expiry timer drops leadership if this lasts a TTL.
      this.o.logger.warn({ worker: this.o.workerId, err: (err as Error).message }, "cannot read the planner lease; retrying");
      if (await this.restoreBucketIfLost().catch(() => false)) this.revision = 0; // the key went with it: created anew next
      return "soon";
    }
    if (this.stopped) return "period";
    this.holder = entry?.operation === "PUT" ? entry.string() : "";
    if (this.holder === this.o.workerId) {
      // Ours (a renewal that was written but whose answer was lost): adopt its revision and renew at once.
      this.revision = entry!.revision;
      this.o.logger.info({ worker: this.o.workerId, revision: this.revision }, "planner lease still ours; renewing at its revision");
      return "now";
    }
    const hadKey = this.revision > 0;
    this.revision = 0;
    if (hadKey) this.drop(this.holder === "" ? "key_gone" : "other_holder");
    // A gone key can be created soon; someone else's is retried at the usual pace.
    return this.holder === "" ? "soon" : "period";
  }

  private renewed(revision: number, sentAt: number): void {
    this.revision = revision;
    this.holder = this.o.workerId;
    clearTimeout(this.expiryTimer);
    // The key was written after sentAt, so it lives at least until sentAt + TTL.
    this.expiryTimer = setTimeout(() => this.drop("no_renewal_within_ttl"), Math.max(0, sentAt + this.o.ttlMs - Date.now()));
    this.setLeader(true);
  }

  private drop(reason: DropReason): void {
    clearTimeout(this.expiryTimer);
    if (!this.leader) return;
    this.o.metrics.leaseDropped.inc({ reason });
    this.o.logger.warn({ worker: this.o.workerId, reason, holder: this.holder }, "planner lease lost");
    this.setLeader(false);
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (leader) this.o.logger.info({ worker: this.o.workerId }, "planner lease acquired: this replica plans");
    this.emit("changed", leader);
  }
}
