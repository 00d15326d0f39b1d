import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Every metric of chain-sync, created in one place; labels are enums. */
export class SyncMetrics {
  readonly ourHeight: Gauge;
  readonly bestPeerHeight: Gauge;
  readonly batches: Counter<"result">;
  readonly batchesPlanned: Counter;
  readonly batchLatency: Histogram;
  readonly blocksApplied: Counter;
  readonly validationFailures: Counter<"reason">;
  readonly offences: Counter<"kind">;
  readonly plannerLeader: Gauge;
  readonly workersSeen: Gauge;
  readonly bufferedBlocks: Gauge;
  readonly forkFetches: Counter<"result">;
  readonly forkProbes: Counter<"result">;
  readonly tipsAnnounced: Counter<"result">;
  readonly listenerErrors: Counter<"event">;
  readonly batchesRefused: Counter<"by">;
  readonly leaseRenewalFailures: Counter<"reason">;
  readonly natsStateRestored: Counter<"what">;
  readonly leaseDropped: Counter<"reason">;
  readonly plannedUpTo: Gauge;
  readonly windowBlocks: Gauge;
  readonly batchBlocks: Gauge;
  readonly claimsDistrusted: Counter<"reason">;
  readonly standingEntries: Gauge;
  readonly puts: Counter<"result">;
  readonly fetches: Counter<"result">;
  readonly pushedBlocks: Counter<"result">;

  constructor(registry: Registry) {
    const r = [registry];
    this.ourHeight = new Gauge({ name: "timenet_sync_our_height", help: "Height of our chain (the block-store's tip)", registers: r });
    this.bestPeerHeight = new Gauge({ name: "timenet_sync_best_peer_height", help: "Highest height a connected peer in good standing claims (a peer out of standing counts only up to what it served)", registers: r });
    this.batches = new Counter({
      name: "timenet_sync_batches_total",
      help: "Batches finished by this worker, by outcome (README: chain-sync, what each does to the batch and whether the peer is reported)",
      labelNames: ["result"],
      registers: r,
    });
    this.batchesPlanned = new Counter({ name: "timenet_sync_batches_planned_total", help: "Batches published by the planner", registers: r });
    this.batchLatency = new Histogram({
      name: "timenet_sync_batch_latency_seconds",
      help: "From taking a batch to the store's answer (fetch, validation, write)",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    });
    this.puts = new Counter({ name: "timenet_sync_puts_total", help: "PutBlocks calls to the store, by result (parent_unknown ahead of the tip is work wasted; store_busy: its writer queue was full, offered again)", labelNames: ["result"], registers: r });
    this.pushedBlocks = new Counter({
      name: "timenet_sync_pushed_blocks_total",
      help: "Blocks peers pushed with their announcement, by result: the store's answer to the put (applied, already_have, invalid, ...), or not_next (does not extend our tip), in_flight (the same block is being put), busy, undecodable, store_failed",
      labelNames: ["result"],
      registers: r,
    });
    this.fetches = new Counter({ name: "timenet_sync_fetches_total", help: "GetBlocks asked of peers, by result (blocks, short, busy, timeout, ...)", labelNames: ["result"], registers: r });
    this.blocksApplied = new Counter({ name: "timenet_sync_blocks_applied_total", help: "Blocks this worker got written to the store", registers: r });
    this.validationFailures = new Counter({ name: "timenet_sync_validation_failures_total", help: "Batches the store found invalid, by reason", labelNames: ["reason"], registers: r });
    this.offences = new Counter({ name: "timenet_sync_offences_total", help: "Offences reported against peers, by kind", labelNames: ["kind"], registers: r });
    this.plannerLeader = new Gauge({ name: "timenet_sync_planner_leader", help: "1 while this replica holds the planner lease", registers: r });
    this.workersSeen = new Gauge({ name: "timenet_sync_workers_seen", help: "chain-sync replicas heard from recently", registers: r });
    this.bufferedBlocks = new Gauge({ name: "timenet_sync_buffered_blocks", help: "Fetched blocks waiting for the chain to reach them", registers: r });
    this.forkFetches = new Counter({ name: "timenet_sync_fork_fetches_total", help: "Batches fetched back from below to a possible fork point, by the batch's outcome", labelNames: ["result"], registers: r });
    this.forkProbes = new Counter({
      name: "timenet_sync_fork_probes_total",
      help: "Peers' tips at or below our height (announced, or in a Hello) looked at for a branch the sync by height would not fetch, by result (queued: fetched from that peer for the fork choice; known; deferred; ...)",
      labelNames: ["result"],
      registers: r,
    });
    this.tipsAnnounced = new Counter({
      name: "timenet_sync_tips_announced_total",
      help: "Our tip sent to a peer that served a branch our fork choice does not prefer, by result (sent, already_sent, store_failed, bus_failed)",
      labelNames: ["result"],
      registers: r,
    });
    // Shown at 0 from the start (dashboards), not "no data" until the first one.
    this.forkProbes.inc({ result: "queued" }, 0);
    this.tipsAnnounced.inc({ result: "sent" }, 0);
    this.listenerErrors = new Counter({ name: "timenet_sync_listener_errors_total", help: "Event listeners that threw (a bug; the emitter carried on), by event", labelNames: ["event"], registers: r });
    this.leaseRenewalFailures = new Counter({
      name: "timenet_sync_lease_renewal_failures_total",
      help: "Planner lease renewals that failed (retried; leadership kept while the key still holds our id), by reason: timeout, wrong_revision, error",
      labelNames: ["reason"],
      registers: r,
    });
    this.natsStateRestored = new Counter({
      name: "timenet_sync_nats_state_restored_total",
      help: "JetStream state that NATS had lost (a store lost with its volume) and that chain-sync declared again, by what: work_queue_stream, work_queue_consumer, lease_bucket",
      labelNames: ["what"],
      registers: r,
    });
    this.leaseDropped = new Counter({
      name: "timenet_sync_lease_dropped_total",
      help: "Planner leadership given up, by reason: other_holder, key_gone, no_renewal_within_ttl",
      labelNames: ["reason"],
      registers: r,
    });
    this.batchesRefused = new Counter({
      name: "timenet_sync_batches_refused_total",
      help: "Batches the work queue refused at its bound (kept by the sender: the planner retries the range, a worker naks its batch), by sender: planner, requeue",
      labelNames: ["by"],
      registers: r,
    });
    this.windowBlocks = new Gauge({ name: "timenet_sync_window_blocks", help: "How far beyond our tip batches are planned: 2 × the store's rate × one batch's fetch time, in whole batches between SYNC_WINDOW_MIN_BATCHES and SYNC_WINDOW_MAX_BATCHES", registers: r });
    this.batchBlocks = new Gauge({ name: "timenet_sync_batch_blocks", help: "Blocks in the batches the planner makes now: SYNC_BATCH_SIZE, or fewer once the applied blocks are known to be big (SYNC_BATCH_MAX_BYTES a batch)", registers: r });
    this.plannedUpTo = new Gauge({ name: "timenet_sync_planned_up_to", help: "The last height the planner queued (at most SYNC_LOOKAHEAD_BATCHES beyond what is backed)", registers: r });
    this.claimsDistrusted = new Counter({
      name: "timenet_sync_claims_distrusted_total",
      help: "Peer IPs whose height claims stopped steering the sync for a while, by reason: unbacked (proved: reported), probe_failed (a probe of the claim failed without proof: suspended), reported (by another replica)",
      labelNames: ["reason"],
      registers: r,
    });
    this.standingEntries = new Gauge({ name: "timenet_sync_claim_standing_entries", help: "Peer IPs whose claim standing is remembered (bounded by maxStandingEntries)", registers: r });
    this.plannerLeader.set(0);
  }
}
