import type { PeerIp } from "@timenet/net-address";

interface PeerHeight {
  height: number;
  /** Batches this peer failed recently are given to others first. */
  failures: number;
  /** Batches in a row in which it served only a branch the fork choice does not prefer. */
  losing: number;
}

/**
 * What each connected peer claims to have (its Hello, then its NewBlock
 * announcements). Bounded by the gateway's connection count.
 */
export class PeerHeights {
  private readonly peers = new Map<PeerIp, PeerHeight>();

  set(ip: PeerIp, height: number): void {
    const p = this.peers.get(ip);
    if (p) p.height = Math.max(p.height, height);
    else this.peers.set(ip, { height, failures: 0, losing: 0 });
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

  best(): { ip: PeerIp; height: number } | undefined {
    let best: { ip: PeerIp; height: number } | undefined;
    for (const [ip, p] of this.peers) if (!best || p.height > best.height) best = { ip, height: p.height };
    return best;
  }

  /**
   * A peer that claims `height`, not in `exclude`: the fewest recent
   * failures first, then at random, so workers spread over peers.
   */
  pick(height: number, exclude: ReadonlySet<string>): PeerIp | undefined {
    const able = [...this.peers].filter(([ip, p]) => p.height >= height && !exclude.has(ip));
    if (able.length === 0) return undefined;
    const least = Math.min(...able.map(([, p]) => p.failures));
    const best = able.filter(([, p]) => p.failures === least);
    return best[Math.floor(Math.random() * best.length)]![0];
  }

  get size(): number {
    return this.peers.size;
  }
}
