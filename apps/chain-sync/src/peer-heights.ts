import type { PeerIp } from "@timenet/net-address";
import { ClaimStanding } from "./claim-standing.js";
import { movingAverage } from "./moving-average.js";

interface PeerHeight {
  height: number;
  /** Batches this peer failed recently are given to others first. */
  failures: number;
  /** Batches in a row in which it served only a branch the fork choice does not prefer, and since when. */
  losing: number;
  losingSinceMs: number;
  /** GetBlocks this replica has out to it now. */
  asked: number;
  /** Measured: ms per block of its answers (round trip included), a moving average; undefined until it answered. */
  msPerBlock: number | undefined;
  /** Blocks it has served this replica on this connection: a busy peer that still serves someone is making progress. */
  served: number;
}

/** Weight of the newest answer in a peer's measured rate. */
const RATE_WEIGHT = 0.3;

/**
 * What each connected peer claims to have (its Hello, then its NewBlock
 * announcements), bounded by the gateway's connection count, and what those
 * claims are worth: a claim counts only as far as its IP's standing allows
 * (`ClaimStanding`, which outlives the connection).
 */
export class PeerHeights {
  private readonly peers = new Map<PeerIp, PeerHeight>();

  constructor(readonly standing = new ClaimStanding()) {}

  set(ip: PeerIp, height: number): void {
    const p = this.peers.get(ip);
    if (p) p.height = Math.max(p.height, height);
    else this.peers.set(ip, { height, failures: 0, losing: 0, losingSinceMs: 0, asked: 0, msPerBlock: undefined, served: 0 });
  }

  /** The peer answered that it lacks `height + 1` (after a reorg, or it never had it): its claim is no more than `height` now. */
  lower(ip: PeerIp, height: number): void {
    const p = this.peers.get(ip);
    if (p) p.height = Math.min(p.height, Math.max(0, height));
  }

  remove(ip: PeerIp): void {
    this.peers.delete(ip);
  }

  /** A GetBlocks to it is out; `answered` ends it, with the blocks it brought and how long it took. */
  asking(ip: PeerIp): void {
    const p = this.peers.get(ip);
    if (p) p.asked++;
  }

  answered(ip: PeerIp, blocks: number, ms: number): void {
    const p = this.peers.get(ip);
    if (!p) return;
    p.asked = Math.max(0, p.asked - 1);
    if (blocks === 0) return;
    p.served += blocks;
    const sample = ms / blocks;
    p.msPerBlock = movingAverage(p.msPerBlock, sample, RATE_WEIGHT);
  }

  failed(ip: PeerIp): void {
    const p = this.peers.get(ip);
    if (p) p.failures++;
  }

  succeeded(ip: PeerIp): void {
    const p = this.peers.get(ip);
    if (p) {
      p.failures = 0;
      p.losing = 0;
    }
  }

  /** The peer served a losing branch once more: how many batches in a row it has, and for how long (its entry, so the row, ends with its connection). */
  servedLosingBranch(ip: PeerIp, now: number): { inARow: number; forMs: number } {
    const p = this.peers.get(ip);
    if (!p) return { inARow: 0, forMs: 0 };
    p.failures++;
    if (p.losing++ === 0) p.losingSinceMs = now;
    return { inARow: p.losing, forMs: now - p.losingSinceMs };
  }

  /** Blocks the peer has served this replica so far (0 once it is gone). */
  servedOf(ip: PeerIp): number {
    return this.peers.get(ip)?.served ?? 0;
  }

  /** What the peer claims now (it grows with its announcements), or undefined once it is gone. */
  heightOf(ip: PeerIp): number | undefined {
    return this.peers.get(ip)?.height;
  }

  /** What the peer's claim is worth now: all of it in good standing, else what its IP has backed. */
  credibleOf(ip: PeerIp): number | undefined {
    const p = this.peers.get(ip);
    return p && this.standing.credible(ip, p.height);
  }

  /** The highest credible claim, and whose. */
  best(): { ip: PeerIp; height: number } | undefined {
    let best: { ip: PeerIp; height: number } | undefined;
    for (const [ip, p] of this.peers) {
      const height = this.standing.credible(ip, p.height);
      if (!best || height > best.height) best = { ip, height };
    }
    return best;
  }

  /**
   * How far to plan: each credible claim, but no more than `lookahead`
   * beyond what is backed (our tip, or what that IP served us, if higher).
   * A claim is probed that far; only blocks served move it on.
   */
  horizon(tip: number, lookahead: number): number {
    let horizon = tip;
    for (const [ip, p] of this.peers) {
      const reach = Math.min(this.standing.credible(ip, p.height), Math.max(tip, this.standing.backedOf(ip)) + lookahead);
      horizon = Math.max(horizon, reach);
    }
    return horizon;
  }

  /**
   * A peer that credibly claims `height`, not in `exclude`: the fewest
   * recent failures first, then the one expected to answer soonest (its
   * measured ms per block × the questions it already has from us, plus
   * this one), then at random, so requests spread over peers by their rate
   * and pipeline on each. A peer not yet measured is asked first, to
   * measure it, but only one question at a time while a measured peer can
   * take the rest: a newcomer (a stranger that never answers, say) holds
   * one batch of this replica until its first answer or the timeout, not
   * every question meanwhile. When no peer is measured yet (a sync
   * starting), questions go to whoever has the fewest.
   */
  pick(height: number, exclude: ReadonlySet<string> = new Set()): PeerIp | undefined {
    const able = [...this.peers].filter(([ip, p]) => this.standing.credible(ip, p.height) >= height && !exclude.has(ip));
    if (able.length === 0) return undefined;
    const anyMeasured = able.some(([, p]) => p.msPerBlock !== undefined);
    // Before the failures count: a measured peer that failed lately still takes what a newcomer may not.
    const askable = anyMeasured ? able.filter(([, p]) => p.msPerBlock !== undefined || p.asked === 0) : able;
    const least = Math.min(...askable.map(([, p]) => p.failures));
    const fewest = askable.filter(([, p]) => p.failures === least);
    const expected = ([, p]: [PeerIp, PeerHeight]) => (p.msPerBlock === undefined ? p.asked : (p.asked + 1) * p.msPerBlock);
    const soonest = Math.min(...fewest.map(expected));
    const best = fewest.filter((e) => expected(e) === soonest);
    return best[Math.floor(Math.random() * best.length)]![0];
  }

  get size(): number {
    return this.peers.size;
  }
}
