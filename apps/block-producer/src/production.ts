import { blockHash, expectedProducer, hashHex, type NetworkParams } from "@timenet/chain";
import { enumLabel, PutResult, PutResultSchema, type Block, type BlockStoreService, type ChainTip } from "@timenet/proto";
import type { ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import { buildBlock, txBudget, txCost } from "./block-builder.js";
import { KnownChain } from "./known-chain.js";
import type { Mempool } from "./mempool.js";
import type { ProducerMetrics } from "./metrics.js";
import type { ProducerIdentity } from "./producer-key.js";
import { turnFor, type Turn } from "./turn.js";

/** The block-store calls the producer makes. */
export type BlockStoreClient = Pick<ServiceClient<typeof BlockStoreService>, "getTip" | "getBlock" | "putBlocks">;

export interface ProductionDeps {
  network: NetworkParams;
  identity: ProducerIdentity;
  intervalMs: number;
  store: BlockStoreClient;
  mempool: Mempool;
  metrics: ProducerMetrics;
  logger: Logger;
  storeDeadlineMs: number;
  retryMs: number;
  evictionDepth: number;
  now: () => number;
}

/** What the producer has done, for its Status call. */
export interface ProductionStatus {
  blocksProduced: number;
  lastHeight: number;
  lastProducedMs: number;
  /** The store's tip as last seen; undefined before the store answered once. */
  tipHeight: number | undefined;
  /** The next height above the tip that is our own turn; undefined while the tip is unknown. */
  nextTurnHeight: number | undefined;
}

/** The longest the producer sleeps without asking the store for its tip (chain.tip events may be lost). */
const MAX_SLEEP_MS = 5_000;


/**
 * The producer's loop: follows the store's tip (chain.tip events, GetTip,
 * PutBlocks answers), sleeps until its next turn on that tip (see turn.ts),
 * then asks the store for the tip once more and, if it has not moved, makes
 * the block and hands it over with PutBlocks. One step runs at a time.
 */
export class Production {
  private tip: ChainTip | undefined;
  private tipSeenMs = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The tip hash the pending timer wakes up for as an eligible turn (to tell a lost turn from a routine check). */
  private turnPendingOn: string | undefined;
  private busy = false;
  private stopped = false;
  private storeDown = false;
  /** After a failure (store unreachable, block not applied), nothing is tried again before this. */
  private retryAtMs = 0;
  private genesisMismatch = false;
  private readonly expectedIndex: (height: number) => number;
  /** The main chain as last walked: whose txs have left the mempool, and come back to it when their block leaves the chain. */
  private readonly known: KnownChain;
  private evicting: Promise<unknown> = Promise.resolve();
  private followRetry: NodeJS.Timeout | undefined;
  private stepping: Promise<void> = Promise.resolve();
  private blocksProduced = 0;
  private lastHeight = 0;
  private lastProducedMs = 0;

  constructor(private readonly d: ProductionDeps) {
    const index = new Map(d.network.producers.map((p, i) => [hashHex(p), i]));
    this.expectedIndex = (height) => index.get(hashHex(expectedProducer(height, d.network))) ?? -1;
    this.known = new KnownChain({ ...d, depth: d.evictionDepth });
  }

  start(): void {
    this.wakeIn(0, undefined);
  }

  /** Stops the loop; resolves once a step or eviction walk in flight is done (before the store client closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.followRetry);
    await this.stepping;
    await this.evicting;
  }

  /** The store answered the last time we asked (readiness). */
  get storeReachable(): boolean {
    return this.tip !== undefined && !this.storeDown;
  }

  status(): ProductionStatus {
    return {
      blocksProduced: this.blocksProduced,
      lastHeight: this.lastHeight,
      lastProducedMs: this.lastProducedMs,
      tipHeight: this.tip?.height,
      nextTurnHeight: this.nextTurnHeight(),
    };
  }

  /** A chain.tip event: follow it, take its block's txs out of the mempool, and sleep until the next turn on it. */
  onTipEvent(tip: ChainTip): void {
    if (!this.adopt(tip, false)) return;
    void this.evictUpTo(tip);
    if (!this.busy) this.schedule();
  }

  /** The turn on the current tip. */
  private turn(): Turn | undefined {
    const tip = this.tip;
    if (tip === undefined) return undefined;
    const height = tip.height + 1;
    return turnFor({
      height,
      parentTimestampMs: Number(tip.timestampMs),
      parentSeenMs: this.tipSeenMs,
      myIndex: this.d.identity.index,
      expectedIndex: this.expectedIndex(height),
      producers: this.d.network.producers.length,
      intervalMs: this.d.intervalMs,
      signedParent: tip.header !== undefined && hashHex(tip.header.producerId) === hashHex(this.d.identity.key.publicKey),
    });
  }

  private nextTurnHeight(): number | undefined {
    if (this.tip === undefined) return undefined;
    for (let h = this.tip.height + 1; h <= this.tip.height + this.d.network.producers.length; h++) {
      if (this.expectedIndex(h) === this.d.identity.index) return h;
    }
    return undefined;
  }

  /**
   * Takes `tip` as the current one. An event older than what we know is
   * ignored; the store's own answers (GetTip, PutBlocks) always win.
   * Returns whether the tip changed.
   */
  private adopt(tip: ChainTip, authoritative: boolean): boolean {
    if (!this.genesisOk(tip)) return false;
    const current = this.tip;
    if (current !== undefined && hashHex(current.hash) === hashHex(tip.hash)) return false;
    if (current !== undefined && !authoritative && tip.height <= current.height) return false;
    this.tip = tip;
    this.tipSeenMs = this.d.now();
    return true;
  }

  private genesisOk(tip: ChainTip): boolean {
    const ok = hashHex(tip.genesisHash) === hashHex(this.d.network.genesisHash);
    if (!ok && !this.genesisMismatch) {
      this.d.logger.error(
        { store_genesis: hashHex(tip.genesisHash), genesis: hashHex(this.d.network.genesisHash), network: this.d.network.name },
        "the block-store's chain has another genesis than our network: not producing",
      );
    }
    this.genesisMismatch = !ok;
    return ok;
  }

  private wakeIn(delayMs: number, turnOn: string | undefined): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.turnPendingOn = turnOn;
    this.timer = setTimeout(() => {
      if (!this.busy) this.stepping = this.step();
    }, Math.max(0, delayMs));
  }

  /** Sleeps until the next turn on the current tip (or a routine look at the store), never before a retry is due. */
  private schedule(): void {
    const turn = this.turn();
    if (turn === undefined || this.genesisMismatch) {
      this.wakeIn(Math.max(this.retryAtMs - this.d.now(), 0), undefined);
      return;
    }
    const delay = Math.max(turn.notBeforeMs, this.retryAtMs) - this.d.now();
    if (delay > MAX_SLEEP_MS) this.wakeIn(MAX_SLEEP_MS, undefined);
    else this.wakeIn(delay, hashHex(this.tip!.hash));
  }

  private skip(reason: "store_unreachable" | "wrong_genesis" | "tip_moved" | "build_failed"): void {
    this.d.metrics.turnsSkipped.inc({ reason });
  }

  /** Something failed: the next attempt waits retryMs, so a broken store is not hammered. */
  private backOff(): void {
    this.retryAtMs = this.d.now() + this.d.retryMs;
  }

  private async step(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    const turnOn = this.turnPendingOn;
    this.turnPendingOn = undefined;
    try {
      const tip = await this.fetchTip();
      if (tip === undefined) {
        // Counted when a turn was due, or while we cannot know whether one is.
        if (turnOn !== undefined || this.tip === undefined) this.skip("store_unreachable");
        return;
      }
      this.adopt(tip, true);
      if (this.genesisMismatch) {
        this.skip("wrong_genesis");
        this.backOff();
        return;
      }
      const turn = this.turn()!;
      if (this.d.now() < turn.notBeforeMs) {
        // Woken for a turn on a tip that has moved on: another producer made that height first.
        if (turnOn !== undefined && turnOn !== hashHex(tip.hash)) {
          this.skip("tip_moved");
          this.d.logger.info({ height: tip.height, rank: turn.rank }, "woke for a turn, but another producer had made that height");
        }
        return;
      }
      // Every tx already on the chain leaves the mempool before we pick txs.
      await this.evictUpTo(tip);
      if (!this.stopped) await this.produce(tip, turn);
    } finally {
      this.busy = false;
      if (!this.stopped) this.schedule();
    }
  }

  private async fetchTip(): Promise<ChainTip | undefined> {
    try {
      const res = await this.d.store.getTip({}, { deadlineMs: this.d.storeDeadlineMs });
      if (res.tip === undefined) throw new Error("GetTip answered without a tip");
      if (this.storeDown) this.d.logger.info({ store: "block-store" }, "the block-store answers again");
      this.storeDown = false;
      return res.tip;
    } catch (err) {
      if (!this.storeDown) this.d.logger.warn({ err: (err as Error).message }, "cannot get the tip from the block-store; retrying");
      this.storeDown = true;
      this.backOff();
      return undefined;
    }
  }

  private async produce(tip: ChainTip, turn: Turn): Promise<void> {
    const { network, identity, mempool, metrics, logger } = this.d;
    const txs = mempool.select(network.maxTxs, txBudget(network), txCost);
    let block;
    try {
      block = buildBlock(tip, txs, identity.key, network, Math.max(this.d.now(), turn.notBeforeMs));
    } catch (err) {
      this.skip("build_failed");
      this.backOff();
      logger.error({ height: turn.height, err: (err as Error).message }, "cannot build a block");
      return;
    }
    const header = block.header!;
    let res;
    try {
      res = await this.d.store.putBlocks({ blocks: [block] }, { deadlineMs: this.d.storeDeadlineMs });
    } catch (err) {
      metrics.putFailures.inc({ result: "unreachable" });
      this.backOff();
      logger.warn({ height: turn.height, txs: txs.length, err: (err as Error).message }, "PutBlocks failed; the txs stay in the mempool");
      return;
    }
    if (res.tip !== undefined) this.adopt(res.tip, true);
    if (res.result !== PutResult.APPLIED) {
      const result = enumLabel(PutResultSchema, res.result);
      metrics.putFailures.inc({ result });
      this.backOff();
      logger.warn(
        {
          height: turn.height,
          rank: turn.rank,
          result,
          invalid_reason: res.invalidReason,
          detail: res.detail,
          tip_height: res.tip?.height,
          txs: txs.length,
        },
        "the block-store did not apply our block; the txs stay in the mempool",
      );
      return;
    }
    // Our block joins the known chain (its txs leave the mempool) without being read back.
    if (!(await this.evictUpTo(res.tip ?? tip, block))) mempool.markIncluded(txs);
    const hash = hashHex(blockHash(header));
    this.blocksProduced++;
    this.lastHeight = header.height;
    this.lastProducedMs = Number(header.timestampMs);
    metrics.blocksProduced.inc();
    logger.info(
      { height: header.height, hash, txs: txs.length, rank: turn.rank, ms_after_turn: this.d.now() - turn.notBeforeMs },
      turn.rank === 0 ? "produced a block" : "produced a block in place of a silent producer",
    );
  }

  /**
   * Brings the known chain up to the current tip (`tip` until a newer one is
   * adopted): the txs of blocks new on the main chain leave the mempool, those
   * of blocks that left it come back (see KnownChain). Serialised. Resolves
   * false when the store could not be read.
   */
  private evictUpTo(tip: ChainTip, have?: Block): Promise<boolean> {
    const walk = this.evicting
      .then(() => this.known.follow(this.tip ?? tip, have, () => this.stopped))
      .catch((err: unknown) => {
        this.d.logger.error({ height: tip.height, err: (err as Error).message }, "following the main chain failed");
        return false;
      })
      .then((followed) => {
        if (!followed) this.retryFollow();
        return followed;
      });
    this.evicting = walk;
    return walk;
  }

  /**
   * A walk that could not read the store (a call past its deadline while
   * the disk is busy) is tried again after retryMs: the same tip comes back
   * on chain.tip only as a re-publication, which adopt ignores, so without
   * this a reorg's txs would wait for the next new tip to come back.
   */
  private retryFollow(): void {
    this.d.metrics.followFailures.inc();
    if (this.stopped || this.followRetry !== undefined) return;
    this.followRetry = setTimeout(() => {
      this.followRetry = undefined;
      if (!this.stopped && this.tip !== undefined) void this.evictUpTo(this.tip);
    }, this.d.retryMs);
  }
}
