import type { BlockHeader } from "@timenet/proto";
import { bytesEqual } from "./block-hash.js";
import { ChainError } from "./chain-error.js";
import type { NetworkParams } from "./network-params.js";

/**
 * The producers' schedule, as a validity rule every node checks.
 *
 * Heights are round-robin over the network's producers: height h belongs to
 * producer h mod n. So that a dead producer does not stall the chain, the
 * others may stand in, in a fixed order: the producer at rank distance
 * d = (its index - the expected index) mod n may make the height with a
 * timestamp of at least
 *
 *     parent.timestamp + block_interval * (1 + d)
 *
 * A block with an earlier timestamp is invalid (BEFORE_TURN), so one key can
 * make at most one block per (1 + d) intervals of timestamps, whatever branch
 * it builds; with the future-drift bound on timestamps it cannot run ahead of
 * the wall clock either. See the chain lib's README section for the argument.
 */

/** (mine - expected) mod n: 0 for the expected producer, 1 for the first fallback, ... */
export function rankDistance(myIndex: number, expectedIndex: number, producers: number): number {
  return (((myIndex - expectedIndex) % producers) + producers) % producers;
}

/** The index of `producerId` among the network's producers, or -1. */
export function producerIndex(producerId: Uint8Array, params: NetworkParams): number {
  return params.producers.findIndex((p) => bytesEqual(p, producerId));
}

/** The rank distance of producer `index` at `height` (0: the expected producer). */
export function rankAt(height: number, index: number, params: NetworkParams): number {
  const n = params.producers.length;
  if (n === 0) throw new ChainError("ERR_NETWORK_PARAMS", `network ${params.name} has no producers`);
  return rankDistance(index, height % n, n);
}

/** The earliest timestamp a producer at rank distance `rank` may give a block on a parent made at `parentTimestampMs`. */
export function earliestTimestampMs(parentTimestampMs: bigint, rank: number, params: NetworkParams): bigint {
  return parentTimestampMs + BigInt(params.blockIntervalMs) * BigInt(1 + rank);
}

/**
 * How many blocks before a block are looked at to weigh it: floor(n / 2).
 * A block weighs 1 when its producer signed none of them, else 0, so one key
 * alone adds weight at most once, and any coalition of at most floor(n/2)
 * keys less than one per block, while a majority taking turns adds 1 per block.
 */
export function weightWindow(params: NetworkParams): number {
  return Math.floor(params.producers.length / 2);
}

/**
 * The fork-choice weight of a block whose producer has index `index`, given
 * the producer indexes of the blocks before it, nearest first (only the
 * first weightWindow are looked at; the genesis has index -1).
 */
export function blockWeight(index: number, before: readonly number[], params: NetworkParams): 0 | 1 {
  const w = weightWindow(params);
  for (let i = 0; i < w && i < before.length; i++) if (before[i] === index) return 0;
  return 1;
}

/** The rank distance of a block's producer at its height (a header that passed validation). */
export function rankOf(header: BlockHeader, params: NetworkParams): number {
  const index = producerIndex(header.producerId, params);
  if (index < 0) throw new ChainError("ERR_MALFORMED", `producer of block ${header.height} is not a ${params.name} producer`);
  return rankAt(header.height, index, params);
}
