import { ChainTipSchema, Subjects } from "@timenet/proto";
import type { BusSubscription } from "@timenet/bus";
import type { SyncNode } from "../test/harness.js";

/** When a node's tip first left genesis and when it reached a height, by the performance clock. */
export interface TipTimes {
  firstAt: number;
  reachedAt: number;
}

/**
 * Watches a node's chain.tip announcements (the store publishes one on
 * every tip change) for the moment its tip reaches `height`. A poll of the
 * store every `pollMs` is the safety net should an announcement be lost:
 * then the time is the poll's, late by up to pollMs.
 */
export class TipWatch {
  private readonly sub: BusSubscription;
  private readonly poll: NodeJS.Timeout;
  private readonly deadline: NodeJS.Timeout;
  private firstAt: number | undefined;
  private settle!: { resolve: (t: TipTimes) => void; reject: (e: Error) => void };
  private readonly done = new Promise<TipTimes>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(
    private readonly node: SyncNode,
    private readonly height: number,
    o: { timeoutMs: number; pollMs?: number },
  ) {
    this.sub = node.bus.subscribe(Subjects.chainTip, ChainTipSchema, (tip) => this.seen(tip.height));
    this.poll = setInterval(() => void node.height().then((h) => this.seen(h), () => undefined), o.pollMs ?? 1_000);
    this.deadline = setTimeout(() => {
      // Stopped first: a poll left running would keep the bench's process alive after it failed.
      this.stop();
      this.settle.reject(new Error(`${node.ip} did not reach height ${height} within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
  }

  /** Resolves once the subscription is registered with the server (announcements from then on are seen). */
  ready(): Promise<void> {
    return this.node.bus.flush();
  }

  reached(): Promise<TipTimes> {
    return this.done;
  }

  stop(): void {
    this.sub.unsubscribe();
    clearInterval(this.poll);
    clearTimeout(this.deadline);
  }

  private seen(height: number): void {
    const now = performance.now();
    if (height > 0) this.firstAt ??= now;
    if (height >= this.height) {
      this.settle.resolve({ firstAt: this.firstAt!, reachedAt: now });
      this.stop();
    }
  }
}
