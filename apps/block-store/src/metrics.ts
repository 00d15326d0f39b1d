import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Every metric of the block-store, created in one place. Labels are enums
 * (result, reason): never a hash or a peer.
 */
export class StoreMetrics {
  readonly height: Gauge;
  readonly blocksApplied: Counter;
  readonly putRequests: Counter<"result">;
  readonly validationFailures: Counter<"reason">;
  readonly reorgs: Counter<"result">;
  readonly reorgDepth: Histogram;
  readonly writeLatency: Histogram;
  readonly blocksServed: Counter;

  constructor(registry: Registry) {
    const r = [registry];
    this.height = new Gauge({ name: "timenet_store_height", help: "Height of the main chain's tip", registers: r });
    this.blocksApplied = new Counter({ name: "timenet_store_blocks_applied_total", help: "Blocks that joined the main chain (appended or switched to)", registers: r });
    this.putRequests = new Counter({
      name: "timenet_store_put_requests_total",
      help: "PutBlocks calls by result: applied, already_have, parent_unknown, invalid, fork_too_deep, fork_not_preferred",
      labelNames: ["result"],
      registers: r,
    });
    this.validationFailures = new Counter({ name: "timenet_store_validation_failures_total", help: "Blocks refused by the chain rules, by reason", labelNames: ["reason"], registers: r });
    this.reorgs = new Counter({ name: "timenet_store_reorgs_total", help: "Valid forks seen: switched to, too_deep (refused), not_preferred (kept aside)", labelNames: ["result"], registers: r });
    this.reorgDepth = new Histogram({
      name: "timenet_store_reorg_depth",
      help: "Main-chain blocks replaced by each switch to a fork",
      buckets: [1, 2, 3, 5, 10, 20, 50, 100],
      registers: r,
    });
    this.writeLatency = new Histogram({
      name: "timenet_store_write_latency_seconds",
      help: "Time of each PutBlocks LMDB transaction (commit included)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    });
    this.blocksServed = new Counter({ name: "timenet_store_blocks_served_total", help: "Blocks sent to peers in answer to GetBlocks", registers: r });
  }
}
