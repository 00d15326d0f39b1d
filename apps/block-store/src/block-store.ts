import type { Database, RootDatabase } from "lmdb";
import { LmdbEnvironment } from "@timenet/lmdb";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { blockHash, hashHex, validateChain, type NetworkParams } from "@timenet/chain";
import { BlockInvalidReason, BlockInvalidReasonSchema, BlockSchema, enumLabel, PutResultSchema, ChainTipSchema, PutResult, type Block, type BlockHeader, type ChainTip } from "@timenet/proto";
import type { Logger } from "@timenet/telemetry";
import type { StoreMetrics } from "./metrics.js";

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
  /** For INVALID: why, and the index of the first bad block in the request. */
  invalid?: { reason: BlockInvalidReason; index: number };
  detail: string;
}

export interface BlockStoreDeps {
  network: NetworkParams;
  metrics: StoreMetrics;
  logger: Logger;
  /** Validation's clock. Default Date.now. */
  now?: () => number;
}

type ChainTables = {
  blocks: Database<Uint8Array, Uint8Array>;
  heights: Database<Uint8Array, number>;
  meta: Database<Uint8Array, string>;
};

const META_GENESIS = "genesis";
const META_TIP = "tip";

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** An LMDB value as an array of its own (protobuf-es decodes bytes fields as views of their input). */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * The chain on disk, and the only code that writes it. One LMDB environment
 * with three named databases: `blocks` (hash -> protobuf Block, every stored
 * block, main chain or not), `heights` (height -> hash, the main chain only)
 * and `meta` (genesis and tip hashes). Every put is ONE transaction, so a
 * crash leaves the chain as it was before or after a put, never a gap or a
 * half-written block. Everything is synchronous: puts are serialised by the
 * event loop.
 */
export class BlockStore {
  private current: StoredTip;
  private readonly now: () => number;

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
    this.current = this.initialise();
    deps.metrics.height.set(this.current.height);
  }

  /**
   * Opens (creating) the store at `path`. An empty store gets the network's
   * genesis at height 0; a store holding another genesis is refused with
   * `ERR_GENESIS_MISMATCH`; one that cannot be opened with a StoreOpenError.
   */
  static async open(path: string, deps: BlockStoreDeps): Promise<BlockStore> {
    const env = await LmdbEnvironment.open(path, "the block store", (root) => ({
      blocks: root.openDB<Uint8Array, Uint8Array>({ name: "blocks", encoding: "binary", keyEncoding: "binary" }),
      heights: root.openDB<Uint8Array, number>({ name: "heights", encoding: "binary", keyEncoding: "uint32" }),
      meta: root.openDB<Uint8Array, string>({ name: "meta", encoding: "binary" }),
    }));
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

  /** The tip as published on chain.tip and answered by GetTip. */
  chainTip(): ChainTip {
    const t = this.current;
    return create(ChainTipSchema, { height: t.height, hash: t.hash, timestampMs: t.header.timestampMs, genesisHash: this.genesisHash, header: t.header });
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
   * switches to a longer fork within `maxReorgDepth`, or refuses. Nothing is
   * written unless the result is APPLIED (or FORK_NOT_PREFERRED, whose valid
   * blocks are kept by hash so a later extension of the fork can switch).
   */
  put(blocks: readonly Block[]): PutOutcome {
    const outcome = this.decide(blocks);
    this.deps.metrics.putRequests.inc({ result: enumLabel(PutResultSchema, outcome.result) });
    if (outcome.invalid) this.deps.metrics.validationFailures.inc({ reason: enumLabel(BlockInvalidReasonSchema, outcome.invalid.reason) });
    return outcome;
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
    return this.blockByHash(hash)?.block.header;
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

  private decide(blocks: readonly Block[]): PutOutcome {
    if (blocks.length === 0) return this.invalid(BlockInvalidReason.MALFORMED, 0, "no blocks");
    // Hashes first: a header the canonical encoding refuses is MALFORMED at its index.
    const hashes: Uint8Array[] = [];
    const first = blocks[0]!.header?.height ?? 0;
    for (const [i, block] of blocks.entries()) {
      if (!block.header) return this.invalid(BlockInvalidReason.MALFORMED, i, "block has no header");
      if (block.header.height !== first + i) {
        return this.invalid(BlockInvalidReason.MALFORMED, i, `not contiguous: height ${block.header.height}, expected ${first + i}`);
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

    const rest = blocks.slice(skip);
    let parent: { hash: Uint8Array; header: BlockHeader } | undefined;
    if (skip > 0) {
      parent = { hash: hashes[skip - 1]!, header: blocks[skip - 1]!.header! };
    } else if (first > 0) {
      const prevHash = blocks[0]!.header!.prevHash;
      const header = this.headerByHash(prevHash);
      if (!header) return this.outcome(PutResult.PARENT_UNKNOWN, `parent ${hashHex(prevHash)} of block ${first} is not stored (tip ${this.current.height})`);
      parent = { hash: copy(prevHash), header };
    }
    // parent undefined: a height-0 block that is not our genesis; validation says WRONG_GENESIS.
    const checked = validateChain(rest, parent?.header, this.deps.network, this.now());
    if (!checked.ok) return this.invalid(checked.reason, skip + checked.index, checked.detail);
    if (parent === undefined) return this.invalid(BlockInvalidReason.WRONG_GENESIS, 0, "a second genesis"); // validation refuses it first
    const newHashes = hashes.slice(skip);
    const fork = this.forkPoint(parent);
    const newTip = { height: first + blocks.length - 1, hash: hashes[hashes.length - 1]!, header: blocks[blocks.length - 1]!.header! };

    if (fork.depth === 0) {
      this.commit(rest, newHashes, [], newTip);
      return this.outcome(PutResult.APPLIED, `appended ${rest.length} blocks`, { applied: rest.length, tip: newTip, tipChanged: true });
    }
    return this.reorg(rest, newHashes, fork, newTip);
  }

  /**
   * Where the chain ending at `parent` leaves the main chain: walks back
   * through stored side blocks (kept from earlier FORK_NOT_PREFERRED puts) at
   * most maxReorgDepth + 1 steps.
   */
  private forkPoint(parent: { hash: Uint8Array; header: BlockHeader }): { height: number; hash: Uint8Array; depth: number; side: Array<{ height: number; hash: Uint8Array }> } {
    const side: Array<{ height: number; hash: Uint8Array }> = [];
    let cur = parent;
    for (;;) {
      const at = this.hashAt(cur.header.height);
      if (at !== undefined && same(at, cur.hash)) break;
      side.unshift({ height: cur.header.height, hash: cur.hash });
      const prev = cur.header.height > 0 ? this.headerByHash(cur.header.prevHash) : undefined;
      if (!prev || this.current.height - prev.height > this.deps.network.maxReorgDepth) {
        // Deeper than we would switch (or a side branch whose root is gone): report it as too deep.
        const height = Math.max(cur.header.height - 1, 0);
        return { height, hash: cur.header.prevHash, depth: Math.max(this.current.height - height, this.deps.network.maxReorgDepth + 1), side };
      }
      cur = { hash: copy(cur.header.prevHash), header: prev };
    }
    return { height: cur.header.height, hash: cur.hash, depth: this.current.height - cur.header.height, side };
  }

  private reorg(
    rest: readonly Block[],
    newHashes: Uint8Array[],
    fork: ReturnType<BlockStore["forkPoint"]>,
    newTip: StoredTip,
  ): PutOutcome {
    const { metrics, logger } = this.deps;
    const { maxReorgDepth } = this.deps.network;
    const ours = this.current;
    const log = {
      fork_height: fork.height,
      fork_hash: hashHex(fork.hash),
      depth: fork.depth,
      tip_height: ours.height,
      tip_hash: hashHex(ours.hash),
      fork_tip_height: newTip.height,
      fork_tip_hash: hashHex(newTip.hash),
    };
    if (fork.depth > maxReorgDepth) {
      metrics.reorgs.inc({ result: "too_deep" });
      logger.error({ ...log, max_reorg_depth: maxReorgDepth }, "fork deeper than MAX_REORG_DEPTH refused");
      return this.outcome(
        PutResult.FORK_TOO_DEEP,
        `fork at height ${fork.height} is ${fork.depth} blocks below the tip ${ours.height} ${hashHex(ours.hash)}; the limit is ${maxReorgDepth}`,
        { reorgDepth: fork.depth },
      );
    }
    if (newTip.height <= ours.height) {
      // Kept by hash (not on the main chain), so a later put that extends this fork can switch to it.
      this.commit(rest, newHashes, undefined, undefined);
      metrics.reorgs.inc({ result: "not_preferred" });
      logger.info(log, "fork not longer than the main chain: kept aside");
      return this.outcome(PutResult.FORK_NOT_PREFERRED, `fork ends at height ${newTip.height}, the main chain at ${ours.height}`, { reorgDepth: fork.depth });
    }
    this.commit(rest, newHashes, fork.side, newTip);
    metrics.reorgs.inc({ result: "switched" });
    metrics.reorgDepth.observe(fork.depth);
    logger.warn(log, "switched to a longer fork");
    const applied = fork.side.length + rest.length;
    return this.outcome(PutResult.APPLIED, `switched to a fork at height ${fork.height}, replacing ${fork.depth} blocks`, {
      applied,
      tip: newTip,
      tipChanged: true,
      reorgDepth: fork.depth,
    });
  }

  /**
   * The one write: blocks by hash, and (with a new tip) the height index from
   * the side blocks through the new ones, and the tip record, in one transaction.
   */
  private commit(
    rest: readonly Block[],
    hashes: readonly Uint8Array[],
    side: ReadonlyArray<{ height: number; hash: Uint8Array }> | undefined,
    newTip: StoredTip | undefined,
  ): void {
    const started = process.hrtime.bigint();
    this.root.transactionSync(() => {
      for (const [i, block] of rest.entries()) this.blocks.putSync(hashes[i]!, toBinary(BlockSchema, block));
      if (!newTip) return;
      for (const s of side ?? []) this.heights.putSync(s.height, s.hash);
      for (const [i, block] of rest.entries()) this.heights.putSync(block.header!.height, hashes[i]!);
      // The new tip is above the old one, so every height above the fork point was overwritten.
      this.meta.putSync(META_TIP, newTip.hash);
    });
    this.deps.metrics.writeLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    if (newTip) {
      this.current = newTip;
      this.deps.metrics.height.set(newTip.height);
      this.deps.metrics.blocksApplied.inc((side?.length ?? 0) + rest.length);
    }
  }
}
