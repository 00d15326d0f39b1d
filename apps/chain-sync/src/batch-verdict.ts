import { OffenceKind } from "@timenet/proto";
import type { BatchOutcome } from "./batch-outcome.js";

/**
 * A peer serving a branch the fork choice does not prefer may only lack our
 * blocks for a while (every node holding the same blocks prefers the same
 * chain, but after a partition heals each side must fetch the other's); one
 * that keeps at it this many batches in a row, and for LOSING_BRANCH_GRACE
 * on one connection, is reported.
 */
export const LOSING_BRANCH_TRIES = 3;

/**
 * A batch nobody credibly claims is offered again this often (a claim may
 * be on its way: a NewBlock another replica heard first), then dropped: the
 * planner plans the range again once a claim in good standing covers it.
 */
export const UNCLAIMED_TRIES = 3;

/**
 * A fork probe our side could not finish (our gateway, our store, our
 * waiting) is taken at most this many times, then dropped: the peer's next
 * tip brings another.
 */
export const FORK_PROBE_DELIVERIES = 3;

/** What happens to a batch after its outcome, and whether its peer is reported. */
export type Verdict =
  /** Done: the batch leaves the queue (its peer reported for `offence`, if set). */
  | { action: "ack"; offence?: OffenceKind; detail: string }
  /** The rest of the batch goes back on the queue for a peer not yet tried. */
  | { action: "reassign"; offence?: OffenceKind; detail: string }
  /** The batch goes back on the queue for every peer again. */
  | { action: "reassign_all"; detail: string }
  /** The message itself is handed back (nak) for any worker, after `delayMs` (0: at once); nobody is blamed. */
  | { action: "hand_back"; delayMs: number; detail: string };

/**
 * The one place that decides blame: an offence only for what is provably the
 * peer's (its answer, its silence), never for our gateway, our store, or
 * our own waiting.
 */
export function verdict(o: BatchOutcome): Verdict {
  switch (o.kind) {
    case "applied":
      return { action: "ack", detail: "applied" };
    case "already_have":
      return { action: "ack", detail: "already on our chain" };
    case "fork_not_preferred":
      return o.inARow >= LOSING_BRANCH_TRIES && o.forMs >= o.graceMs
        ? { action: "ack", offence: OffenceKind.LOSING_BRANCH, detail: `served a branch our fork choice does not prefer ${o.inARow} batches in a row, for ${Math.round(o.forMs / 1000)} s` }
        : { action: "ack", detail: "a fork our fork choice does not prefer, kept aside" };
    case "held":
      return { action: "ack", detail: "blocks ahead of our clock, held by the store until their time" };
    case "too_early":
      return { action: "hand_back", delayMs: o.retryAfterMs, detail: `blocks too far ahead of our clock to hold; again in ${o.retryAfterMs} ms` };
    case "losing_tip":
      return { action: "ack", detail: "the peer's tip is on a branch our fork choice does not prefer: kept aside, our tip sent to it" };
    case "fork_too_deep":
      return { action: "ack", detail: `peer's chain forks deeper than MAX_REORG_DEPTH; not following it: ${o.detail}` };
    case "invalid":
      return { action: "reassign", offence: OffenceKind.INVALID_BLOCK, detail: `block ${o.height} invalid: ${o.reason} ${o.detail}` };
    case "out_of_order":
      return { action: "reassign", offence: OffenceKind.INVALID_BLOCK, detail: `block ${o.index} of GetBlocks ${o.from} has height ${o.height}` };
    case "not_blocks":
      return { action: "reassign", offence: OffenceKind.PROTOCOL_VIOLATION, detail: `answered GetBlocks ${o.from} with ${o.answered}` };
    case "malformed":
      return { action: "reassign", offence: OffenceKind.PROTOCOL_VIOLATION, detail: `answered GetBlocks ${o.from} malformed: ${o.detail}` };
    case "empty":
      return { action: "reassign", detail: `no blocks from ${o.from}, within max_reorg_depth of its claim: a reorg may have taken them back` };
    case "unbacked_claim":
      return o.report
        ? { action: "reassign", offence: OffenceKind.UNBACKED_CLAIM, detail: `claimed height ${o.claim} and has no blocks from ${o.from}` }
        : { action: "reassign", detail: `claimed height ${o.claim} and has no blocks from ${o.from} (this claim already reported)` };
    case "busy":
      return { action: "reassign", detail: `the peer is busy serving others (over its serving budget): asked elsewhere` };
    case "peer_left":
      return { action: "reassign", detail: `the peer left while asked: ${o.detail}` };
    case "timeout":
      return { action: "reassign", offence: OffenceKind.REQUEST_TIMEOUT, detail: `GetBlocks ${o.from} timed out: ${o.detail}` };
    case "peer_unreachable":
      return { action: "reassign", detail: `peer not asked: ${o.detail}` };
    case "does_not_link":
      return { action: "reassign", detail: `peer's chain does not link to ours within twice the reorg limit (from ${o.from})` };
    case "rest_elsewhere":
      return { action: "reassign", detail: o.why === "rounds" ? "peer kept answering short; the rest is for another peer" : "peer claims less than the batch; the rest is for another peer" };
    case "every_peer_tried":
      return { action: "reassign_all", detail: "every peer tried; starting over with all of them" };
    case "no_peer":
      return o.deliveries < UNCLAIMED_TRIES
        ? { action: "hand_back", delayMs: 500, detail: "no peer in good standing claims the range" }
        : { action: "ack", detail: "no peer in good standing claims the range: dropped, planned again once one does" };
    case "parent_not_reached":
      return { action: "hand_back", delayMs: 500, detail: "the chain did not reach the batch's parent in time" };
    case "gateway_silent":
      return { action: "hand_back", delayMs: 1_000, detail: `our gateway did not answer: ${o.detail}` };
    case "store_failed":
      return { action: "hand_back", delayMs: 1_000, detail: `our block-store failed: ${o.detail}` };
    case "stopping":
      return { action: "hand_back", delayMs: 0, detail: "this replica is stopping" };
    default: {
      const unhandled: never = o;
      throw new Error(`no verdict for ${JSON.stringify(unhandled)}`);
    }
  }
}

/**
 * A fork probe asks one peer about one of its tips, so it is never passed to
 * another peer: what would be reassigned is done (its offence, if any, still
 * reported), what would be handed back is, at most FORK_PROBE_DELIVERIES
 * times.
 */
export function probeVerdict(v: Verdict, deliveries: number): Verdict {
  switch (v.action) {
    case "reassign":
      return v.offence === undefined ? { action: "ack", detail: `fork probe: ${v.detail}` } : { action: "ack", offence: v.offence, detail: v.detail };
    case "reassign_all":
      return { action: "ack", detail: `fork probe: ${v.detail}` };
    case "hand_back":
      return deliveries < FORK_PROBE_DELIVERIES ? v : { action: "ack", detail: `fork probe given up after ${deliveries} tries: ${v.detail}` };
    default:
      return v;
  }
}
