import { status } from "@grpc/grpc-js";
import { blockHash, bytesEqual, hashHex } from "@timenet/chain";
import type { BlockHeader, BlockStoreService } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import type { ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";
import type { PeerHeights } from "./peer-heights.js";
import type { TipTracker } from "./tip-tracker.js";
import { rememberRecent } from "./recent-map.js";
import { publishBatch, type WorkQueue } from "./work-queue.js";

/** What became of a peer's tip (an announcement, or the Hello of a new connection): the label of timenet_sync_fork_probes_total. */
export type ForkProbeResult =
  /** Above our tip: the planner fetches it, by height; looked at again once our tip reaches its height (we may have got there on another branch). */
  | "above_our_tip"
  | "our_tip"
  /** So far below our tip that it could only fork at or below our final height: the store would refuse it. */
  | "below_final"
  /** The announced header is not the block announced (hash or height): nothing is fetched for it. */
  | "bad_announcement"
  /** The peer's claims are out of standing (see ClaimStanding): it steers nothing. */
  | "not_credible"
  /** The peer's last probe was less than its interval ago: this tip is looked at when it ends. */
  | "deferred"
  /** MAX_LOOKUPS_PER_INTERVAL tips of any peers were looked up this interval: this one is looked at in the next. */
  | "deferred_all"
  /** The store holds that block (on our chain or kept aside): its fork choice has decided already. */
  | "known"
  | "queued"
  /** The same tip of the same peer was queued within the work queue's duplicate window. */
  | "duplicate"
  /** The work queue is at its bound: the tip is looked at again after the interval. */
  | "refused"
  | "store_failed";

export interface ForkProbesOptions {
  queue: WorkQueue;
  store: ServiceClient<typeof BlockStoreService>;
  tip: TipTracker;
  heights: PeerHeights;
  metrics: SyncMetrics;
  logger: Logger;
  maxReorgDepth: number;
  /**
   * A peer's tips are looked up and probed at most once per this; the latest
   * one that came meanwhile is looked at when it ends. Each probe that brings
   * no branch (none we switch to or keep aside) doubles that peer's interval,
   * up to FORK_PROBE_MAX_BACKOFF times this; one that does resets it.
   */
  intervalMs: number;
  /** Peers whose last probe is remembered (the least recent forgotten first). Default 1024. */
  maxPeers?: number;
}

interface PeerTip {
  height: number;
  hash: Uint8Array;
  header?: BlockHeader;
}

/**
 * A peer's probes that bring nothing stretch its interval up to this many
 * times the base: a liar that answers a probe with a block that does not
 * link, then with our own chain's blocks, makes the store verify up to twice
 * max_reorg_depth signatures for nothing, and is never an offence.
 */
export const FORK_PROBE_MAX_BACKOFF = 16;

/** Store lookups (each a possible probe) per base interval, all peers together, in one replica. */
export const MAX_LOOKUPS_PER_INTERVAL = 4;

interface PeerProbe {
  lastAt: number;
  /** This peer's interval now: the base, doubled by each probe that brought nothing. */
  intervalMs: number;
  /** The latest tip that came within the interval, looked at when it ends. */
  pending?: PeerTip;
  timer?: NodeJS.Timeout;
}

/**
 * The fork choice prefers weight, not height, so a heavier branch can be the
 * shorter one; the planner only fetches heights above our tip, and would
 * never fetch it. Two honest nodes could then each hold the branch the other
 * does not prefer, forever: the lighter one ahead never asks, the heavier one
 * behind keeps being served a branch it refuses (seen on a testnet of two
 * producers racing at the same rate).
 *
 * So a peer's tip at or below our height that the store does not hold is
 * fetched from that peer alone (a fork probe batch: SyncBatch.fork_peer),
 * back to where its chain meets ours, and the store's fork choice decides.
 * Every node holding both branches then picks the same one. A tip named
 * above ours is the planner's, but is looked at again once our tip reaches
 * its height: we may have got there on another branch, and the planner's
 * batch for it then ends "already have" by height alone. Bounded: one
 * store lookup and at most one probe per peer per its interval (stretched
 * while its probes bring nothing), MAX_LOOKUPS_PER_INTERVAL for all peers
 * together, only for tips above our final height, only from peers in good
 * standing, only for a header that is the block announced. A fetch that
 * proves nothing is what the worker already knows how to answer (invalid
 * blocks are reported, no link costs nothing).
 */
export class ForkProbes {
  private readonly peers = new Map<PeerIp, PeerProbe>();
  /** Each peer's latest tip above ours, looked at again when our tip gets there (onTipMoved). */
  private readonly ahead = new Map<PeerIp, PeerTip>();
  private readonly maxPeers: number;
  private stopped = false;
  /** Lookups in the current base interval, for MAX_LOOKUPS_PER_INTERVAL. */
  private windowStart = 0;
  private windowLookups = 0;

  constructor(private readonly o: ForkProbesOptions) {
    this.maxPeers = o.maxPeers ?? 1024;
  }

  /** A tip peer `ip` holds (announced in a NewBlock with its header, or in a new connection's Hello without). */
  async consider(ip: PeerIp, height: number, hash: Uint8Array, header?: BlockHeader): Promise<ForkProbeResult> {
    const result = await this.decide(ip, height, hash, header);
    this.o.metrics.forkProbes.inc({ result });
    if (result === "queued") this.o.logger.info({ peer_ip: ip, height, hash: hashHex(hash), our_height: this.o.tip.height }, "fork probe: a peer's tip at or below ours that we do not hold is fetched from it");
    return result;
  }

  /**
   * A probe of this peer ended (in this replica). One that brought a branch
   * (we switched to it, or keep it aside: honest peers racing at one height
   * do that) resets the peer's interval; any other (no answer, no link, a
   * block we had) doubles it.
   */
  probeDone(ip: PeerIp, broughtBranch: boolean): void {
    const p = this.peers.get(ip);
    if (!p) return;
    p.intervalMs = broughtBranch ? this.o.intervalMs : Math.min(p.intervalMs * 2, this.o.intervalMs * FORK_PROBE_MAX_BACKOFF);
  }

  /** Our tip moved (grew, or switched): the peers' tips it reached are looked at as tips at or below ours. */
  onTipMoved(): void {
    for (const [ip, t] of [...this.ahead]) {
      if (t.height > this.o.tip.height) continue;
      this.ahead.delete(ip);
      void this.consider(ip, t.height, t.hash, t.header);
    }
  }

  /**
   * A peer's connection ended: its deferred and remembered tips are dropped.
   * Its last probe time and interval are kept (bounded by maxPeers), so a
   * reconnect does not undo a backoff.
   */
  forget(ip: PeerIp): void {
    const p = this.peers.get(ip);
    if (p?.timer) clearTimeout(p.timer);
    if (p) {
      p.timer = undefined;
      p.pending = undefined;
    }
    this.ahead.delete(ip);
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.peers.values()) clearTimeout(p.timer);
    this.peers.clear();
    this.ahead.clear();
  }

  private async decide(ip: PeerIp, height: number, hash: Uint8Array, header: BlockHeader | undefined): Promise<ForkProbeResult> {
    const { tip, heights, maxReorgDepth } = this.o;
    if (height > tip.height) {
      if (!this.stopped) rememberRecent(this.ahead, ip, { height, hash, header }, this.maxPeers);
      return "above_our_tip";
    }
    if (bytesEqual(hash, tip.hash)) return "our_tip";
    // Its fork point is below `height`; at or below our final height the store refuses the branch (the genesis is final from the start).
    if (height === 0 || height + maxReorgDepth <= tip.height) return "below_final";
    if (hash.length !== 32) return "bad_announcement";
    if (header !== undefined && (header.height !== height || !bytesEqual(blockHash(header), hash))) return "bad_announcement";
    if ((heights.credibleOf(ip) ?? -1) < height) return "not_credible";
    if (this.stopped) return "deferred";

    const now = Date.now();
    if (now - this.windowStart >= this.o.intervalMs) {
      this.windowStart = now;
      this.windowLookups = 0;
    }
    const p = this.entry(ip);
    // This peer's interval (stretched while its probes bring nothing), and everyone's bound per base interval
    // (strangers connecting from many addresses each name a tip once).
    const peerWait = p.lastAt + p.intervalMs - now;
    const allWait = this.windowLookups >= MAX_LOOKUPS_PER_INTERVAL ? this.windowStart + this.o.intervalMs - now : 0;
    if (peerWait > 0 || allWait > 0) {
      // The latest tip wins: an older one the peer has moved on from is not worth a fetch.
      p.pending = { height, hash, header };
      p.timer ??= setTimeout(() => this.runDeferred(ip), Math.max(peerWait, allWait, 1));
      return peerWait > 0 ? "deferred" : "deferred_all";
    }
    p.lastAt = now;
    this.windowLookups++;

    try {
      await this.o.store.getBlock({ by: { case: "hash", value: hash } }, { deadlineMs: 5_000 });
      return "known";
    } catch (err) {
      if ((err as { code?: number }).code !== status.NOT_FOUND) {
        this.o.logger.warn({ peer_ip: ip, err: (err as Error).message }, "fork probe: the block-store did not answer; the peer's next tip is looked at");
        return "store_failed";
      }
    }
    let queued;
    try {
      queued = await publishBatch(this.o.queue, { fromHeight: height, count: 1, plannedAtMs: BigInt(now), forkPeer: ip }, `fork:${ip}:${hashHex(hash)}`);
    } catch (err) {
      this.o.logger.warn({ peer_ip: ip, err: (err as Error).message }, "fork probe: the work queue did not take it; the peer's next tip is looked at");
      return "refused";
    }
    if (queued === "refused") {
      // Looked at again once the interval ends, unless a newer tip comes first.
      p.pending ??= { height, hash, header };
      p.timer ??= setTimeout(() => this.runDeferred(ip), p.intervalMs);
      return "refused";
    }
    return queued;
  }

  private runDeferred(ip: PeerIp): void {
    const p = this.peers.get(ip);
    if (!p || this.stopped) return;
    p.timer = undefined;
    const pending = p.pending;
    p.pending = undefined;
    if (pending) void this.consider(ip, pending.height, pending.hash, pending.header);
  }

  /** The peer's entry, made the most recent; the least recent peer is forgotten beyond the bound. */
  private entry(ip: PeerIp): PeerProbe {
    const p = this.peers.get(ip) ?? { lastAt: Number.NEGATIVE_INFINITY, intervalMs: this.o.intervalMs };
    const evicted = rememberRecent(this.peers, ip, p, this.maxPeers);
    if (evicted?.timer) clearTimeout(evicted.timer);
    return p;
  }
}
