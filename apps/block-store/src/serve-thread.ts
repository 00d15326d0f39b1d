import { Worker } from "node:worker_threads";
import type { Logger } from "@timenet/telemetry";
import type { StoreMetrics } from "./metrics.js";
import type { ServeBackend } from "./serve-backend.js";
import type { ServeBudgetLimits } from "./serve-budget.js";
import type { FromServeWorker, ServeAnswer, ServeJob, ServeWorkerData, ToServeWorker } from "./serve-job.js";

export type ServeThreadErrorCode =
  /** No worker right now: it crashed and waits for its restart. */
  | "ERR_SERVE_WORKER_DOWN"
  /** The worker ended while it held the job. */
  | "ERR_SERVE_WORKER_EXITED"
  /** The worker could not read the job's blocks. */
  | "ERR_SERVE_READ"
  /** The serving thread is stopping. */
  | "ERR_SERVE_STOPPED";

export class ServeThreadError extends Error {
  constructor(
    readonly code: ServeThreadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ServeThreadError";
  }
}

export interface ServeThreadOptions {
  dbPath: string;
  budget: ServeBudgetLimits;
  logger: Logger;
  metrics: StoreMetrics;
  /** A worker that crashes again before answering anything is restarted after this, doubling each time. Default 100 ms. */
  restartBaseMs?: number;
  /** The longest wait before a restart. Default 5 s. */
  restartMaxMs?: number;
  /** How long stop() lets the worker answer what it holds and close before it is terminated. Default 2 s. */
  stopGraceMs?: number;
}

interface Waiting {
  resolve(a: ServeAnswer): void;
  reject(e: ServeThreadError): void;
}

/**
 * The serving worker (serve-worker.ts) seen from the main thread: jobs
 * handed over by message, answers back by transfer. A worker that ends
 * unasked fails the jobs it held and is restarted (at once, then with a
 * growing delay while it keeps crashing before answering anything).
 */
export class ServeThread implements ServeBackend {
  readonly where = "worker";
  private current: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private crashesInARow = 0;
  /** A first worker that cannot open the chain fails start(); only one that was ready is restarted. */
  private everReady = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly restartBaseMs: number;
  private readonly restartMaxMs: number;
  private readonly stopGraceMs: number;

  constructor(private readonly o: ServeThreadOptions) {
    this.restartBaseMs = o.restartBaseMs ?? 100;
    this.restartMaxMs = o.restartMaxMs ?? 5_000;
    this.stopGraceMs = o.stopGraceMs ?? 2_000;
  }

  /** The worker now (undefined while it waits for a restart). */
  get worker(): Worker | undefined {
    return this.current;
  }

  private starting: Promise<void> | undefined;

  /**
   * Resolves when the first worker has opened the chain; rejects (no restart) when it cannot.
   * Called again, the same start: the store begins it early, so the worker loads while the main thread connects to NATS.
   */
  start(): Promise<void> {
    return (this.starting ??= this.spawnFirst());
  }

  private async spawnFirst(): Promise<void> {
    const w = this.spawn();
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromServeWorker) => {
        if (m.type !== "ready") return;
        w.off("exit", onExit);
        resolve();
      };
      const onExit = (code: number) => {
        reject(new ServeThreadError("ERR_SERVE_WORKER_EXITED", `the serving worker ended (exit code ${code}) before it opened the chain: ${this.lastError?.message ?? "no error"}`));
      };
      w.on("message", onMessage);
      w.once("exit", onExit);
    });
  }

  answer(job: ServeJob): Promise<ServeAnswer> {
    const w = this.current;
    if (this.stopping) return Promise.reject(new ServeThreadError("ERR_SERVE_STOPPED", "serving is stopping"));
    if (w === undefined) return Promise.reject(new ServeThreadError("ERR_SERVE_WORKER_DOWN", "the serving worker is restarting"));
    return new Promise((resolve, reject) => {
      this.waiting.set(job.id, { resolve, reject });
      w.postMessage({ type: "job", job } satisfies ToServeWorker);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const w = this.current;
    if (w !== undefined) {
      const exited = new Promise((r) => w.once("exit", r));
      w.postMessage({ type: "close" } satisfies ToServeWorker);
      const timer = setTimeout(() => {
        this.o.logger.warn({ grace_ms: this.stopGraceMs, waiting: this.waiting.size }, "serving worker did not close in time: terminated");
        void w.terminate();
      }, this.stopGraceMs);
      await exited;
      clearTimeout(timer);
    }
    this.failAll(new ServeThreadError("ERR_SERVE_STOPPED", "serving stopped"));
  }

  private lastError: Error | undefined;

  private spawn(): Worker {
    this.lastError = undefined;
    const data: ServeWorkerData = { dbPath: this.o.dbPath, budget: this.o.budget };
    const w = new Worker(new URL("./serve-worker.js", import.meta.url), { workerData: data, name: "block-store-serve" });
    this.current = w;
    w.on("message", (m: FromServeWorker) => this.onMessage(m));
    w.on("error", (err) => {
      this.lastError = err;
      this.o.logger.error({ err: err.message }, "serving worker failed");
    });
    w.on("exit", (code) => this.onExit(w, code));
    return w;
  }

  private onMessage(m: FromServeWorker): void {
    switch (m.type) {
      case "ready":
        if (this.everReady) this.o.logger.info({ crashes_in_a_row: this.crashesInARow }, "serving worker restarted");
        this.everReady = true;
        this.o.metrics.serveWorkerUp.set(1);
        return;
      case "answer": {
        this.crashesInARow = 0;
        const w = this.waiting.get(m.answer.id);
        this.waiting.delete(m.answer.id);
        w?.resolve(m.answer);
        return;
      }
      case "failed": {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.reject(new ServeThreadError("ERR_SERVE_READ", m.message));
        return;
      }
    }
  }

  private onExit(w: Worker, code: number): void {
    if (w !== this.current) return;
    this.current = undefined;
    this.o.metrics.serveWorkerUp.set(0);
    const held = this.waiting.size;
    this.failAll(new ServeThreadError("ERR_SERVE_WORKER_EXITED", `the serving worker ended (exit code ${code})`));
    if (this.stopping || !this.everReady) return;
    this.crashesInARow++;
    const delayMs = this.crashesInARow === 1 ? 0 : Math.min(this.restartMaxMs, this.restartBaseMs * 2 ** (this.crashesInARow - 2));
    this.o.metrics.serveWorkerRestarts.inc({ reason: this.lastError ? "error" : "exit" });
    this.o.logger.error(
      { exit_code: code, err: this.lastError?.message, jobs_failed: held, crashes_in_a_row: this.crashesInARow, restart_in_ms: delayMs },
      "serving worker ended unasked: restarting it",
    );
    this.restartTimer = setTimeout(() => {
      if (!this.stopping) this.spawn();
    }, delayMs);
  }

  private failAll(err: ServeThreadError): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
