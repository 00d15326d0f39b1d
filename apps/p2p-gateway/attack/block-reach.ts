/** How blocks made in a time window spread to every honest node. */
export interface Reach {
  /** Heights first seen (at any node) inside the window. */
  blocks: number;
  /** Slowest first-node-to-last-node time among them, ms; Infinity when one never reached a node within the bound. */
  maxMs: number;
  /** Which block that was and which node it reached last (or never). */
  slowest?: string;
}

/**
 * Each honest node's chain.tip announcements, as they arrive: a block has
 * reached a node once that node's tip is at its height or above (a node
 * that moved two blocks at once announces only the second).
 */
export class BlockReach {
  /** Per node: [time (performance.now()), height] of each tip, in arrival order. */
  private readonly tips = new Map<number, Array<[number, number]>>();

  constructor(private readonly nodes: number[]) {
    for (const k of nodes) this.tips.set(k, []);
  }

  tip(node: number, height: number, at = performance.now()): void {
    this.tips.get(node)?.push([at, height]);
  }

  /** When `node`'s tip first reached `height`, or undefined. */
  private reachedAt(node: number, height: number): number | undefined {
    return this.tips.get(node)!.find(([, h]) => h >= height)?.[0];
  }

  /**
   * The blocks first seen in [from, to] and how long each took to reach the
   * last node. Judge it at least `boundMs` after `to`: a block missing at
   * some node by then counts as Infinity.
   */
  over(from: number, to: number, boundMs: number, now = performance.now()): Reach {
    const heights = new Set<number>();
    for (const events of this.tips.values()) for (const [, h] of events) heights.add(h);
    const out: Reach = { blocks: 0, maxMs: 0 };
    for (const h of [...heights].sort((a, b) => a - b)) {
      const times = this.nodes.map((k) => this.reachedAt(k, h));
      const first = Math.min(...times.filter((t): t is number => t !== undefined));
      if (!(first >= from && first <= to)) continue;
      out.blocks++;
      const firstNode = this.nodes[times.indexOf(first)];
      const missing = this.nodes.filter((_, i) => times[i] === undefined);
      if (missing.length > 0) {
        if (now - first < boundMs || out.maxMs === Infinity) continue;
        out.maxMs = Infinity;
        out.slowest = `height ${h}: first on n${firstNode}, never on ${missing.map((k) => `n${k}`).join(", ")}`;
        continue;
      }
      const last = Math.max(...(times as number[]));
      if (last - first > out.maxMs) {
        out.maxMs = last - first;
        out.slowest = `height ${h}: first on n${firstNode}, last on n${this.nodes[times.indexOf(last)]} ${Math.round(last - first)} ms later`;
      }
    }
    return out;
  }
}
