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

  /** Resolves true once the tip reaches `height`, false after timeoutMs or as soon as `signal` aborts. */
  waitFor(height: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.height >= height) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (reached: boolean) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener("abort", onAbort);
        resolve(reached);
      };
      const onAbort = () => finish(false);
      const off = this.on("advanced", (h) => {
        if (h >= height) finish(true);
      });
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
