/**
 * Whose turn a height is, and from when a producer may make it.
 *
 * Heights are round-robin over the network's producers (the chain lib's
 * `expectedProducer`). So that a dead producer does not stall the chain, the
 * others take over in a fixed order: the producer at rank distance
 * d = (its index - the expected index) mod n may make the height once
 *
 *     now >= base + interval * (1 + d)
 *
 * where base is the parent's timestamp. The expected producer (d = 0) goes one
 * interval after the parent, the next one (d = 1) a further interval later,
 * and so on, so in the normal case no height ever has two producers.
 *
 * One refinement: a parent this producer learned of more than an interval
 * after its timestamp (the genesis, a tip after an outage, any tip at our own
 * start) counts as made one interval before we saw it. Otherwise every
 * producer would be overdue for it at the same moment and all would make the
 * next height at once; with it, the expected producer goes at once and the
 * fallbacks still wait their extra intervals. It never makes a turn earlier
 * than the rule above.
 */

/** (mine - expected) mod n: 0 for the expected producer, 1 for the first fallback, ... */
export function rankDistance(myIndex: number, expectedIndex: number, producers: number): number {
  return (((myIndex - expectedIndex) % producers) + producers) % producers;
}

/** The moment a turn's intervals count from: the parent's timestamp, or an interval before we saw a late parent. */
export function turnBaseMs(parentTimestampMs: number, parentSeenMs: number, intervalMs: number): number {
  return Math.max(parentTimestampMs, parentSeenMs - intervalMs);
}

export interface TurnInput {
  /** The height to make (the parent's + 1). */
  height: number;
  parentTimestampMs: number;
  /** When this producer first learned of the parent. Default: the parent's timestamp. */
  parentSeenMs?: number;
  /** This producer's index among the network's producers, and the index expectedProducer(height) has. */
  myIndex: number;
  expectedIndex: number;
  producers: number;
  intervalMs: number;
}

export interface Turn {
  height: number;
  /** 0: our own turn; d > 0: we are the d-th fallback. */
  rank: number;
  /** The earliest time we may make the height. */
  notBeforeMs: number;
}

export function turnFor(t: TurnInput): Turn {
  const rank = rankDistance(t.myIndex, t.expectedIndex, t.producers);
  const base = turnBaseMs(t.parentTimestampMs, t.parentSeenMs ?? t.parentTimestampMs, t.intervalMs);
  return { height: t.height, rank, notBeforeMs: base + t.intervalMs * (1 + rank) };
}
