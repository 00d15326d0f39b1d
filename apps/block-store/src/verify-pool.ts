import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { StatelessChecks } from "@timenet/chain";
import type { Logger } from "@timenet/telemetry";
import type { StoreMetrics } from "./metrics.js";
import type { FromVerifyWorker, ToVerifyWorker, VerifyWorkerData } from "./verify-job.js";

export type VerifyPoolErrorCode =
  /** More chunks in flight than `queueMax`: the caller checks on its own thread. */
  | "ERR_VERIFY_QUEUE_FULL"
  /** The worker holding the chunk ended (it is restarted); the caller checks on its own thread. */
  | "ERR_VERIFY_WORKER_EXITED"
  /** The pool is stopping. */
  | "ERR_VERIFY_STOPPED";

const MAX_CRASHES_IN_A_ROW = 5;

export class VerifyPoolError extends Error {
  constructor(
    readonly code: VerifyPoolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "VerifyPoolError";
  }
}

export interface VerifyPoolOptions {
  limits: VerifyWorkerData;
  logger: Logger;
  metrics: StoreMetrics;
  /** Worker threads. Default os.availableParallelism(). */
  threads?: number;
  /** Chunks handed to workers and not yet answered; beyond, check() refuses. Default 64. */
  queueMax?: number;
  /** A put is cut into chunks of at least this many blocks (smaller ones are not worth a message). Default 16. */
  minChunk?: number;
}

interface Slot {
  worker: Worker;
  /** Jobs it holds: failed if it ends. */
  jobs: Set<number>;
  /** Resolves when its modules are loaded (or it ended). */
  started: Promise<void>;
  ready(): void;
}

interface Pending {
  resolve(c: StatelessChecks[]): void;
  reject(e: VerifyPoolError): void;
}

/**
 * Worker threads that run the stateless checks of blocks (verify-worker.ts).
 * A put's blocks are cut into one chunk per worker, each to the least busy
 * one; the answers come back in the blocks' order. A worker that ends
 * unasked fails the chunks it held and is replaced at once.
 */
export class VerifyPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopping = false;
  private readonly queueMax: number;
  private readonly minChunk: number;
  readonly threads: number;
  /** Workers replaced after ending unasked. */
  restarts = 0;
  /** Blocks handed to the workers so far. */
  blocksSent = 0;
  /** Workers that ended since the last answer: past MAX_CRASHES_IN_A_ROW one is not replaced (a worker that cannot start would loop). */
  private crashesInARow = 0;

  constructor(private readonly o: VerifyPoolOptions) {
    this.threads = Math.max(1, o.threads ?? availableParallelism());
    this.queueMax = o.queueMax ?? 64;
    this.minChunk = o.minChunk ?? 16;
    for (let i = 0; i < this.threads; i++) this.slots.push(this.spawn());
  }

  /** The workers now (tests end one to see the pool recover). */
  get workers(): Worker[] {
    return this.slots.map((s) => s.worker);
  }

  /** Resolves when every worker has loaded its modules (jobs sent before simply wait for them). */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.started));
  }

  /** The stateless checks of `encoded` (protobuf Block bytes), in order. */
  async check(encoded: readonly Uint8Array[]): Promise<StatelessChecks[]> {
    if (this.stopping) throw new VerifyPoolError("ERR_VERIFY_STOPPED", "the validation workers are stopping");
    if (this.slots.length === 0) throw new VerifyPoolError("ERR_VERIFY_WORKER_EXITED", "no validation worker is left");
    const chunks = Math.max(1, Math.min(this.slots.length, Math.floor(encoded.length / this.minChunk)));
    if (this.pending.size + chunks > this.queueMax) throw new VerifyPoolError("ERR_VERIFY_QUEUE_FULL", `${this.pending.size} chunks queued, at most ${this.queueMax}`);
    const size = Math.ceil(encoded.length / chunks);
    const parts: Array<Promise<StatelessChecks[]>> = [];
    for (let from = 0; from < encoded.length; from += size) parts.push(this.send(encoded.slice(from, from + size)));
    return (await Promise.all(parts)).flat();
  }

  /** Ends the workers; chunks they still hold fail with ERR_VERIFY_STOPPED. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.failAll([...this.pending.keys()], new VerifyPoolError("ERR_VERIFY_STOPPED", "the validation workers stopped"));
  }

  private send(encoded: Uint8Array[]): Promise<StatelessChecks[]> {
    const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.jobs.add(id);
      slot.worker.postMessage({ id, encoded } satisfies ToVerifyWorker);
      this.blocksSent += encoded.length;
    });
  }

  private spawn(): Slot {
    const worker = new Worker(new URL("./verify-worker.js", import.meta.url), { workerData: this.o.limits, name: "block-store-verify" });
    let ready = () => {};
    const started = new Promise<void>((r) => (ready = r));
    const slot: Slot = { worker, jobs: new Set(), ready, started };
    worker.on("message", (m: FromVerifyWorker) => {
      if (m.type === "ready") return slot.ready();
      this.crashesInARow = 0;
      slot.jobs.delete(m.id);
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve(m.checks);
    });
    worker.on("error", (err) => this.o.logger.error({ err: err.message }, "validation worker failed"));
    worker.on("exit", (code) => {
      slot.ready();
      this.onExit(slot, code);
    });
    return slot;
  }

  private onExit(slot: Slot, code: number): void {
    const held = [...slot.jobs];
    slot.jobs.clear();
    this.failAll(held, new VerifyPoolError(this.stopping ? "ERR_VERIFY_STOPPED" : "ERR_VERIFY_WORKER_EXITED", `a validation worker ended (exit code ${code})`));
    const at = this.slots.indexOf(slot);
    if (this.stopping || at < 0) return;
    if (++this.crashesInARow > MAX_CRASHES_IN_A_ROW) {
      this.slots.splice(at, 1);
      this.o.logger.error({ exit_code: code, workers_left: this.slots.length }, "validation worker keeps ending before answering: not replaced");
      return;
    }
    this.restarts++;
    this.o.metrics.verifyWorkerRestarts.inc();
    this.o.logger.error({ exit_code: code, chunks_failed: held.length }, "validation worker ended unasked: replaced");
    this.slots[at] = this.spawn();
  }

  private failAll(ids: number[], err: VerifyPoolError): void {
    for (const id of ids) {
      this.pending.get(id)?.reject(err);
      this.pending.delete(id);
    }
  }
}
