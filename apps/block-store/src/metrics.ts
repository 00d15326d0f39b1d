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
  readonly putsPerCommit: Histogram;
  readonly blocksServed: Counter;
  readonly finalHeight: Gauge;
  readonly sideBlocks: Gauge;
  readonly sideBytes: Gauge;
  readonly sideFill: Gauge;
  readonly sidePruned: Counter<"reason">;
  readonly heldBlocks: Gauge;
  readonly heldBytes: Gauge;
  readonly holdResults: Counter<"result">;
  readonly serveRequests: Counter<"result" | "reason">;
  readonly serveBytes: Counter;
  readonly serveLatency: Histogram;
  readonly serveQueueDepth: Gauge;
  readonly servePeers: Gauge;
  readonly serveBacklogBytes: Gauge;
  readonly serveWorkerUp: Gauge;
  readonly verifyWorkerRestarts: Counter;
  readonly verifyFallbacks: Counter<"reason">;
  readonly importQueue: Gauge;
  readonly importRefused: Counter;
  readonly checksDeferred: Counter<"outcome">;
  readonly putsReordered: Counter<"outcome">;
  readonly serveWorkerRestarts: Counter<"reason">;

  constructor(registry: Registry) {
    const r = [registry];
    this.height = new Gauge({ name: "timenet_store_height", help: "Height of the main chain's tip", registers: r });
    this.blocksApplied = new Counter({ name: "timenet_store_blocks_applied_total", help: "Blocks that joined the main chain (appended or switched to)", registers: r });
    this.putRequests = new Counter({
      name: "timenet_store_put_requests_total",
      help: "PutBlocks calls by result: applied, already_have, parent_unknown, invalid, fork_too_deep, fork_not_preferred, held, too_early",
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
      help: "Time of each LMDB write transaction of PutBlocks, commit included (one put, or a group of queued puts)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    });
    this.putsPerCommit = new Histogram({
      name: "timenet_store_puts_per_commit",
      help: "PutBlocks calls written by each LMDB transaction: more than 1 when puts queue for the writer (group commit, STORE_GROUP_COMMIT_PUTS at most)",
      buckets: [1, 2, 4, 8, 16],
      registers: r,
    });
    this.blocksServed = new Counter({ name: "timenet_store_blocks_served_total", help: "Blocks sent to peers in answer to GetBlocks", registers: r });
    this.finalHeight = new Gauge({ name: "timenet_store_final_height", help: "Blocks at or below this height are final: never reorged", registers: r });
    this.sideBlocks = new Gauge({ name: "timenet_store_side_blocks", help: "Valid blocks kept aside on branches the fork choice does not prefer", registers: r });
    this.sideBytes = new Gauge({ name: "timenet_store_side_bytes", help: "Bytes of the blocks kept aside", registers: r });
    this.sideFill = new Gauge({ name: "timenet_store_side_fill_ratio", help: "How full the side-branch cap is: the larger of blocks/STORE_SIDE_MAX_BLOCKS and bytes/STORE_SIDE_MAX_BYTES", registers: r });
    this.sidePruned = new Counter({
      name: "timenet_store_side_pruned_total",
      help: "Side blocks deleted: final (at or below the final height, can never win) or cap (the oldest heights, to stay within the cap)",
      labelNames: ["reason"],
      registers: r,
    });
    this.heldBlocks = new Gauge({ name: "timenet_store_held_blocks", help: "Blocks held in memory until their timestamp is within max_future_drift_ms of our clock", registers: r });
    this.heldBytes = new Gauge({ name: "timenet_store_held_bytes", help: "Bytes of the blocks held for later", registers: r });
    this.holdResults = new Counter({
      name: "timenet_store_hold_total",
      help: "Runs of early blocks: held, full (the hold is full: too_early), too_far (further ahead than STORE_HOLD_MAX_AHEAD: too_early), released (offered to the chain when due), dropped (did not apply when due)",
      labelNames: ["result"],
      registers: r,
    });
    this.serveRequests = new Counter({
      name: "timenet_store_serve_requests_total",
      help:
        "Peers' GetBlocks by result (served, short: cut by a budget, refused: answered with no blocks) and reason (none, peer_budget, global_budget, peers_full, queue_full, peer_queue_full, nats_backlog, worker_down, worker_crashed, read_failed, stopping)",
      labelNames: ["result", "reason"],
      registers: r,
    });
    this.serveBytes = new Counter({ name: "timenet_store_serve_bytes_total", help: "Bytes of blocks sent to peers in answer to GetBlocks", registers: r });
    this.serveLatency = new Histogram({
      name: "timenet_store_serve_latency_seconds",
      help: "From a peer's GetBlocks arriving to its answer being published",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    });
    this.serveQueueDepth = new Gauge({ name: "timenet_store_serve_queue_depth", help: "GetBlocks handed to the serving thread and not yet answered (bound: SERVE_QUEUE)", registers: r });
    this.servePeers = new Gauge({ name: "timenet_store_serve_peers", help: "Peers with a serving byte budget tracked (bound: SERVE_MAX_PEERS)", registers: r });
    this.serveBacklogBytes = new Gauge({
      name: "timenet_store_serve_backlog_bytes",
      help: "Bytes of answers published and not yet taken by the NATS server (bound: SERVE_MAX_BACKLOG)",
      registers: r,
    });
    this.serveWorkerUp = new Gauge({ name: "timenet_store_serve_worker_up", help: "1 while the serving worker thread is running", registers: r });
    this.verifyWorkerRestarts = new Counter({ name: "timenet_store_verify_worker_restarts_total", help: "Validation worker threads replaced after ending unasked", registers: r });
    this.verifyFallbacks = new Counter({
      name: "timenet_store_verify_fallbacks_total",
      help: "Puts whose stateless checks ran on the writer's thread instead of the workers (reason: queue_full, worker_exited)",
      labelNames: ["reason"],
      registers: r,
    });
    this.importQueue = new Gauge({ name: "timenet_store_import_queue", help: "PutBlocks calls accepted and not yet answered (at most STORE_IMPORT_QUEUE)", registers: r });
    this.importRefused = new Counter({
      name: "timenet_store_import_refused_total",
      help: "PutBlocks calls refused (RESOURCE_EXHAUSTED) because STORE_IMPORT_QUEUE puts were already waiting for the writer",
      registers: r,
    });
    this.checksDeferred = new Counter({
      name: "timenet_store_checks_deferred_total",
      help: "Puts whose parent was neither stored nor queued when they came, so not verified ahead; at their turn: parent_unknown (answered without verifying a signature) or verified (the parent had come)",
      labelNames: ["outcome"],
      registers: r,
    });
    // Both outcomes exist from the start, so a dashboard shows 0 rather than no data.
    for (const outcome of ["parent_unknown", "verified"]) this.checksDeferred.inc({ outcome }, 0);
    this.putsReordered = new Counter({
      name: "timenet_store_puts_reordered_total",
      help: "Puts that came before the put ending at their parent (puts sent together can arrive out of order) and waited up to STORE_PARENT_WAIT for it: parent_came (then checked and written right after it, as if in order), parent_stored (the parent was stored another way: inside a longer put, or released from the hold; queued at once) or waited_out (then answered at their turn as before)",
      labelNames: ["outcome"],
      registers: r,
    });
    for (const outcome of ["parent_came", "parent_stored", "waited_out"]) this.putsReordered.inc({ outcome }, 0);
    this.serveWorkerRestarts = new Counter({
      name: "timenet_store_serve_worker_restarts_total",
      help: "Serving worker threads that ended unasked and were restarted, by reason: error (an uncaught error), exit (ended without one)",
      labelNames: ["reason"],
      registers: r,
    });
  }
}
