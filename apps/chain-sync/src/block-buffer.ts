/**
 * A bound on fetched blocks held in memory while they wait for the chain to
 * reach them (out-of-order batches). A batch that cannot reserve room is
 * handed back to the queue instead of being held.
 */
export class BlockBuffer {
  private held = 0;

  constructor(private readonly maxBlocks: number) {}

  tryReserve(blocks: number): boolean {
    if (this.held + blocks > this.maxBlocks) return false;
    this.held += blocks;
    return true;
  }

  release(blocks: number): void {
    this.held = Math.max(0, this.held - blocks);
  }

  get size(): number {
    return this.held;
  }
}
