import { toBinary } from "@bufbuild/protobuf";
import { statelessChecks, type StatelessChecks } from "@timenet/chain";
import { CachedVerifier } from "@timenet/node-key";
import { BlockSchema, type Block } from "@timenet/proto";
import type { BlockStore, PutOutcome } from "./block-store.js";
import type { StoreMetrics } from "./metrics.js";
import { VerifyPoolError, type VerifyPool } from "./verify-pool.js";

export class ImportStoppedError extends Error {
  readonly code = "ERR_IMPORT_STOPPED";
  constructor() {
    super("the block-store is stopping: no more puts");
    this.name = "ImportStoppedError";
  }
}

/** More puts are waiting for the writer than `maxQueuedPuts`: asked again shortly, nothing is lost. */
export class ImportBusyError extends Error {
  readonly code = "ERR_IMPORT_BUSY";
  constructor(queued: number) {
    super(`${queued} puts are already waiting for the block-store's writer: try again shortly`);
    this.name = "ImportBusyError";
  }
}

/**
 * The way blocks come in: each put's stateless checks start at once on the
 * validation workers, and the puts then go to the single writer
 * (BlockStore.put: linkage, schedule, fork choice, one LMDB transaction) one
 * at a time in the order they arrived. So batch k+1 is verified while batch
 * k is committed, and the outcome of every put is the one the sequential
 * path gives. Without a pool (`pool` undefined) every put is the old
 * single-threaded BlockStore.put. At most `maxQueuedPuts` puts wait at once
 * (their blocks are held in memory): beyond, a put is refused with
 * ImportBusyError before any work, and its caller asks again.
 */
export class ImportPipeline {
  private tail: Promise<unknown> = Promise.resolve();
  private stopping = false;
  /** For checks on this thread, when the workers cannot take them. */
  private readonly verifier = new CachedVerifier();
  /** Puts accepted and not yet answered. */
  private queued = 0;

  constructor(
    private readonly store: BlockStore,
    private readonly pool: VerifyPool | undefined,
    private readonly metrics: StoreMetrics,
    private readonly maxQueuedPuts = Number.POSITIVE_INFINITY,
  ) {}

  put(blocks: readonly Block[]): Promise<PutOutcome> {
    if (this.stopping) return Promise.reject(new ImportStoppedError());
    if (this.queued >= this.maxQueuedPuts) {
      this.metrics.importRefused.inc();
      return Promise.reject(new ImportBusyError(this.queued));
    }
    this.queued++;
    this.metrics.importQueue.set(this.queued);
    const pool = this.pool;
    let turn: Promise<PutOutcome>;
    if (pool === undefined) {
      turn = this.tail.then(() => this.store.put(blocks));
    } else {
      // Encoded once: the workers check these bytes, and the commit writes them.
      const encoded = blocks.map((b) => toBinary(BlockSchema, b));
      const checks = pool.check(encoded).catch((err: unknown) => this.onThisThread(err, blocks, encoded));
      turn = this.tail.then(async () => this.store.put(blocks, { checks: await checks, encoded }));
    }
    this.tail = turn.catch(() => undefined);
    return turn.finally(() => {
      this.queued--;
      this.metrics.importQueue.set(this.queued);
    });
  }

  /** Refuses new puts and resolves when every accepted one is committed (or refused); then ends the workers. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.tail;
    await this.pool?.stop();
  }

  private onThisThread(err: unknown, blocks: readonly Block[], encoded: readonly Uint8Array[]): StatelessChecks[] {
    if (!(err instanceof VerifyPoolError)) throw err;
    this.metrics.verifyFallbacks.inc({ reason: err.code === "ERR_VERIFY_QUEUE_FULL" ? "queue_full" : "worker_exited" });
    const verify = this.verifier.verify.bind(this.verifier);
    return blocks.map((b, i) => statelessChecks(b, this.store.network, verify, encoded[i]!.length));
  }
}
