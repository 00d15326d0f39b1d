import { status } from "@grpc/grpc-js";
import { blockHash, hashHex } from "@timenet/chain";
import type { Block } from "@timenet/proto";
import type { Logger } from "@timenet/telemetry";
import { txKey, type Mempool } from "./mempool.js";
import type { ProducerMetrics } from "./metrics.js";
import type { BlockStoreClient } from "./production.js";

export interface KnownChainDeps {
  store: Pick<BlockStoreClient, "getBlock">;
  mempool: Mempool;
  metrics: ProducerMetrics;
  logger: Logger;
  storeDeadlineMs: number;
  /** Most blocks walked back from a tip, and remembered below the top. */
  depth: number;
}

/** A block of the main chain as last walked: its hash and the keys of the txs marked included for it (not their bytes). */
interface KnownBlock {
  hash: string;
  txKeys: string[];
}

/** The tip a walk starts from. */
export interface WalkTip {
  height: number;
  hash: Uint8Array;
}

/** A tip's branch down to what we knew: the blocks read, top first, and where it met the known chain. */
interface Branch {
  blocks: Block[];
  /** The height of the newest block shared with the known chain; undefined when the walk ended before reaching one. */
  ancestor: number | undefined;
}

/** A block that left the main chain, read back by hash (undefined when the store no longer has it). */
interface LeftBlock {
  height: number;
  known: KnownBlock;
  block: Block | undefined;
}

/**
 * The top of the main chain as the producer last walked it (height → block
 * hash, and the keys of each block's txs), at most `depth` blocks. On each new
 * tip it walks back (GetBlock by hash) until it meets a block it knows at that
 * height: the blocks walked are the new part of the main chain, and their txs
 * leave the mempool. Known blocks above the meeting point (or above a lower
 * tip) have left the main chain in a reorg: they are read back by hash (the
 * store keeps side blocks) and their txs that are not on the main chain any
 * more go back into the mempool.
 */
export class KnownChain {
  private readonly byHeight = new Map<number, KnownBlock>();

  constructor(private readonly d: KnownChainDeps) {}

  /** Whether `hash` is the block the known main chain has at `height`. */
  holds(height: number, hash: Uint8Array): boolean {
    return this.byHeight.get(height)?.hash === hashHex(hash);
  }

  /**
   * Brings the known chain up to `tip`. `have` is a block already at hand
   * (our own, just applied) that is not read again. Returns false when the
   * store could not be read: the txs of the blocks read so far are marked
   * included, the rest is left for the next tip (nothing is remembered).
   */
  async follow(tip: WalkTip, have: Block | undefined, stopped: () => boolean): Promise<boolean> {
    // Known already: a tip below the known top on the same chain is a late
    // answer, not a reorg (a branch the store prefers ends in a block of its own).
    if (this.holds(tip.height, tip.hash)) return true;
    const branch: Branch = { blocks: [], ancestor: undefined };
    let left: LeftBlock[];
    try {
      await this.walkBranch(tip, have, stopped, branch);
      if (stopped()) return true;
      left = await this.readLeft(this.leftFrom(tip, branch));
    } catch (err) {
      for (const b of branch.blocks) this.d.mempool.markIncluded(b.txs);
      this.d.logger.warn({ height: tip.height, err: (err as Error).message }, "cannot read a block back from the block-store to clean the mempool");
      return false;
    }
    this.apply(tip, branch, left);
    return true;
  }

  private async read(hash: Uint8Array): Promise<Block | undefined> {
    const res = await this.d.store.getBlock({ by: { case: "hash", value: hash } }, { deadlineMs: this.d.storeDeadlineMs });
    return res.block;
  }

  /** Reads `tip`'s blocks top down until one is known at its height, the genesis, or `depth` blocks. */
  private async walkBranch(tip: WalkTip, have: Block | undefined, stopped: () => boolean, out: Branch): Promise<void> {
    let hash = tip.hash;
    const haveKey = have?.header && hashHex(blockHash(have.header));
    for (let depth = 0; depth < this.d.depth && !stopped(); depth++) {
      const height = tip.height - depth;
      if (this.holds(height, hash)) {
        out.ancestor = height;
        return;
      }
      const block = hashHex(hash) === haveKey ? have : await this.read(hash);
      const header = block?.header;
      if (header === undefined) return;
      out.blocks.push(block!);
      if (header.height === 0) return;
      hash = header.prevHash;
    }
  }

  /** The lowest height whose known block left the main chain: above the meeting point, else from the lowest block walked. */
  private leftFrom(tip: WalkTip, branch: Branch): number {
    if (branch.ancestor !== undefined) return branch.ancestor + 1;
    const lowest = branch.blocks[branch.blocks.length - 1]?.header?.height;
    return lowest ?? tip.height + 1;
  }

  /** The known blocks from `from` up, oldest first, read back by hash; one the store no longer has comes back without its block. */
  private async readLeft(from: number): Promise<LeftBlock[]> {
    const out: LeftBlock[] = [];
    const heights = [...this.byHeight.keys()].filter((h) => h >= from).sort((a, b) => a - b);
    for (const height of heights) {
      const known = this.byHeight.get(height)!;
      let block: Block | undefined;
      try {
        block = await this.read(Uint8Array.from(Buffer.from(known.hash, "hex")));
      } catch (err) {
        if ((err as { code?: number }).code !== status.NOT_FOUND) throw err;
      }
      out.push({ height, known, block });
    }
    return out;
  }

  private apply(tip: WalkTip, branch: Branch, left: LeftBlock[]): void {
    const { mempool } = this.d;
    // Oldest first, so the newest are the last the mempool forgets.
    const added = [...branch.blocks].reverse();
    for (const b of added) mempool.markIncluded(b.txs);
    if (left.length > 0) this.reinstate(tip, branch, left);
    for (const { height } of left) this.byHeight.delete(height);
    for (const b of added) this.byHeight.set(b.header!.height, { hash: hashHex(blockHash(b.header!)), txKeys: b.txs.map(txKey) });
    for (const height of this.byHeight.keys()) {
      if (height <= tip.height - this.d.depth || height > tip.height) this.byHeight.delete(height);
    }
  }

  /** The txs of the blocks that left the main chain and are not on it any more go back into the mempool. */
  private reinstate(tip: WalkTip, branch: Branch, left: LeftBlock[]): void {
    const { mempool, metrics, logger } = this.d;
    const leftFrom = left[0]!.height;
    // Still on the main chain: in the new branch, or in a known block below the blocks that left.
    const onChain = new Set(branch.blocks.flatMap((b) => b.txs.map(txKey)));
    for (const [height, known] of this.byHeight) if (height < leftFrom) for (const key of known.txKeys) onChain.add(key);

    const back: Uint8Array[] = [];
    const lost: string[] = [];
    let inNewBranch = 0;
    for (const { known, block } of left) {
      if (block === undefined) {
        lost.push(...known.txKeys.filter((key) => !onChain.has(key)));
        inNewBranch += known.txKeys.filter((key) => onChain.has(key)).length;
        continue;
      }
      for (const tx of block.txs) {
        if (onChain.has(txKey(tx))) inNewBranch++;
        else back.push(tx);
      }
    }
    const { reinstated, didNotFit } = mempool.reinstate(back);
    // Without their bytes they cannot wait again, but a resent copy is taken.
    mempool.forget(lost);

    metrics.reorgs.inc();
    const counts = { reinstated, in_new_branch: inNewBranch, mempool_full: didNotFit, unavailable: lost.length };
    for (const [result, n] of Object.entries(counts)) if (n > 0) metrics.reorgedTxs.inc({ result }, n);
    logger.info(
      { old_tip_height: left[left.length - 1]!.height, new_tip_height: tip.height, depth: left.length, fork_height: leftFrom - 1, ...counts },
      "blocks left the main chain: their txs not in the new branch are back in the mempool",
    );
  }
}
