/** Subnets tracked at once; the least recently seen is forgotten first (its pressure starts at 0 again). */
const MAX_TRACKED = 4096;

/**
 * How hard each subnet knocks: its new inbound sockets, each weighing 1 when
 * it arrives and fading with a time constant of `tauMs` (default 10 s). An
 * honest peer reconnecting weighs about 1; a subnet whose sockets are evicted
 * and come straight back weighs its reconnect rate times 10 s. Eviction of
 * handshakes uses it so that a flood cannot take back a slot from a quieter
 * subnet (ConnectionManager.evictCrowdedHandshake). Bounded: MAX_TRACKED entries.
 */
export class SubnetPressure {
  private readonly subnets = new Map<string, { value: number; at: number }>();

  constructor(private readonly tauMs = 10_000) {}

  /** One new inbound socket from the subnet. */
  add(subnet: string, now = Date.now()): void {
    const value = this.of(subnet, now) + 1;
    this.subnets.delete(subnet); // re-inserted below: the map's order is recency
    if (this.subnets.size >= MAX_TRACKED) this.subnets.delete(this.subnets.keys().next().value!);
    this.subnets.set(subnet, { value, at: now });
  }

  /** The subnet's pressure now (0 for one not seen, or forgotten). */
  of(subnet: string, now = Date.now()): number {
    const e = this.subnets.get(subnet);
    return e ? e.value * Math.exp(-Math.max(0, now - e.at) / this.tauMs) : 0;
  }
}
