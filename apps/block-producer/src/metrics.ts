import { Counter, Gauge, type Registry } from "prom-client";

/** The mempool's size, read when Prometheus scrapes. */
export interface MempoolSize {
  txs: number;
  bytes: number;
}

/** Every metric of the producer, created in one place. Labels are enums (result, reason). */
export class ProducerMetrics {
  readonly blocksProduced: Counter;
  /** result: a PutResult name (parent_unknown, invalid, fork_not_preferred, ...) or unreachable (the call failed). */
  readonly putFailures: Counter<"result">;
  readonly mempoolTxs: Gauge;
  readonly mempoolBytes: Gauge;
  /** reason: duplicate (already waiting), included (in a block of the main chain), full, too_large (could never fit a block). */
  readonly txsDropped: Counter<"reason">;
  /** Reorgs seen: blocks the producer had walked as the main chain left it. */
  readonly reorgs: Counter;
  /**
   * What became of the txs of blocks that left the main chain. result: reinstated (back in the mempool),
   * in_new_branch (still included), mempool_full (did not fit), unavailable (the store no longer had the block).
   */
  readonly reorgedTxs: Counter<"result">;
  /** Walks of the main chain that could not read the store; each is tried again after retryMs. */
  readonly followFailures: Counter;
  /** reason: store_unreachable, wrong_genesis, tip_moved (another producer made the height first), build_failed. */
  readonly turnsSkipped: Counter<"reason">;

  constructor(registry: Registry, mempool: () => MempoolSize) {
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers });
    const sizeGauge = (name: string, help: string, read: (m: MempoolSize) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(mempool()));
        },
      });
    this.blocksProduced = counter("timenet_producer_blocks_produced_total", "Blocks this producer made that the block-store applied", []);
    this.putFailures = counter("timenet_producer_put_failures_total", "Blocks of ours the block-store did not apply, by PutBlocks result", ["result"]);
    this.mempoolTxs = sizeGauge("timenet_producer_mempool_txs", "Transactions waiting in the mempool", (m) => m.txs);
    this.mempoolBytes = sizeGauge("timenet_producer_mempool_bytes", "Bytes of the transactions waiting in the mempool", (m) => m.bytes);
    this.txsDropped = counter("timenet_producer_txs_dropped_total", "Transactions not taken into the mempool, by reason", ["reason"]);
    this.reorgs = counter("timenet_producer_reorgs_total", "Reorgs seen: blocks walked as the main chain that left it", []);
    this.reorgedTxs = counter("timenet_producer_reorged_txs_total", "Txs of blocks that left the main chain, by what became of them", ["result"]);
    this.followFailures = counter("timenet_producer_follow_failures_total", "Walks of the main chain (to update the mempool) that could not read the block-store; retried", []);
    this.turnsSkipped = counter("timenet_producer_turns_skipped_total", "Turns (own or fallback) that passed without our block, by reason", ["reason"]);
  }
}
