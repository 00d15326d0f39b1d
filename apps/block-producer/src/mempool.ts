import { hashHex, txHash } from "@timenet/chain";

/**
 * What became of a transaction offered to the mempool: "duplicate" when it is
 * already waiting, "included" when it is in a block of the main chain as the
 * producer knows it (a block that left the main chain no longer counts).
 */
export type TxAdmission = "added" | "duplicate" | "included" | "full" | "too_large";

/** What reinstate did: txs back in the mempool (or already there), and txs that did not fit its bounds. */
export interface Reinstated {
  reinstated: number;
  didNotFit: number;
}

/** The key a tx is known by: its SHA-256d hash in hex. */
export function txKey(tx: Uint8Array): string {
  return hashHex(txHash(tx));
}

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
    const key = txKey(tx);
    if (this.txs.has(key)) return "duplicate";
    if (this.included.has(key)) return "included";
    const room = this.room(tx);
    if (room !== "added") return room;
    this.txs.set(key, tx);
    this.totalBytes += tx.length;
    return "added";
  }

  private room(tx: Uint8Array): "added" | "full" | "too_large" {
    if (tx.length > this.limits.maxTxBytes) return "too_large";
    if (this.txs.size >= this.limits.maxTxs || this.totalBytes + tx.length > this.limits.maxBytes) return "full";
    return "added";
  }

  /** Whether the tx is waiting for a block. */
  has(tx: Uint8Array): boolean {
    return this.txs.has(txKey(tx));
  }

  /**
   * Transactions of blocks that left the main chain (and are not in its new
   * branch): they are no longer included, and wait again ahead of the ones
   * that arrived since, in the order given (their old block order). Only
   * what fits the mempool's bounds comes back; the waiting txs keep their
   * place, the rest is counted as didNotFit (and forgotten, so a resent copy
   * is taken again).
   */
  reinstate(txs: Iterable<Uint8Array>): Reinstated {
    let reinstated = 0;
    let didNotFit = 0;
    const back = new Map<string, Uint8Array>();
    for (const tx of txs) {
      const key = txKey(tx);
      this.included.delete(key);
      if (this.txs.has(key)) {
        reinstated++; // resent while it was off the chain: already waiting
        continue;
      }
      if (this.room(tx) !== "added") {
        didNotFit++;
        continue;
      }
      back.set(key, tx);
      this.totalBytes += tx.length;
      // Counted against the bounds at once, so the next one sees the room left.
      this.txs.set(key, tx);
      reinstated++;
    }
    if (back.size > 0) {
      // A Map keeps insertion order: rebuild it with the reinstated txs first.
      const newer = [...this.txs].filter(([key]) => !back.has(key));
      this.txs.clear();
      for (const [key, tx] of back) this.txs.set(key, tx);
      for (const [key, tx] of newer) this.txs.set(key, tx);
    }
    return { reinstated, didNotFit };
  }

  /** Transactions no longer in a block of the main chain whose bytes are not at hand: a resent copy is taken again. */
  forget(keys: Iterable<string>): void {
    for (const key of keys) this.included.delete(key);
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
      const key = txKey(tx);
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
