import { fromBinary } from "@bufbuild/protobuf";
import { extendsTip, hashHex } from "@timenet/chain";
import { BlockInvalidReasonSchema, BlockSchema, enumLabel, OffenceKind, PutResult, PutResultSchema, type Block, type BlockStoreService, type NewBlock } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import type { ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";
import type { ReportOffence } from "./offence-report.js";
import type { PeerHeights } from "./peer-heights.js";
import { rememberReceived } from "./received-blocks.js";
import type { TipTracker } from "./tip-tracker.js";

/**
 * What became of a pushed block (the label of timenet_sync_pushed_blocks_total):
 * the store's answer to its put (applied, already_have, invalid, ...), or why
 * it was not put: not_next (it does not extend our tip), in_flight (the same
 * block pushed by another peer is being put), busy (maxInFlight puts out),
 * undecodable, store_failed.
 */
export type PushedBlockResult = string;

export interface PushedBlocksOptions {
  store: ServiceClient<typeof BlockStoreService>;
  tip: TipTracker;
  heights: PeerHeights;
  metrics: SyncMetrics;
  logger: Logger;
  report: ReportOffence;
  /** Puts of pushed blocks out at once; beyond, a push is left to the planner. Default 4. */
  maxInFlight?: number;
  /** Deadline of one put. Default 10 s. */
  putDeadlineMs?: number;
}

/**
 * Blocks our peers push with their announcement (NewBlock.block, see the
 * gateway's announceBlock). One that extends our tip is written at once:
 * the work queue's hop and a GetBlocks round trip saved on every new block.
 * Anything else (not our tip's child, too many puts out, a put that does
 * not apply) is left to the planner, which fetches by height as before, so
 * a push can only make a block come sooner. The store validates a pushed
 * block like any other; an invalid one is the pusher's offence, as a
 * served one is. Run by the planner replica alone: one put per push.
 */
export class PushedBlocks {
  /** Hex hashes of the pushed blocks being put. */
  private readonly inFlight = new Set<string>();
  private readonly maxInFlight: number;
  private readonly putDeadlineMs: number;

  constructor(private readonly o: PushedBlocksOptions) {
    this.maxInFlight = o.maxInFlight ?? 4;
    this.putDeadlineMs = o.putDeadlineMs ?? 10_000;
    // Shown at 0 from the start (dashboards), not "no data" until the first push.
    o.metrics.pushedBlocks.inc({ result: "applied" }, 0);
  }

  /**
   * A NewBlock from `ip`. True when its block is being put (by this push or
   * another's): the caller plans nothing for it now, and `missed` runs if the
   * put does not apply it. False when there is nothing to put: plan as usual.
   */
  offer(ip: PeerIp, nb: NewBlock, missed: () => void): boolean {
    if (nb.block.length === 0) return false;
    const { tip } = this.o;
    const key = hashHex(nb.hash);
    if (this.inFlight.has(key)) return this.count("in_flight", true);
    if (this.inFlight.size >= this.maxInFlight) return this.count("busy", false);
    let block: Block;
    try {
      block = fromBinary(BlockSchema, nb.block);
    } catch {
      // Our gateway closes a peer whose pushed block does not decode: this is a gateway of another version.
      return this.count("undecodable", false);
    }
    const header = block.header;
    if (!header || !extendsTip(header, tip)) return this.count("not_next", false);
    this.inFlight.add(key);
    // Put as the peer sent it (the store checks and keeps these bytes).
    rememberReceived(block, nb.block);
    void this.put(ip, block, key, missed);
    return true;
  }

  private async put(ip: PeerIp, block: Block, key: string, missed: () => void): Promise<void> {
    const { metrics, logger } = this.o;
    const height = block.header!.height;
    let res;
    try {
      res = await this.o.store.putBlocks({ blocks: [block] }, { deadlineMs: this.putDeadlineMs });
    } catch (err) {
      this.count("store_failed", false);
      logger.warn({ peer_ip: ip, height, err: (err as Error).message }, "a pushed block was not written: the block-store did not answer; the planner fetches it");
      missed();
      return;
    } finally {
      this.inFlight.delete(key);
    }
    if (res.tip) this.o.tip.update(res.tip.height, res.tip.hash);
    const result = enumLabel(PutResultSchema, res.result);
    this.count(result, false);
    metrics.puts.inc({ result });
    switch (res.result) {
      case PutResult.APPLIED:
        metrics.blocksApplied.inc(res.applied);
        this.o.heights.standing.backed(ip, height);
        return;
      case PutResult.ALREADY_HAVE:
      case PutResult.HELD:
      case PutResult.FORK_NOT_PREFERRED:
        this.o.heights.standing.backed(ip, height);
        break;
      case PutResult.INVALID: {
        const reason = enumLabel(BlockInvalidReasonSchema, res.invalidReason);
        metrics.validationFailures.inc({ reason });
        this.o.report(ip, OffenceKind.INVALID_BLOCK, `pushed block ${height} invalid: ${reason} ${res.detail}`);
        break;
      }
      default:
        // parent_unknown (our tip moved meanwhile), too_early (maybe our clock): nobody's fault.
        logger.info({ peer_ip: ip, height, result, detail: res.detail }, "a pushed block was not applied; the planner fetches by height");
    }
    missed();
  }

  private count(result: PushedBlockResult, taken: boolean): boolean {
    this.o.metrics.pushedBlocks.inc({ result });
    return taken;
  }
}
