import type { BlockHeader } from "@timenet/proto";
import { blockHash } from "./block-hash.js";
import type { NetworkParams } from "./network-params.js";
import { blockWeight, producerIndex, rankAt, weightWindow } from "./schedule.js";

/**
 * The fork choice: of two branches leaving the chain at the same block F
 * (both above the final height), the preferred one is
 *
 *   1. the heavier: the sum of blockWeight over its blocks after F (a block
 *      weighs 1 unless its producer signed one of the floor(n/2) blocks
 *      before it), so a branch one key builds alone weighs at most 1,
 *      however long, while a branch the other producers extend gains 1 a block;
 *   2. on equal weight, the one whose first block after F has the lower rank
 *      distance (the schedule's own producer for that height wins over a
 *      stand-in);
 *   3. then the lower hash of that first block.
 *
 * Comparing weights after F is comparing whole-chain weights, and 2-3 order
 * equal-weight chains lexicographically by their blocks: a total order on
 * chains. So every node that holds the same blocks picks the same chain,
 * whatever order they arrived in, and extending the preferred chain keeps it
 * preferred (weight never falls; the first blocks after any fork point stay
 * the same). Height is not compared: a longer branch of zero-weight blocks
 * is not a better one.
 */
export interface BranchSummary {
  weight: number;
  /** Rank distance and hash of the branch's first block after the fork point. */
  firstRank: number;
  firstHash: Uint8Array;
}

/**
 * Summarises the blocks after a fork point (`headers`, in height order,
 * already validated), given the producer indexes of the blocks at and below
 * the fork point, nearest first (at least weightWindow of them, or down to
 * the genesis, whose index is -1).
 */
export function summariseBranch(headers: readonly BlockHeader[], before: readonly number[], params: NetworkParams, firstHash?: Uint8Array): BranchSummary {
  if (headers.length === 0) throw new Error("a branch has at least one block");
  const window = weightWindow(params);
  const recent = before.slice(0, window);
  let weight = 0;
  for (const h of headers) {
    const index = producerIndex(h.producerId, params);
    weight += blockWeight(index, recent, params);
    recent.unshift(index);
    if (recent.length > window) recent.pop();
  }
  const first = headers[0]!;
  return { weight, firstRank: rankAt(first.height, producerIndex(first.producerId, params), params), firstHash: firstHash ?? blockHash(first) };
}

/** Whether branch `a` is preferred to branch `b` (both leaving the chain at the same block). */
export function preferred(a: BranchSummary, b: BranchSummary): boolean {
  if (a.weight !== b.weight) return a.weight > b.weight;
  if (a.firstRank !== b.firstRank) return a.firstRank < b.firstRank;
  return Buffer.compare(a.firstHash, b.firstHash) < 0;
}
