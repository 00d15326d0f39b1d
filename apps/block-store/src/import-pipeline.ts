import { toBinary } from "@bufbuild/protobuf";
import { blockHash, hashHex, statelessChecks, type StatelessChecks } from "@timenet/chain";
import { CachedVerifier } from "@timenet/node-key";
import { BlockSchema, type Block, type BlockHeader } from "@timenet/proto";
import type { BlockStore, Prechecked, PutOutcome } from "./block-store.js";
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

/** ImportPipeline's bounds. */
export interface ImportPipelineLimits {
  /** Puts accepted and not yet answered (their blocks in memory); beyond, ImportBusyError. Default unbounded. */
  maxQueuedPuts?: number;
  /** Most puts written by one LMDB transaction (group commit). Default 8. */
  maxGroupPuts?: number;
  /** How long a put that came before the put ending at its parent waits for it (0: not at all). Default 0. */
  parentWaitMs?: number;
}

interface QueuedPut {
  blocks: readonly Block[];
  /** Hex hash of the last block, while the put is queued: a later put may link to it. */
  lastHash?: string;
  /** Workers' checks and the bytes they checked; undefined on the sequential path. */
  pre?: Promise<Prechecked>;
  /** Bytes to check at the put's turn: its parent was unknown when it came. */
  deferred?: readonly Uint8Array[];
  /** Set when `pre` settled (or at once without workers): the writer may take it now. */
  settled?: { pre: Prechecked | undefined } | { error: unknown };
  resolve(o: PutOutcome): void;
  reject(err: unknown): void;
}

/** A put that came before its parent's put: waiting for it, outside the writer's queue. */
interface WaitingPut {
  entry: QueuedPut;
  bytes: readonly Uint8Array[];
  timer: NodeJS.Timeout;
}

/**
 * The way blocks come in: each put's stateless checks start at once on the
 * validation workers, and the puts then go to the single writer
 * (BlockStore: linkage, schedule, fork choice, LMDB) in the order they
 * arrived. So batch k+1 is verified while batch k is committed, and the
 * outcome of every put is the one the sequential path gives. When the writer
 * finds several puts checked and waiting, it writes them in one transaction
 * (BlockStore.putGroup, at most `maxGroupPuts`): the commit's fixed cost (its
 * sync) is paid once for all, so a writer slowed by a slow disk catches up
 * instead of falling further behind. Without a
 * pool (`pool` undefined) every put is the old single-threaded path. At most
 * `maxQueuedPuts` puts wait at once: beyond, a put is refused with
 * ImportBusyError before any work, and its caller asks again.
 *
 * Puts sent together may come out of order: gRPC streams share one HTTP/2
 * connection and a 128 KiB request crosses several flow-control windows, so
 * the later put of two is often whole first (with 4 in flight, 34–61 of 63
 * puts came before their parent's put on loopback). Answered at once, each
 * would be PARENT_UNKNOWN and sent again. Instead a put whose parent is
 * neither stored nor queued waits, outside the queue, up to `parentWaitMs`
 * for the put that ends at its parent: when that one comes, it is checked
 * and queued right behind it, as if it had come in order; else it is queued
 * as before and answered at its turn (parent_unknown, unless the parent came
 * meanwhile). A put waiting for a parent that becomes stored another way
 * (inside a longer put, or an early block released from the hold) is
 * queued as soon as it is (`releaseStored`), not when its wait ends.
 * Waiting puts count against `maxQueuedPuts`.
 */
export class ImportPipeline {
  private readonly queue: QueuedPut[] = [];
  /** The writer's loop while it runs (undefined when the queue is empty). */
  private writer: Promise<void> | undefined;
  private stopping = false;
  /** For checks on this thread, when the workers cannot take them. */
  private readonly verifier = new CachedVerifier();
  /** Puts accepted and not yet answered. */
  private queued = 0;
  private readonly maxQueuedPuts: number;
  private readonly maxGroupPuts: number;
  private readonly parentWaitMs: number;
  /** Puts waiting for the put that ends at their parent, by the parent's hex hash (siblings in the order they came). */
  private readonly waiting = new Map<string, WaitingPut[]>();

  constructor(
    private readonly store: BlockStore,
    private readonly pool: VerifyPool | undefined,
    private readonly metrics: StoreMetrics,
    limits: ImportPipelineLimits = {},
  ) {
    this.maxQueuedPuts = limits.maxQueuedPuts ?? Number.POSITIVE_INFINITY;
    this.maxGroupPuts = limits.maxGroupPuts ?? 8;
    this.parentWaitMs = limits.parentWaitMs ?? 0;
  }

  /** `encoded`: each block's bytes as they came (checked and written as they are); without them the blocks are encoded here. */
  put(blocks: readonly Block[], encoded?: readonly Uint8Array[]): Promise<PutOutcome> {
    if (this.stopping) return Promise.reject(new ImportStoppedError());
    if (this.queued >= this.maxQueuedPuts) {
      this.metrics.importRefused.inc();
      return Promise.reject(new ImportBusyError(this.queued));
    }
    this.queued++;
    this.metrics.importQueue.set(this.queued);
    let entry!: QueuedPut;
    const answered = new Promise<PutOutcome>((resolve, reject) => (entry = { blocks, resolve, reject })).finally(() => {
      this.queued--;
      this.metrics.importQueue.set(this.queued);
    });
    if (this.pool === undefined) {
      entry.settled = { pre: undefined };
    } else {
      // One set of bytes: the workers check them, and the commit writes them.
      const bytes = encoded?.length === blocks.length ? encoded : blocks.map((b) => toBinary(BlockSchema, b));
      entry.lastHash = lastHashOf(blocks);
      // A put that links to nothing we have or will have could only be answered parent_unknown (or malformed):
      // its signatures are not verified ahead, on cores the puts that do link need.
      const first = blocks[0]?.header;
      if (this.parentKnown(first)) this.check(entry, bytes);
      else {
        const parent = this.parentWaitMs > 0 && first !== undefined ? prevHashHex(first) : undefined;
        if (parent === undefined) entry.deferred = bytes;
        else {
          this.waitForParent(parent, entry, bytes);
          return answered;
        }
      }
    }
    this.enqueue(entry);
    return answered;
  }

  /** Refuses new puts and resolves when every accepted one is committed (or refused); then ends the workers. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Puts still waiting for their parent's put are answered now, as they would be when their wait ends.
    for (const [parent, puts] of [...this.waiting]) {
      this.waiting.delete(parent);
      for (const w of puts) this.waitedOut(w);
    }
    await this.writer;
    await this.pool?.stop();
  }

  /**
   * Queues a put for the writer, then any put that was waiting for this one (its last block is their
   * parent), right behind it. Those are checked ahead now, unless this one was not (its own parent is
   * missing, so theirs cannot be written either).
   */
  private enqueue(entry: QueuedPut): void {
    // Read before the writer may take it (an idle writer starts on it at once).
    const checkedAhead = entry.deferred === undefined;
    this.queue.push(entry);
    this.writer ??= this.write();
    const children = entry.lastHash === undefined ? undefined : this.waiting.get(entry.lastHash);
    if (children === undefined) return;
    this.waiting.delete(entry.lastHash!);
    for (const w of children) {
      clearTimeout(w.timer);
      this.metrics.putsReordered.inc({ outcome: "parent_came" });
      if (checkedAhead) this.check(w.entry, w.bytes);
      else w.entry.deferred = w.bytes;
      this.enqueue(w.entry);
    }
  }

  private waitForParent(parent: string, entry: QueuedPut, bytes: readonly Uint8Array[]): void {
    const w: WaitingPut = {
      entry,
      bytes,
      timer: setTimeout(() => {
        const siblings = this.waiting.get(parent);
        const i = siblings?.indexOf(w) ?? -1;
        if (i < 0) return;
        siblings!.splice(i, 1);
        if (siblings!.length === 0) this.waiting.delete(parent);
        this.waitedOut(w);
      }, this.parentWaitMs),
    };
    w.timer.unref();
    const siblings = this.waiting.get(parent);
    if (siblings) siblings.push(w);
    else this.waiting.set(parent, [w]);
  }

  /**
   * Queues every waiting put whose parent is stored by now, checked ahead:
   * its parent came inside a longer put, or was released from the hold for
   * early blocks (BlockStore.releaseDue), neither of which ends at it.
   * Called after each write, and by the service after a release.
   */
  releaseStored(): void {
    for (const [parent, puts] of [...this.waiting]) {
      if (!this.store.hasBlock(Buffer.from(parent, "hex"))) continue;
      this.waiting.delete(parent);
      for (const w of puts) {
        clearTimeout(w.timer);
        this.metrics.putsReordered.inc({ outcome: "parent_stored" });
        this.check(w.entry, w.bytes);
        this.enqueue(w.entry);
      }
    }
  }

  /** Its parent's put did not come in time: queued as a put whose parent is unknown, decided at its turn. */
  private waitedOut(w: WaitingPut): void {
    clearTimeout(w.timer);
    this.metrics.putsReordered.inc({ outcome: "waited_out" });
    w.entry.deferred = w.bytes;
    this.enqueue(w.entry);
  }

  /** The single writer: the oldest put when its checks are in, with every put after it already checked. */
  private async write(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.deferred !== undefined) {
        // Every put before it is written: its parent is stored now, or it is not coming before it
        // (one queued behind it is written after it, so this put would find no parent either way).
        const verify = this.parentKnown(head.blocks[0]?.header, false);
        this.metrics.checksDeferred.inc({ outcome: verify ? "verified" : "parent_unknown" });
        // Without the parent the writer's own path answers at once (hashes only: parent_unknown or malformed, as ever).
        if (verify) this.check(head, head.deferred);
        else head.settled = { pre: undefined };
        head.deferred = undefined;
      }
      if (head.settled === undefined) await head.pre!.catch(() => undefined);
      // Settled by the handlers attached before this await, which run first.
      const group: QueuedPut[] = [];
      while (group.length < this.maxGroupPuts && this.queue[0]?.settled !== undefined) group.push(this.queue.shift()!);
      const ready: Array<{ put: QueuedPut; pre: Prechecked | undefined }> = [];
      for (const put of group) {
        const settled = put.settled!;
        if ("error" in settled) put.reject(settled.error);
        else ready.push({ put, pre: settled.pre });
      }
      let outcomes: Array<PutOutcome | { error: unknown }>;
      try {
        outcomes = this.store.putGroup(ready.map((r) => ({ blocks: r.put.blocks, pre: r.pre })));
      } catch (err) {
        outcomes = ready.map(() => ({ error: err }));
      }
      for (const [i, o] of outcomes.entries()) {
        if ("error" in o) ready[i]!.put.reject(o.error);
        else ready[i]!.put.resolve(o);
      }
      if (this.waiting.size > 0) this.releaseStored();
      // Answers, gRPC and NATS get the loop between two writes.
      await new Promise((r) => setImmediate(r));
    }
    this.writer = undefined;
  }

  /** The put's stateless checks, started on the workers; `settled` when they are in. */
  private check(entry: QueuedPut, bytes: readonly Uint8Array[]): void {
    entry.pre = this.pool!
      .check(bytes)
      .catch((err: unknown) => this.onThisThread(err, entry.blocks, bytes))
      .then((checks) => ({ checks, encoded: bytes }));
    entry.pre.then(
      (pre) => (entry.settled = { pre }),
      (error: unknown) => (entry.settled = { error }),
    );
  }

  /** The block before `first` is stored, or (`queued`) is the last block of a put queued before this one: only then can the put apply. */
  private parentKnown(first: BlockHeader | undefined, queued = true): boolean {
    if (first === undefined) return false;
    if (first.height === 0) return true;
    if (this.store.hasBlock(first.prevHash)) return true;
    if (!queued) return false;
    const prev = hashHex(first.prevHash);
    return this.queue.some((q) => q.lastHash === prev);
  }

  private onThisThread(err: unknown, blocks: readonly Block[], encoded: readonly Uint8Array[]): StatelessChecks[] {
    if (!(err instanceof VerifyPoolError)) throw err;
    this.metrics.verifyFallbacks.inc({ reason: err.code === "ERR_VERIFY_QUEUE_FULL" ? "queue_full" : "worker_exited" });
    const verify = this.verifier.verify.bind(this.verifier);
    return blocks.map((b, i) => statelessChecks(b, this.store.network, verify, encoded[i]!.length));
  }
}

/** Hex of a header's parent hash, or undefined when it has none to wait for (the writer says why). */
function prevHashHex(header: BlockHeader): string | undefined {
  return header.height > 0 && header.prevHash.length === 32 ? hashHex(header.prevHash) : undefined;
}

/** Hex hash of the last block, or undefined when its header cannot be hashed (the writer says why). */
function lastHashOf(blocks: readonly Block[]): string | undefined {
  const header = blocks.at(-1)?.header;
  if (header === undefined) return undefined;
  try {
    return hashHex(blockHash(header));
  } catch {
    return undefined;
  }
}
