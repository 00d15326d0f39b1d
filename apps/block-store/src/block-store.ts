import { FIELD_LIMITS } from "@timenet/wire";
import type { Database, RootDatabase } from "lmdb";
import { LmdbEnvironment } from "@timenet/lmdb";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { blockHash, hashHex, preferred, producerIndex, summariseBranch, validateChain, weightWindow, type NetworkParams, type StatelessChecks } from "@timenet/chain";
import { BlockInvalidReason, BlockInvalidReasonSchema, BlockSchema, enumLabel, PutResultSchema, ChainTipSchema, PutResult, type Block, type BlockHeader, type ChainTip } from "@timenet/proto";
import type { Logger } from "@timenet/telemetry";
import { FutureBlocks, type HoldLimits } from "./future-blocks.js";
import type { StoreMetrics } from "./metrics.js";
import { BLOCK_STORE_DEFAULTS } from "./options.js";
import { openChainTables, type ChainTables } from "./chain-tables.js";
import { SideBranches, type SideLimits } from "./side-branches.js";
import { storedHeader } from "./stored-header.js";

export type BlockStoreErrorCode = "ERR_GENESIS_MISMATCH" | "ERR_STORE_CORRUPT";

export class BlockStoreError extends Error {
  constructor(
    readonly code: BlockStoreErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "BlockStoreError";
  }
}

/** The head of the main chain. */
export interface StoredTip {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly header: BlockHeader;
}

/** What one put did; the gRPC answer and the metrics are made from it. */
export interface PutOutcome {
  result: PutResult;
  /** Blocks that joined the main chain. */
  applied: number;
  /** The tip after the call. */
  tip: StoredTip;
  tipChanged: boolean;
  /** For a switch: main-chain blocks replaced. For FORK_TOO_DEEP / FORK_NOT_PREFERRED: how deep the fork is. */
  reorgDepth: number;
  /** For HELD: blocks held for later. */
  held?: number;
  /** For TOO_EARLY: when to offer the blocks again. */
  retryAfterMs?: number;
  /** For INVALID: why, and the index of the first bad block in the request. */
  invalid?: { reason: BlockInvalidReason; index: number };
  detail: string;
}

/** LMDB page size of a new block store (an existing one keeps its own). */
export const BLOCK_STORE_PAGE_BYTES = 8192;

/**
 * The stateless half of validation, done before the put (in worker threads,
 * see import-pipeline.ts), one entry per block of the put, with each block's
 * encoding (what is written). The rules still run in put's order.
 */
export interface Prechecked {
  checks: readonly StatelessChecks[];
  encoded: readonly Uint8Array[];
}

export interface BlockStoreDeps {
  network: NetworkParams;
  /** The cap on blocks kept aside (forks not preferred, replaced blocks). Default: BLOCK_STORE_DEFAULTS. */
  side?: SideLimits;
  /** The bounds of the hold for early blocks. Default: BLOCK_STORE_DEFAULTS. */
  hold?: HoldLimits;
  metrics: StoreMetrics;
  logger: Logger;
  /** Validation's clock. Default Date.now. */
  now?: () => number;
}

const META_GENESIS = "genesis";
const META_TIP = "tip";
const META_FINAL = "final";

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** An LMDB value as an array of its own (protobuf-es decodes bytes fields as views of their input). */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * The chain on disk, and the only code that writes it. One LMDB environment
 * with four named databases: `blocks` (hash -> protobuf Block, every stored
 * block, main chain or not), `heights` (height -> hash, the main chain only),
 * `side` (height || hash -> size: the blocks not on the main chain, bounded,
 * see side-branches.ts) and `meta` (genesis and tip hashes, the final
 * height). Blocks early by our clock wait in memory (future-blocks.ts) until
 * `releaseDue`. The fork choice is the chain lib's. Every put is ONE transaction, so a
 * crash leaves the chain as it was before or after a put, never a gap or a
 * half-written block. Everything is synchronous: puts are serialised by the
 * event loop.
 */
export class BlockStore {
  private current: StoredTip;
  /** Inside putGroup: commits are child transactions of the group's. */
  private grouped = false;
  /** Blocks at or below this height are final; it never decreases. */
  private final: number;
  private readonly now: () => number;
  private readonly side: SideBranches;
  private readonly future: FutureBlocks;

  private readonly root: RootDatabase;
  private readonly blocks: Database<Uint8Array, Uint8Array>;
  private readonly heights: Database<Uint8Array, number>;
  private readonly meta: Database<Uint8Array, string>;

  private constructor(
    private readonly env: LmdbEnvironment<ChainTables>,
    private readonly deps: BlockStoreDeps,
    readonly path: string,
  ) {
    this.root = env.root;
    ({ blocks: this.blocks, heights: this.heights, meta: this.meta } = env.tables);
    this.now = deps.now ?? Date.now;
    const D = BLOCK_STORE_DEFAULTS;
    this.side = new SideBranches(env.tables.side, this.blocks, deps.side ?? { maxBlocks: D.sideMaxBlocks, maxBytes: D.sideMaxBytes }, deps.metrics);
    this.future = new FutureBlocks(deps.hold ?? { maxBlocks: D.holdMaxBlocks, maxBytes: D.holdMaxBytes, maxAheadMs: D.holdMaxAheadMs });
    this.current = this.initialise();
    const stored = this.meta.get(META_FINAL);
    this.final = Math.max(stored === undefined ? 0 : new DataView(stored.buffer, stored.byteOffset, 4).getUint32(0, false), this.current.height - deps.network.maxReorgDepth, 0);
    deps.metrics.height.set(this.current.height);
    deps.metrics.finalHeight.set(this.final);
  }

  /**
   * Opens (creating) the store at `path`. An empty store gets the network's
   * genesis at height 0; a store holding another genesis is refused with
   * `ERR_GENESIS_MISMATCH`; one that cannot be opened with a StoreOpenError.
   */
  static async open(path: string, deps: BlockStoreDeps): Promise<BlockStore> {
    // 8 KiB pages: ~1 KiB blocks pack 6 to a page instead of 3, and a commit writes fewer pages (LMDB's commit was the writer's largest cost).
    const env = await LmdbEnvironment.open(path, "the block store", openChainTables, { pageSize: BLOCK_STORE_PAGE_BYTES });
    try {
      return new BlockStore(env, deps, path);
    } catch (err) {
      await env.close();
      throw err;
    }
  }

  get tip(): StoredTip {
    return this.current;
  }

  /**
   * The tip as published on chain.tip and answered by GetTip; `withBlock`: with the tip block's
   * encoding, for the gateway to push, when it is small enough to be pushed at all (a larger one
   * would only cross NATS to every subscriber for nothing, on every put of a catch-up).
   */
  chainTip(withBlock = false): ChainTip {
    const t = this.current;
    const block = withBlock && t.height > 0 ? this.encodedByHash(t.hash) : undefined;
    return create(ChainTipSchema, {
      height: t.height,
      hash: t.hash,
      timestampMs: t.header.timestampMs,
      genesisHash: this.genesisHash,
      header: t.header,
      finalHeight: this.final,
      block: block !== undefined && block.length <= FIELD_LIMITS.pushedBlockBytes ? block : undefined,
    });
  }

  get finalHeight(): number {
    return this.final;
  }

  /** Blocks and bytes kept aside, for tests and status. */
  get sideBranches(): { blocks: number; bytes: number } {
    return { blocks: this.side.blocks, bytes: this.side.totalBytes };
  }

  /** When the next held run of early blocks is due (our clock), or undefined. */
  nextDueMs(): number | undefined {
    return this.future.nextDueMs();
  }

  /**
   * Offers every held run whose time has come to the chain, as a put. A run
   * that does not apply then (its parent pruned, another branch preferred
   * meanwhile) is dropped: whoever has it offers it again.
   */
  releaseDue(): PutOutcome[] {
    const outcomes: PutOutcome[] = [];
    for (const run of this.future.takeDue(this.now())) {
      this.deps.metrics.holdResults.inc({ result: "released" });
      const outcome = this.put(run);
      const kept = outcome.result === PutResult.APPLIED || outcome.result === PutResult.HELD || outcome.result === PutResult.FORK_NOT_PREFERRED || outcome.result === PutResult.ALREADY_HAVE;
      if (!kept) {
        this.deps.metrics.holdResults.inc({ result: "dropped" });
        this.deps.logger.info({ height: run[0]!.header!.height, blocks: run.length, result: enumLabel(PutResultSchema, outcome.result), detail: outcome.detail }, "held blocks did not apply when due: dropped");
      }
      outcomes.push(outcome);
    }
    this.publishHeld();
    return outcomes;
  }

  get genesisHash(): Uint8Array {
    return this.deps.network.genesisHash;
  }

  get network(): NetworkParams {
    return this.deps.network;
  }

  /** The main-chain block hash at `height`. */
  hashAt(height: number): Uint8Array | undefined {
    if (!Number.isInteger(height) || height < 0 || height > this.current.height) return undefined;
    const h = this.heights.get(height);
    return h === undefined ? undefined : copy(h);
  }

  /** The encoded main-chain block at `height` (protobuf Block bytes). */
  encodedAt(height: number): Uint8Array | undefined {
    const hash = this.hashAt(height);
    return hash === undefined ? undefined : this.encodedByHash(hash);
  }

  blockAt(height: number): Block | undefined {
    const bytes = this.encodedAt(height);
    return bytes === undefined ? undefined : fromBinary(BlockSchema, bytes);
  }

  /** Any stored block, on the main chain or not. */
  blockByHash(hash: Uint8Array): { block: Block; mainChain: boolean } | undefined {
    const bytes = this.encodedByHash(hash);
    if (bytes === undefined) return undefined;
    const block = fromBinary(BlockSchema, bytes);
    const at = this.hashAt(block.header?.height ?? -1);
    return { block, mainChain: at !== undefined && same(at, hash) };
  }

  /**
   * Main-chain blocks from `fromHeight`, at most `count`, read lazily. If the
   * main chain changes under the reader (a reorg between two reads) the run
   * ends at the last block that still links to the one before.
   */
  *mainChain(fromHeight: number, count: number): Generator<{ block: Block; encoded: Uint8Array }> {
    let previous: Uint8Array | undefined;
    const end = Math.min(fromHeight + count - 1, this.current.height);
    for (let h = fromHeight; h <= end; h++) {
      const hash = this.hashAt(h);
      const encoded = hash && this.encodedByHash(hash);
      if (!hash || !encoded) return;
      const block = fromBinary(BlockSchema, encoded);
      if (previous && !same(block.header!.prevHash, previous)) return;
      previous = hash;
      yield { block, encoded };
    }
  }

  /**
   * Validates and commits a contiguous run of blocks: appends to the tip,
   * switches to a fork the fork choice prefers (above the final height),
   * keeps aside one it does not (bounded: a later extension may make it
   * win), holds blocks early by our clock, or refuses. Nothing is written
   * for any other result.
   */
  put(blocks: readonly Block[], pre?: Prechecked): PutOutcome {
    const outcome = this.decide(blocks, pre);
    this.deps.metrics.putRequests.inc({ result: enumLabel(PutResultSchema, outcome.result) });
    if (outcome.invalid) this.deps.metrics.validationFailures.inc({ reason: enumLabel(BlockInvalidReasonSchema, outcome.invalid.reason) });
    return outcome;
  }

  /**
   * Several puts, in order, in ONE LMDB transaction: each is decided as put
   * would, seeing the ones before it, and written in a child transaction of
   * the group's, so one put that throws takes back only its own writes (its
   * slot holds the error). What costs a commit (the sync, the pages of the
   * indexes) is paid once per group instead of once per put: the writer's
   * largest cost when puts queue up. Nothing of the group is visible to
   * readers (GetBlocks, other processes) before the whole commit; if that
   * commit fails, the store's memory is put back as it was and the error is
   * thrown for every put.
   */
  putGroup(puts: ReadonlyArray<{ blocks: readonly Block[]; pre?: Prechecked }>): Array<PutOutcome | { error: unknown }> {
    if (puts.length <= 1) return puts.map((p) => this.tryPut(p.blocks, p.pre));
    const started = process.hrtime.bigint();
    const before = { current: this.current, final: this.final, side: this.side.counts() };
    let outcomes: Array<PutOutcome | { error: unknown }>;
    this.grouped = true;
    try {
      outcomes = this.root.transactionSync(() => puts.map((p) => this.tryPut(p.blocks, p.pre)));
    } catch (err) {
      this.current = before.current;
      this.final = before.final;
      this.side.restoreCounts(before.side);
      this.deps.metrics.height.set(this.current.height);
      this.deps.metrics.finalHeight.set(this.final);
      throw err;
    } finally {
      this.grouped = false;
    }
    this.deps.metrics.writeLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.deps.metrics.putsPerCommit.observe(puts.length);
    return outcomes;
  }

  private tryPut(blocks: readonly Block[], pre: Prechecked | undefined): PutOutcome | { error: unknown } {
    try {
      return this.put(blocks, pre);
    } catch (error) {
      return { error };
    }
  }

  /** Whether a block with this hash is stored (main chain or aside). */
  hasBlock(hash: Uint8Array): boolean {
    return this.blocks.doesExist(hash);
  }

  /** Resolves when every commit so far is on disk. */
  flushed(): Promise<void> {
    return this.env.flushed();
  }

  close(): Promise<void> {
    return this.env.close();
  }

  private encodedByHash(hash: Uint8Array): Uint8Array | undefined {
    const bytes = this.blocks.get(hash);
    return bytes === undefined ? undefined : copy(bytes);
  }

  private headerByHash(hash: Uint8Array): BlockHeader | undefined {
    const bytes = this.encodedByHash(hash);
    return bytes === undefined ? undefined : storedHeader(bytes);
  }

  private initialise(): StoredTip {
    const { network } = this.deps;
    let stored = this.meta.get(META_GENESIS);
    if (stored === undefined) {
      if (this.heights.get(0) !== undefined) throw this.corrupt("it has blocks but no genesis record");
      const hash = network.genesisHash;
      this.root.transactionSync(() => {
        this.blocks.putSync(hash, toBinary(BlockSchema, network.genesis));
        this.heights.putSync(0, hash);
        this.meta.putSync(META_GENESIS, hash);
        this.meta.putSync(META_TIP, hash);
      });
      this.deps.logger.info({ db: this.path, network: network.name, genesis: hashHex(hash) }, "new block store: genesis written");
      stored = hash;
    }
    if (!same(stored, network.genesisHash)) {
      throw new BlockStoreError(
        "ERR_GENESIS_MISMATCH",
        `stored genesis ${hashHex(stored)} in ${this.path} differs from network ${network.name}'s ${hashHex(network.genesisHash)}: wrong data volume or wrong NETWORK`,
      );
    }
    const tipHash = this.meta.get(META_TIP);
    if (tipHash === undefined) throw this.corrupt("it has no tip record");
    const bytes = this.blocks.get(tipHash);
    if (bytes === undefined) throw this.corrupt(`its tip ${hashHex(tipHash)} is not stored`);
    const header = fromBinary(BlockSchema, copy(bytes)).header;
    if (header === undefined) throw this.corrupt(`its tip ${hashHex(tipHash)} has no header`);
    const indexed = this.heights.get(header.height);
    if (indexed === undefined || !same(indexed, tipHash) || this.heights.get(header.height + 1) !== undefined) {
      throw this.corrupt(`its height index does not end at the tip ${header.height} ${hashHex(tipHash)}`);
    }
    return { height: header.height, hash: copy(tipHash), header };
  }

  private corrupt(what: string): BlockStoreError {
    return new BlockStoreError("ERR_STORE_CORRUPT", `block store at ${this.path} is corrupt: ${what}`);
  }

  private outcome(result: PutResult, detail: string, extra: Partial<PutOutcome> = {}): PutOutcome {
    return { result, applied: 0, tip: this.current, tipChanged: false, reorgDepth: 0, detail, ...extra };
  }

  private invalid(reason: BlockInvalidReason, index: number, detail: string): PutOutcome {
    return this.outcome(PutResult.INVALID, `block ${index}: ${detail}`, { invalid: { reason, index } });
  }

  private decide(blocks: readonly Block[], pre: Prechecked | undefined): PutOutcome {
    if (blocks.length === 0) return this.invalid(BlockInvalidReason.MALFORMED, 0, "no blocks");
    // Hashes first: a header the canonical encoding refuses is MALFORMED at its index.
    const hashes: Uint8Array[] = [];
    const first = blocks[0]!.header?.height ?? 0;
    for (const [i, block] of blocks.entries()) {
      if (!block.header) return this.invalid(BlockInvalidReason.MALFORMED, i, "block has no header");
      if (block.header.height !== first + i) {
        return this.invalid(BlockInvalidReason.MALFORMED, i, `not contiguous: height ${block.header.height}, expected ${first + i}`);
      }
      // The workers hashed every block they found well formed.
      const checked = pre?.checks[i];
      if (checked?.ok) {
        hashes.push(checked.hash);
        continue;
      }
      try {
        hashes.push(blockHash(block.header));
      } catch (err) {
        return this.invalid(BlockInvalidReason.MALFORMED, i, (err as Error).message);
      }
    }

    // Leading blocks already on the main chain are skipped (dedup by hash).
    let skip = 0;
    while (skip < blocks.length) {
      const at = this.hashAt(first + skip);
      if (at === undefined || !same(at, hashes[skip]!)) break;
      skip++;
    }
    if (skip === blocks.length) return this.outcome(PutResult.ALREADY_HAVE, `all ${blocks.length} blocks are on the main chain`);

    let parent: Parent | undefined;
    if (skip > 0) {
      parent = { hash: hashes[skip - 1]!, header: blocks[skip - 1]!.header! };
    } else if (first > 0) {
      const prevHash = blocks[0]!.header!.prevHash;
      const header = this.headerByHash(prevHash);
      if (!header) return this.outcome(PutResult.PARENT_UNKNOWN, `parent ${hashHex(prevHash)} of block ${first} is not stored (tip ${this.current.height})`);
      parent = { hash: copy(prevHash), header };
    }
    const rest = blocks.slice(skip);
    const restHashes = hashes.slice(skip);
    const restPre = pre && { checks: pre.checks.slice(skip), encoded: pre.encoded.slice(skip) };
    // parent undefined: a height-0 block that is not our genesis; validation says WRONG_GENESIS.
    const checked = validateChain(rest, parent?.header, this.deps.network, this.now(), restPre?.checks);
    if (checked.ok) {
      if (parent === undefined) return this.invalid(BlockInvalidReason.WRONG_GENESIS, 0, "a second genesis"); // validation refuses it first
      return this.place(rest, restHashes, parent, restPre?.encoded);
    }
    if (checked.reason !== BlockInvalidReason.TIMESTAMP_IN_FUTURE) return this.invalid(checked.reason, skip + checked.index, checked.detail);

    // Valid up to a block that is early by our clock: the blocks before it go
    // in now, it and the rest (checked by every rule but the clock) are held.
    const cut = checked.index;
    const early = rest.slice(cut);
    const earlyParent = cut > 0 ? rest[cut - 1]!.header : parent?.header;
    const later = validateChain(early, earlyParent, this.deps.network, Number.POSITIVE_INFINITY, restPre?.checks.slice(cut));
    if (!later.ok) return this.invalid(later.reason, skip + cut + later.index, later.detail);
    let now: PutOutcome | undefined;
    if (cut > 0) {
      now = this.place(rest.slice(0, cut), restHashes.slice(0, cut), parent!, restPre?.encoded.slice(0, cut));
      if (now.result !== PutResult.APPLIED && now.result !== PutResult.FORK_NOT_PREFERRED) return now;
    }
    return this.holdEarly(early, restHashes[cut]!, now);
  }

  /** Holds early blocks for later; the answer says what went in now (`now`) and what is held. */
  private holdEarly(early: Block[], firstHash: Uint8Array, now: PutOutcome | undefined): PutOutcome {
    const { network, metrics, logger } = this.deps;
    const ts = early[0]!.header!.timestampMs;
    const dueMs = Number(ts) - network.maxFutureDriftMs;
    const bytes = early.reduce((n, b) => n + toBinary(BlockSchema, b).length, 0);
    const nowMs = this.now();
    const held = this.future.hold(hashHex(firstHash), early, bytes, dueMs, nowMs);
    const extra = { applied: now?.applied ?? 0, tip: this.current, tipChanged: now?.tipChanged ?? false, reorgDepth: now?.reorgDepth ?? 0 };
    const ahead = `block ${early[0]!.header!.height} is ${Number(ts) - nowMs} ms ahead of our clock (drift bound ${network.maxFutureDriftMs} ms)`;
    this.publishHeld();
    if (held.held) {
      metrics.holdResults.inc({ result: "held" });
      logger.debug({ height: early[0]!.header!.height, blocks: early.length, due_in_ms: dueMs - nowMs }, "early blocks held until their time");
      return this.outcome(PutResult.HELD, `${ahead}: ${early.length} blocks held for ${dueMs - nowMs} ms`, { ...extra, held: early.length });
    }
    metrics.holdResults.inc({ result: held.why });
    logger.info({ height: early[0]!.header!.height, blocks: early.length, why: held.why, retry_after_ms: held.retryAfterMs }, "early blocks not held");
    const why = held.why === "full" ? "the hold for early blocks is full" : `more than ${this.future.limits.maxAheadMs} ms beyond the drift bound`;
    return this.outcome(PutResult.TOO_EARLY, `${ahead}; ${why}: offer them again later`, { ...extra, retryAfterMs: held.retryAfterMs });
  }

  /**
   * Validated blocks on a stored parent: appended to the tip, switched to
   * when the fork choice prefers them, kept aside when it does not, refused
   * when they leave the chain at or below the final height.
   */
  private place(rest: readonly Block[], hashes: Uint8Array[], parent: Parent, encoded: readonly Uint8Array[] | undefined): PutOutcome {
    const newTip = { height: parent.header.height + rest.length, hash: hashes[hashes.length - 1]!, header: rest[rest.length - 1]!.header! };
    if (same(parent.hash, this.current.hash)) {
      this.commit(rest, hashes, encoded, { tip: newTip, fork: undefined });
      return this.outcome(PutResult.APPLIED, `appended ${rest.length} blocks`, { applied: rest.length, tip: newTip, tipChanged: true });
    }
    const fork = this.forkPoint(parent);
    const { metrics, logger } = this.deps;
    const ours = this.current;
    const log = {
      fork_height: fork.height,
      fork_hash: hashHex(fork.hash),
      depth: fork.depth,
      final_height: this.final,
      tip_height: ours.height,
      tip_hash: hashHex(ours.hash),
      fork_tip_height: newTip.height,
      fork_tip_hash: hashHex(newTip.hash),
    };
    if (fork.rootMissing) {
      return this.outcome(PutResult.PARENT_UNKNOWN, `side block ${hashHex(fork.hash)} below height ${fork.height + 1} of this branch is no longer stored`);
    }
    if (fork.tooDeep) {
      metrics.reorgs.inc({ result: "too_deep" });
      logger.error(log, "fork from at or below the final height refused");
      return this.outcome(
        PutResult.FORK_TOO_DEEP,
        `fork at height ${fork.height} is at or below the final height ${this.final} (tip ${ours.height} ${hashHex(ours.hash)}, max_reorg_depth ${this.deps.network.maxReorgDepth})`,
        { reorgDepth: fork.depth },
      );
    }
    const branch = [...fork.side.map((s) => s.header), ...rest.map((b) => b.header!)];
    const firstHash = fork.side[0]?.hash ?? hashes[0]!;
    const main = this.mainHeaders(fork.height + 1, ours.height);
    const before = this.producersBelow(fork.height);
    const theirs = summariseBranch(branch, before, this.deps.network, firstHash);
    const mine = main.length > 0 ? summariseBranch(main, before, this.deps.network, this.hashAt(fork.height + 1)) : undefined;
    if (mine !== undefined && !preferred(theirs, mine)) {
      const bytes = rest.reduce((n, b) => n + toBinary(BlockSchema, b).length, 0);
      const kept = this.side.couldKeep(rest.length, bytes);
      if (kept) this.commit(rest, hashes, encoded, undefined);
      metrics.reorgs.inc({ result: "not_preferred" });
      logger.info({ ...log, weight: theirs.weight, main_weight: mine.weight, kept }, "fork not preferred to the main chain");
      return this.outcome(
        PutResult.FORK_NOT_PREFERRED,
        `fork at height ${fork.height} weighs ${theirs.weight} (first block rank ${theirs.firstRank}), the main chain above it ${mine.weight} (rank ${mine.firstRank})${kept ? "" : "; not kept: larger than the side-branch cap"}`,
        { reorgDepth: fork.depth },
      );
    }
    this.commit(rest, hashes, encoded, { tip: newTip, fork });
    metrics.reorgs.inc({ result: "switched" });
    metrics.reorgDepth.observe(fork.depth);
    logger.warn({ ...log, weight: theirs.weight, main_weight: mine?.weight ?? 0 }, "switched to a preferred fork");
    return this.outcome(PutResult.APPLIED, `switched to a fork at height ${fork.height}, replacing ${fork.depth} blocks`, {
      applied: fork.side.length + rest.length,
      tip: newTip,
      tipChanged: true,
      reorgDepth: fork.depth,
    });
  }

  /**
   * Where the chain ending at `parent` leaves the main chain: walks back
   * through stored side blocks, never below the final height.
   */
  private forkPoint(parent: Parent): ForkPoint {
    const side: Array<{ height: number; hash: Uint8Array; header: BlockHeader }> = [];
    let cur = parent;
    for (;;) {
      const at = this.hashAt(cur.header.height);
      if (at !== undefined && same(at, cur.hash)) break;
      side.unshift({ height: cur.header.height, hash: cur.hash, header: cur.header });
      const prev = cur.header.height > 0 ? this.headerByHash(cur.header.prevHash) : undefined;
      if (!prev || prev.height < this.final) {
        const height = Math.max(cur.header.height - 1, 0);
        // A side branch whose older blocks were evicted (cap): fetched again from below, it can link.
        const rootMissing = !prev && height >= this.final;
        return { height, hash: cur.header.prevHash, depth: this.current.height - height, side, tooDeep: !rootMissing, rootMissing };
      }
      cur = { hash: copy(cur.header.prevHash), header: prev };
    }
    return { height: cur.header.height, hash: cur.hash, depth: this.current.height - cur.header.height, side, tooDeep: cur.header.height < this.final, rootMissing: false };
  }

  /** Main-chain headers from `from` to `to`. */
  private mainHeaders(from: number, to: number): BlockHeader[] {
    const out: BlockHeader[] = [];
    for (let h = from; h <= to; h++) {
      const bytes = this.encodedAt(h);
      const header = bytes && storedHeader(bytes);
      if (header === undefined) throw this.corrupt(`main-chain block ${h} is missing`);
      out.push(header);
    }
    return out;
  }

  /** Producer indexes of the main-chain blocks at and below `height`, nearest first, as many as a weight looks at. */
  private producersBelow(height: number): number[] {
    const out: number[] = [];
    for (let h = height; h >= 0 && out.length < weightWindow(this.deps.network); h--) {
      const bytes = this.encodedAt(h);
      const header = bytes && storedHeader(bytes);
      out.push(header === undefined || h === 0 ? -1 : producerIndex(header.producerId, this.deps.network));
    }
    return out;
  }

  /**
   * The one write, in one transaction: the blocks by hash; for a new tip,
   * the height index from the fork point up (heights above a lower new tip
   * removed), the side index (the fork's blocks leave it, the replaced ones
   * join it), the tip and the final height; for blocks kept aside, the side
   * index. Then side blocks now final are deleted and the cap enforced.
   */
  private commit(
    rest: readonly Block[],
    hashes: readonly Uint8Array[],
    given: readonly Uint8Array[] | undefined,
    to: { tip: StoredTip; fork: ForkPoint | undefined } | undefined,
  ): void {
    const started = process.hrtime.bigint();
    const depth = this.deps.network.maxReorgDepth;
    const oldTip = this.current;
    const final = to === undefined ? this.final : Math.max(this.final, to.tip.height - depth);
    const spare = new Set<string>();
    this.root.transactionSync(() => {
      const encoded = given ?? rest.map((b) => toBinary(BlockSchema, b));
      for (const [i, bytes] of encoded.entries()) this.blocks.putSync(hashes[i]!, bytes);
      if (to === undefined) {
        for (const [i, block] of rest.entries()) {
          this.side.add(block.header!.height, hashes[i]!, encoded[i]!.length);
          spare.add(hashHex(hashes[i]!));
        }
      } else {
        const fork = to.fork;
        if (fork !== undefined) {
          // The replaced main-chain blocks are kept aside (their txs may come back); the fork's join the main chain.
          for (let h = fork.height + 1; h <= oldTip.height; h++) {
            const hash = this.heights.get(h);
            const body = hash && this.blocks.get(hash);
            if (hash && body) this.side.add(h, copy(hash), body.length);
          }
          for (const s of fork.side) {
            this.side.remove(s.height, s.hash);
            this.heights.putSync(s.height, s.hash);
          }
          for (let h = to.tip.height + 1; h <= oldTip.height; h++) this.heights.removeSync(h);
        }
        for (const [i, block] of rest.entries()) {
          this.heights.putSync(block.header!.height, hashes[i]!);
          // Offered again whole, blocks kept aside earlier join the main chain here: never prune a main-chain block.
          this.side.remove(block.header!.height, hashes[i]!);
        }
        this.meta.putSync(META_TIP, to.tip.hash);
        if (final !== this.final) this.meta.putSync(META_FINAL, uint32(final));
      }
      this.side.prune(final, spare);
    });
    // In a group, the group's transaction is the one timed (its commit is the write).
    if (!this.grouped) {
      this.deps.metrics.writeLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.deps.metrics.putsPerCommit.observe(1);
    }
    this.side.publish();
    if (to !== undefined) {
      this.current = to.tip;
      this.final = final;
      this.deps.metrics.height.set(to.tip.height);
      this.deps.metrics.finalHeight.set(final);
      this.deps.metrics.blocksApplied.inc((to.fork?.side.length ?? 0) + rest.length);
    }
  }

  private publishHeld(): void {
    this.deps.metrics.heldBlocks.set(this.future.blocks);
    this.deps.metrics.heldBytes.set(this.future.totalBytes);
  }
}

interface Parent {
  hash: Uint8Array;
  header: BlockHeader;
}

interface ForkPoint {
  height: number;
  hash: Uint8Array;
  /** Main-chain blocks above the fork point. */
  depth: number;
  /** Stored side blocks between the fork point and the put's parent. */
  side: Array<{ height: number; hash: Uint8Array; header: BlockHeader }>;
  /** Below the final height: never switched to. */
  tooDeep: boolean;
  /** A stored side branch whose older blocks are gone: the caller must offer them again. */
  rootMissing: boolean;
}

function uint32(n: number): Uint8Array {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, n, false);
  return v;
}
