import { rankDistance } from "@timenet/chain";

/**
 * When this producer makes a height.
 *
 * The schedule itself is a validity rule of the chain lib (schedule.ts): the
 * producer at rank distance d may give the height a timestamp of at least
 * parent.timestamp + interval * (1 + d). The producer goes at
 *
 *     now >= base + interval * (1 + d)
 *
 * where base is the parent's timestamp, so in the normal case no height ever
 * has two producers, and its block's timestamp (now) satisfies the rule.
 *
 * One refinement: a parent this producer learned of more than an interval
 * after its timestamp (the genesis, a tip after an outage, any tip at our own
 * start) counts as made one interval before we saw it. Otherwise every
 * producer would be overdue for it at the same moment and all would make the
 * next height at once; with it, the expected producer goes at once and the
 * fallbacks still wait their extra intervals. It never makes a turn earlier
 * than the rule above.
 *
 * A producer that signed the parent "rests": its block would weigh nothing in
 * the fork choice (one key's consecutive blocks add no weight), and a stand-in's
 * block at the same height would replace it. So it goes only after every
 * other producer had its turn (rank n), and makes the block itself only when
 * nobody else does (a network with one producer alive still moves on).
 */

export { rankDistance };

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
  /** This producer signed the parent: it goes after every other producer. */
  signedParent?: boolean;
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
  const waits = t.signedParent === true && t.producers > 1 ? t.producers : rank;
  return { height: t.height, rank, notBeforeMs: base + t.intervalMs * (1 + waits) };
}
