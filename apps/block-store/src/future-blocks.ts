import type { Block } from "@timenet/proto";

export interface HoldLimits {
  /** Most blocks held. */
  maxBlocks: number;
  /** Most bytes of blocks held. */
  maxBytes: number;
  /** Blocks further ahead of our clock than max_future_drift_ms + this are not held (TOO_EARLY). */
  maxAheadMs: number;
}

export type HoldResult = { held: true } | { held: false; why: "full" | "too_far"; retryAfterMs: number };

interface HeldRun {
  blocks: Block[];
  bytes: number;
  dueMs: number;
}

/** Longest a TOO_EARLY answer asks the caller to wait before offering the blocks again. */
const MAX_RETRY_AFTER_MS = 30_000;

/**
 * Valid blocks whose timestamps are ahead of our clock by more than the
 * network's drift bound: held in memory (bounded) and offered to the chain
 * when their time comes. Our clock may be the slow one, so an early block is
 * never an offence; held, it costs the sender nothing and us a bounded amount.
 * Runs are keyed by their first block's hash (the same run offered twice is
 * held once).
 */
export class FutureBlocks {
  private readonly runs = new Map<string, HeldRun>();
  private count = 0;
  private bytes = 0;

  constructor(readonly limits: HoldLimits) {}

  get blocks(): number {
    return this.count;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** Holds `blocks` until `dueMs` (when the first of them is within the drift bound of our clock). */
  hold(key: string, blocks: Block[], bytes: number, dueMs: number, nowMs: number): HoldResult {
    const retryAfterMs = Math.max(1, Math.min(MAX_RETRY_AFTER_MS, dueMs - nowMs));
    if (dueMs - nowMs > this.limits.maxAheadMs) return { held: false, why: "too_far", retryAfterMs };
    const old = this.runs.get(key);
    // A longer copy of a run replaces a shorter one; a copy already held is a no-op.
    if (old !== undefined && old.blocks.length >= blocks.length) return { held: true };
    const freed = old === undefined ? { count: 0, bytes: 0 } : { count: old.blocks.length, bytes: old.bytes };
    if (this.count - freed.count + blocks.length > this.limits.maxBlocks || this.bytes - freed.bytes + bytes > this.limits.maxBytes) {
      return { held: false, why: "full", retryAfterMs };
    }
    if (old !== undefined) this.forget(key, old);
    this.runs.set(key, { blocks, bytes, dueMs });
    this.count += blocks.length;
    this.bytes += bytes;
    return { held: true };
  }

  /** Takes out every run whose time has come, earliest first. */
  takeDue(nowMs: number): Block[][] {
    const due = [...this.runs.entries()].filter(([, r]) => r.dueMs <= nowMs).sort((a, b) => a[1].dueMs - b[1].dueMs);
    for (const [key, run] of due) this.forget(key, run);
    return due.map(([, r]) => r.blocks);
  }

  /** When the next run is due, or undefined when nothing is held. */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const r of this.runs.values()) if (next === undefined || r.dueMs < next) next = r.dueMs;
    return next;
  }

  private forget(key: string, run: HeldRun): void {
    this.runs.delete(key);
    this.count -= run.blocks.length;
    this.bytes -= run.bytes;
  }
}
