import { EventEmitter } from "node:events";

/**
 * Our chain's tip as the block-store reports it (chain.tip, and every
 * PutBlocks answer). Emits "advanced" (height) when it moves.
 */
export class TipTracker extends EventEmitter {
  height = 0;
  hash: Uint8Array = new Uint8Array(32);
  /** When the height last changed (ms). */
  changedAt = Date.now();

  update(height: number, hash: Uint8Array): void {
    if (height === this.height && Buffer.from(hash).equals(Buffer.from(this.hash))) return;
    this.height = height;
    this.hash = hash;
    this.changedAt = Date.now();
    this.emit("advanced", height);
  }

  /** Resolves true once the tip reaches `height`, false after timeoutMs. */
  waitFor(height: number, timeoutMs: number): Promise<boolean> {
    if (this.height >= height) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAdvance = (h: number) => {
        if (h < height) return;
        clearTimeout(timer);
        this.off("advanced", onAdvance);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.off("advanced", onAdvance);
        resolve(false);
      }, timeoutMs);
      this.on("advanced", onAdvance);
    });
  }
}
