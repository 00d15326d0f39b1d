import type { PeerIp } from "@timenet/net-address";
import { ClaimStanding } from "./claim-standing.js";

interface PeerHeight {
  height: number;
  /** Batches this peer failed recently are given to others first. */
  failures: number;
  /** Batches in a row in which it served only a branch the fork choice does not prefer. */
  losing: number;
}

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
    else this.peers.set(ip, { height, failures: 0, losing: 0 });
  }

  /** The peer answered that it lacks `height + 1` (after a reorg, or it never had it): its claim is no more than `height` now. */
  lower(ip: PeerIp, height: number): void {
    const p = this.peers.get(ip);
    if (p) p.height = Math.min(p.height, Math.max(0, height));
  }

  remove(ip: PeerIp): void {
    this.peers.delete(ip);
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

  /** The peer served a losing branch once more: how many batches in a row it has. */
  servedLosingBranch(ip: PeerIp): number {
    const p = this.peers.get(ip);
    if (!p) return 0;
    p.failures++;
    return ++p.losing;
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
   * recent failures first, then at random, so workers spread over peers.
   */
  pick(height: number, exclude: ReadonlySet<string> = new Set()): PeerIp | undefined {
    const able = [...this.peers].filter(([ip, p]) => this.standing.credible(ip, p.height) >= height && !exclude.has(ip));
    if (able.length === 0) return undefined;
    const least = Math.min(...able.map(([, p]) => p.failures));
    const best = able.filter(([, p]) => p.failures === least);
    return best[Math.floor(Math.random() * best.length)]![0];
  }

  get size(): number {
    return this.peers.size;
  }
}
