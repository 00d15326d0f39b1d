import { movingAverage } from "./moving-average.js";
import type { SyncProgress } from "./sync-progress.js";

export interface SyncWindowOptions {
  /** Blocks per batch at most: the window is a whole number of batches. */
  batchSize: number;
  /**
   * Bytes a batch should not exceed once the blocks' size is known: what one
   * answer of a default peer carries (its SERVE_MAX_BYTES). Undefined: every
   * batch is batchSize blocks.
   */
  batchMaxBytes?: number;
  /** The window never shrinks below this many batches (what is planned before anything is measured). */
  minBatches: number;
  /** Nor grows beyond this many. */
  maxBatches: number;
  /** How fast our chain grows now (the store's rate, all replicas together). */
  progress: Pick<SyncProgress, "blocksPerSecond">;
  now?: () => number;
}

/** Weight of the newest round in the measured fetch time. */
const FETCH_WEIGHT = 0.2;

/** A measured fetch time older than this says nothing about the peers we have now. */
const FETCH_SAMPLE_MAX_AGE_MS = 60_000;

/** Weight of the newest applied put in the measured bytes per block (blocks' size changes slowly along a chain). */
const BLOCK_BYTES_WEIGHT = 0.2;

/**
 * How far ahead of our tip batches are planned: twice the blocks the store
 * writes while one batch is being fetched — the sync's bandwidth-delay
 * product (store rate × fetch time, RTT included), doubled so that the
 * window can grow when the store could go faster than the window lets it —
 * as whole batches between minBatches and maxBatches. A larger window only
 * holds fetched blocks waiting for their parent (memory, and batches that
 * park); a smaller one leaves the store waiting for the network (Bitcoin
 * Core's is a fixed 1,024 blocks, Lodestar buffers at most 10 batches).
 */
export class SyncWindow {
  /** One batch's fetch time, ms (a moving average of every GetBlocks round this replica made, scaled to a whole batch). */
  private batchFetchMs: number | undefined;
  /** Bytes per block of the puts of this replica the store applied (a moving average), undefined before any. */
  private bytesPerBlock: number | undefined;
  private sampledAt = 0;
  private readonly now: () => number;

  constructor(private readonly o: SyncWindowOptions) {
    if (o.minBatches < 1 || o.maxBatches < o.minBatches) throw new RangeError(`sync window: need 1 <= minBatches (${o.minBatches}) <= maxBatches (${o.maxBatches})`);
    this.now = o.now ?? Date.now;
  }

  /**
   * `blocks` blocks of `bytes` bytes in all (as received) joined our chain:
   * blocks the store accepted, so a peer's padding or junk never steers the
   * batch size.
   */
  sized(blocks: number, bytes: number): void {
    if (blocks <= 0 || !(bytes > 0)) return;
    this.bytesPerBlock = movingAverage(this.bytesPerBlock, bytes / blocks, BLOCK_BYTES_WEIGHT);
  }

  /** A GetBlocks round took `ms` and brought `blocks` blocks. */
  fetched(ms: number, blocks: number): void {
    if (blocks <= 0 || !(ms >= 0)) return;
    const sample = (ms * this.batchBlocks()) / blocks;
    this.batchFetchMs = movingAverage(this.fetchMs, sample, FETCH_WEIGHT);
    this.sampledAt = this.now();
  }

  /** The measured time to fetch one batch, ms (undefined before any, or when stale). */
  get fetchMs(): number | undefined {
    return this.batchFetchMs !== undefined && this.now() - this.sampledAt <= FETCH_SAMPLE_MAX_AGE_MS ? this.batchFetchMs : undefined;
  }

  /**
   * Blocks in the next batch: batchSize, or fewer once the blocks are known to
   * be big, so that one answer of a default peer carries a whole batch. A batch
   * longer than one answer is fetched round after round, and its second round
   * starts only after its first was put, which waits for the batch before it:
   * with big blocks the batches would then move one at a time (bench:sync
   * --tx-bytes 65000: 0.2-0.3x of the raw rate with 256-block batches).
   */
  batchBlocks(): number {
    const { batchSize, batchMaxBytes } = this.o;
    if (batchMaxBytes === undefined || this.bytesPerBlock === undefined) return batchSize;
    return Math.max(1, Math.min(batchSize, Math.floor(batchMaxBytes / this.bytesPerBlock)));
  }

  /** The window now, in blocks beyond our tip. */
  blocks(): number {
    const { minBatches, maxBatches } = this.o;
    const batchBlocks = this.batchBlocks();
    const fetchMs = this.fetchMs ?? 0;
    const wanted = (2 * this.o.progress.blocksPerSecond(this.now()) * fetchMs) / 1000;
    const batches = Math.min(maxBatches, Math.max(minBatches, Math.ceil(wanted / batchBlocks)));
    return batches * batchBlocks;
  }
}
