import { TypedEvents, type ListenerErrorHandler } from "@timenet/events";

export type TipEvents = {
  advanced: (height: number) => void;
};

/**
 * Our chain's tip as the block-store reports it (chain.tip, and every
 * PutBlocks answer). Emits "advanced" (height) when it moves; a listener
 * that throws is reported, never thrown into the update that emitted.
 */
export class TipTracker extends TypedEvents<TipEvents> {
  height = 0;
  hash: Uint8Array = new Uint8Array(32);
  /** When the height last changed (ms). */
  changedAt = Date.now();

  constructor(onListenerError: ListenerErrorHandler) {
    super(onListenerError);
  }

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
      const off = this.on("advanced", (h) => {
        if (h < height) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
    });
  }
}
