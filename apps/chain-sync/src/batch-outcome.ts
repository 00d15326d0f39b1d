import type { PeerIp } from "@timenet/net-address";
import type { Block } from "@timenet/proto";

/**
 * What one GetBlocks towards a peer came to: one variant per case, each
 * carrying what is known in it (the way Lodestar types a range-sync batch's
 * states), so a short answer or a failure cannot pass for the other.
 */
export type FetchResult =
  /** At least one block, at consecutive heights from the one asked for; possibly fewer than asked. */
  /** `bytes`: the kept blocks' encodings as the peer sent them. */
  | { kind: "blocks"; blocks: Block[]; bytes: number }
  /** Our gateway did not answer p2p.request (it is down or busy): nothing is known about the peer. */
  | { kind: "gateway_silent"; detail: string }
  /** The gateway did not ask the peer: not connected, connection closed, or its own per-connection limit. */
  | { kind: "peer_unreachable"; detail: string }
  /** The peer's connection closed while our question was out: it left (Goodbye), or the link broke. Nothing proven. */
  | { kind: "peer_left"; detail: string }
  /** The peer did not answer within the timeout. */
  | { kind: "timeout"; detail: string }
  /** The peer answered with another message than Blocks. */
  | { kind: "not_blocks"; answered: string }
  /** The peer's answer does not decode, or breaks a field rule (our gateway carries it on unread). */
  | { kind: "malformed"; detail: string }
  /** No blocks from a height the peer claimed to have (see the outcomes `empty` and `unbacked_claim`). */
  | { kind: "empty" }
  /** No blocks, and the peer said why: it is over its serving budget (Blocks.busy). Nothing about its chain. */
  | { kind: "busy" }
  /** A block at another height than its place in the answer. */
  | { kind: "out_of_order"; index: number; height: number | undefined }
  /** We are stopping: the question was given up. */
  | { kind: "stopping" };

/** What a peer (or our gateway) did wrong in one GetBlocks. */
export type FetchFailure = Exclude<FetchResult, { kind: "blocks" } | { kind: "stopping" }>;

/** How a batch ended in this worker; `batch-verdict.ts` decides blame and what happens to the batch. */
export type BatchOutcome =
  /** Every height of the batch is on our chain now, some of it written by us. */
  | { kind: "applied"; peer: PeerIp }
  /** Every height was already on our chain. */
  | { kind: "already_have" }
  /**
   * The peer's blocks are a valid fork the fork choice does not prefer: kept
   * aside by the store. `inARow`: batches in a row this peer served nothing
   * else, `forMs` since the first of them (on this connection), `graceMs`
   * how long an honest peer may take to learn our branch.
   */
  | { kind: "fork_not_preferred"; peer: PeerIp; inARow: number; forMs: number; graceMs: number }
  /** A fork probe: the peer's tip (at or below ours) is on a valid branch our fork choice does not prefer; kept aside, and our tip sent to it. */
  | { kind: "losing_tip"; peer: PeerIp }
  /** Valid so far, some blocks ahead of our clock: the store holds them until their time (our clock may be slow). */
  | { kind: "held"; peer: PeerIp }
  /** Too far ahead of our clock for the store to hold (or its hold is full): offered again later, nobody blamed. */
  | { kind: "too_early"; peer: PeerIp; retryAfterMs: number }
  | { kind: "fork_too_deep"; peer: PeerIp; detail: string }
  /** The store found a block invalid. */
  | { kind: "invalid"; peer: PeerIp; height: number; reason: string; detail: string }
  /**
   * A GetBlocks failed (at `from`, after any earlier rounds were applied).
   * `empty` here: no blocks from a height within max_reorg_depth of the
   * peer's claim, which a reorg on its side may have taken back.
   */
  | (FetchFailure & { peer: PeerIp; from: number })
  /**
   * No blocks from `from`, at least max_reorg_depth below the height the peer
   * claimed: no reorg takes back that much, so the claim was never backed.
   * `report`: the first proof of this claim (reported once, never per batch).
   */
  | { kind: "unbacked_claim"; peer: PeerIp; from: number; claim: number; report: boolean }
  /** Fetched back twice the reorg limit and still no common block: another chain, not an offence. */
  | { kind: "does_not_link"; peer: PeerIp; from: number }
  /**
   * Part of the batch is applied; the rest is for another peer: this one
   * claims less than the batch, or kept answering short for too many rounds.
   */
  | { kind: "rest_elsewhere"; peer: PeerIp; why: "peer_height" | "rounds" }
  /**
   * Nobody credibly claims the range: its claimant left or lost its standing
   * since it was planned. `deliveries`: how often this batch was taken.
   */
  | { kind: "no_peer"; deliveries: number }
  /** Every peer claiming the range failed it: start over with all of them. */
  | { kind: "every_peer_tried" }
  /** Ahead of the tip, and the chain did not reach its parent in time (or there was no room to wait). */
  | { kind: "parent_not_reached" }
  /** Our block-store failed or answered nothing we know: nobody else's fault. */
  | { kind: "store_failed"; detail: string }
  /** This replica is stopping: whatever the batch had not committed is for another worker, now. */
  | { kind: "stopping" };
