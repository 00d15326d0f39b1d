import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@timenet/telemetry";
import { TypedEvents, type ListenerErrorHandler } from "@timenet/events";

export const LEASE_BUCKET = "SYNC_LEADER";
const KEY = "planner";

/**
 * Exactly one planner at a time: the replica that creates the key in a KV
 * bucket whose entries live `ttlMs` holds the lease and renews it every
 * third of that. If it dies, the entry expires and another replica's create
 * succeeds: failover within the TTL. Emits "changed" (isLeader).
 */
export type LeaseEvents = {
  changed: (leader: boolean) => void;
};

export class PlannerLease extends TypedEvents<LeaseEvents> {
  private kv: KV | undefined;
  private revision = 0;
  private timer: NodeJS.Timeout | undefined;
  leader = false;
  holder = "";

  constructor(
    private readonly nc: NatsConnection,
    private readonly workerId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
    onListenerError: ListenerErrorHandler,
  ) {
    super(onListenerError);
  }

  async start(): Promise<void> {
    this.kv = await new Kvm(this.nc).create(LEASE_BUCKET, { ttl: this.ttlMs, history: 1 });
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 3)));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.leader && this.kv) {
      // Hand over at once instead of making the others wait for the TTL.
      await this.kv.delete(KEY, { previousSeq: this.revision }).catch(() => undefined);
    }
    this.setLeader(false);
  }

  private async tick(): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    try {
      if (this.leader) {
        this.revision = await kv.update(KEY, this.workerId, this.revision);
      } else {
        this.revision = await kv.create(KEY, this.workerId);
        this.setLeader(true);
      }
      this.holder = this.workerId;
    } catch {
      // Someone else holds it (or our renewal lost a race after a pause).
      if (this.leader) this.logger.warn({ worker: this.workerId }, "planner lease lost");
      this.setLeader(false);
      const e = await kv.get(KEY).catch(() => null);
      this.holder = e && e.operation === "PUT" ? e.string() : "";
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    if (leader) this.logger.info({ worker: this.workerId }, "planner lease acquired: this replica plans");
    this.emit("changed", leader);
  }
}
