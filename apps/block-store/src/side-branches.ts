import type { Database } from "lmdb";
import { hashHex } from "@timenet/chain";
import type { StoreMetrics } from "./metrics.js";

export interface SideLimits {
  /** Most blocks kept aside. */
  maxBlocks: number;
  /** Most bytes of blocks kept aside. */
  maxBytes: number;
}

/** A side-index key: height (uint32 big-endian, so keys sort by height) then hash. */
function sideKey(height: number, hash: Uint8Array): Uint8Array {
  const key = new Uint8Array(4 + hash.length);
  new DataView(key.buffer).setUint32(0, height, false);
  key.set(hash, 4);
  return key;
}

function sizeValue(size: number): Uint8Array {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, size, false);
  return v;
}

const readSize = (v: Uint8Array): number => new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(0, false);
const heightOf = (key: Uint8Array): number => new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0, false);

/**
 * The blocks the store keeps that are not on the main chain (forks not
 * preferred, blocks a reorg replaced): an index `side` (height, hash -> size)
 * beside the block bodies, so they can be found by height to be pruned once
 * final, and counted against a cap. Every method that writes runs inside the
 * store's write transaction.
 */
export class SideBranches {
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly index: Database<Uint8Array, Uint8Array>,
    private readonly bodies: Database<Uint8Array, Uint8Array>,
    readonly limits: SideLimits,
    private readonly metrics: StoreMetrics,
  ) {
    // Bounded by the cap, so a scan at open is cheap.
    for (const { value } of index.getRange({})) {
      this.count++;
      this.bytes += readSize(value);
    }
    this.publish();
  }

  get blocks(): number {
    return this.count;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** Whether a run of this size could be kept at all (alone under the cap). */
  couldKeep(blocks: number, bytes: number): boolean {
    return blocks <= this.limits.maxBlocks && bytes <= this.limits.maxBytes;
  }

  add(height: number, hash: Uint8Array, size: number): void {
    const key = sideKey(height, hash);
    if (this.index.get(key) !== undefined) return;
    this.index.putSync(key, sizeValue(size));
    this.count++;
    this.bytes += size;
  }

  /** The block joined the main chain: no longer a side block (its body stays). */
  remove(height: number, hash: Uint8Array): void {
    // Nothing kept aside (the common case while syncing): no read per block.
    if (this.count === 0) return;
    const key = sideKey(height, hash);
    const v = this.index.get(key);
    if (v === undefined) return;
    this.index.removeSync(key);
    this.count--;
    this.bytes -= readSize(v);
  }

  /**
   * Deletes (index and body) every side block at or below `finalHeight`: it
   * can never be part of a chain we switch to. Then, while over the cap, the
   * lowest heights first (the nearest to final), sparing the hashes in
   * `spare` (what this very put keeps aside).
   */
  prune(finalHeight: number, spare: ReadonlySet<string>): void {
    // Nothing kept aside (the common case): no cursor opened per commit.
    if (this.count === 0) return;
    const final: Uint8Array[] = [];
    for (const { key } of this.index.getRange({ end: sideKey(finalHeight + 1, new Uint8Array(0)) })) final.push(new Uint8Array(key));
    for (const key of final) this.drop(key);
    if (final.length > 0) this.metrics.sidePruned.inc({ reason: "final" }, final.length);

    let capped = 0;
    if (this.count > this.limits.maxBlocks || this.bytes > this.limits.maxBytes) {
      const victims: Uint8Array[] = [];
      let count = this.count;
      let bytes = this.bytes;
      for (const { key, value } of this.index.getRange({})) {
        if (count <= this.limits.maxBlocks && bytes <= this.limits.maxBytes) break;
        const k = new Uint8Array(key);
        if (spare.has(hashHex(k.subarray(4)))) continue;
        victims.push(k);
        count--;
        bytes -= readSize(value);
      }
      for (const key of victims) this.drop(key);
      capped = victims.length;
      if (capped > 0) this.metrics.sidePruned.inc({ reason: "cap" }, capped);
    }
  }

  /** The in-memory totals, to put back if the transaction that changed them fails. */
  counts(): { count: number; bytes: number } {
    return { count: this.count, bytes: this.bytes };
  }

  restoreCounts(c: { count: number; bytes: number }): void {
    this.count = c.count;
    this.bytes = c.bytes;
    this.publish();
  }

  /** After the transaction committed: the gauges. */
  publish(): void {
    this.metrics.sideBlocks.set(this.count);
    this.metrics.sideBytes.set(this.bytes);
    this.metrics.sideFill.set(Math.max(this.count / this.limits.maxBlocks, this.bytes / this.limits.maxBytes));
  }

  /** Lowest side height, for tests and logs. */
  lowestHeight(): number | undefined {
    for (const { key } of this.index.getRange({ limit: 1 })) return heightOf(key);
    return undefined;
  }

  private drop(key: Uint8Array): void {
    const v = this.index.get(key);
    if (v === undefined) return;
    this.index.removeSync(key);
    this.bodies.removeSync(key.subarray(4));
    this.count--;
    this.bytes -= readSize(v);
  }
}
