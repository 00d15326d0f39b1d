import { hashHex, txHash } from "@timenet/chain";

/** What became of a transaction offered to the mempool. */
export type TxAdmission = "added" | "duplicate" | "full" | "too_large";

export interface MempoolLimits {
  /** Most transactions held; beyond it new ones are dropped ("full"). */
  maxTxs: number;
  /** Most bytes of transactions held; beyond it new ones are dropped ("full"). */
  maxBytes: number;
  /** Largest transaction that could ever fit a block; larger ones are dropped ("too_large"). */
  maxTxBytes: number;
  /**
   * Hashes of transactions already in a block that are remembered, so a copy
   * arriving late is a duplicate, not a second inclusion. Default 100000.
   */
  rememberIncluded?: number;
}

/**
 * Transactions waiting for a block, oldest first, one per SHA-256d hash.
 * Bounded by count and bytes: when full, new transactions are refused (the
 * ones already waiting keep their place).
 */
export class Mempool {
  // A Map iterates in insertion order: arrival order, oldest first.
  private readonly txs = new Map<string, Uint8Array>();
  private readonly included = new Set<string>();
  private totalBytes = 0;
  private readonly rememberIncluded: number;

  constructor(private readonly limits: MempoolLimits) {
    this.rememberIncluded = limits.rememberIncluded ?? 100_000;
  }

  get size(): number {
    return this.txs.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  add(tx: Uint8Array): TxAdmission {
    const key = hashHex(txHash(tx));
    if (this.txs.has(key) || this.included.has(key)) return "duplicate";
    if (tx.length > this.limits.maxTxBytes) return "too_large";
    if (this.txs.size >= this.limits.maxTxs || this.totalBytes + tx.length > this.limits.maxBytes) return "full";
    this.txs.set(key, tx);
    this.totalBytes += tx.length;
    return "added";
  }

  /**
   * The transactions for a block: oldest first, at most `maxTxs`, their
   * `cost` summing to at most `budget`. One that does not fit is passed over
   * for younger, smaller ones. They stay in the mempool until markIncluded.
   */
  select(maxTxs: number, budget: number, cost: (tx: Uint8Array) => number = (tx) => tx.length): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = budget;
    for (const tx of this.txs.values()) {
      if (out.length >= maxTxs) break;
      const c = cost(tx);
      if (c > left) continue;
      out.push(tx);
      left -= c;
    }
    return out;
  }

  /**
   * Transactions that are in a block on the chain (ours or another
   * producer's): they leave the mempool and are remembered as included.
   * Returns how many of them were waiting.
   */
  markIncluded(txs: Iterable<Uint8Array>): number {
    let removed = 0;
    for (const tx of txs) {
      const key = hashHex(txHash(tx));
      const held = this.txs.get(key);
      if (held !== undefined) {
        this.txs.delete(key);
        this.totalBytes -= held.length;
        removed++;
      }
      this.remember(key);
    }
    return removed;
  }

  private remember(key: string): void {
    this.included.delete(key);
    this.included.add(key);
    while (this.included.size > this.rememberIncluded) {
      const oldest = this.included.values().next().value;
      if (oldest === undefined) break;
      this.included.delete(oldest);
    }
  }
}
