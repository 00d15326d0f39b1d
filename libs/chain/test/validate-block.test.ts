import { test } from "node:test";
import assert from "node:assert/strict";
import { clone, create } from "@bufbuild/protobuf";
import { BlockInvalidReason, BlockSchema, type Block, type BlockHeader } from "@timenet/proto";
import {
  DEVNET,
  blockHash,
  devnetProducerKey,
  expectedProducer,
  hashHex,
  signBlock,
  validateBlock,
  validateChain,
} from "../src/index.js";

const genesis = DEVNET.genesis.header!;
const T0 = genesis.timestampMs;
const NOW = Number(T0) + 10_000;
// Height 1 is producer 1's (1 mod 3): its own turn, one interval after the genesis.
const key1 = devnetProducerKey(1);
const tx = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A valid height-1 block on the devnet genesis, to break one field at a time. */
function child(overrides: Partial<{ timestampMs: bigint; txs: Uint8Array[] }> = {}, key = key1): Block {
  return signBlock(
    { height: 1, prevHash: blockHash(genesis), timestampMs: overrides.timestampMs ?? T0 + 5000n, txs: overrides.txs ?? [tx("a"), tx("b")] },
    key,
  );
}

/** `parent: null` validates the block as a would-be genesis (no parent). */
function expectInvalid(block: Block, reason: BlockInvalidReason, detail: RegExp, parent: BlockHeader | null = genesis): void {
  const result = validateBlock(block, parent ?? undefined, DEVNET, NOW);
  assert.equal(result.ok, false, `expected ${BlockInvalidReason[reason]}`);
  if (!result.ok) {
    assert.equal(BlockInvalidReason[result.reason], BlockInvalidReason[reason]);
    assert.match(result.detail, detail);
  }
}

test("the genesis validates without a parent, and nothing else does", () => {
  const ok = validateBlock(DEVNET.genesis, undefined, DEVNET, NOW);
  assert.deepEqual(ok, { ok: true, hash: DEVNET.genesisHash });
  expectInvalid(child(), BlockInvalidReason.WRONG_GENESIS, /is not the devnet genesis/, null);
  const otherTime = clone(BlockSchema, DEVNET.genesis);
  otherTime.header!.timestampMs += 1n;
  expectInvalid(otherTime, BlockInvalidReason.WRONG_GENESIS, /not the devnet genesis/, null);
  const extraTx = clone(BlockSchema, DEVNET.genesis);
  extraTx.txs.push(tx("smuggled"));
  expectInvalid(extraTx, BlockInvalidReason.WRONG_GENESIS, /not the devnet genesis/, null);
});

test("a well-formed child validates and gives its hash", () => {
  const block = child();
  const result = validateBlock(block, genesis, DEVNET, NOW);
  assert.equal(result.ok, true);
  if (result.ok) assert.equal(hashHex(result.hash), hashHex(blockHash(block.header!)));
});

test("every invalid reason comes from a deliberately broken block", () => {
  expectInvalid(create(BlockSchema, { txs: [] }), BlockInvalidReason.MALFORMED, /no header/);
  const shortPrev = child();
  shortPrev.header!.prevHash = shortPrev.header!.prevHash.subarray(0, 31);
  expectInvalid(shortPrev, BlockInvalidReason.MALFORMED, /prev_hash is 31 bytes/);

  expectInvalid(child({ txs: [new Uint8Array(DEVNET.maxBlockBytes)] }), BlockInvalidReason.TOO_LARGE, /bytes, at most 1048576/);
  expectInvalid(child({ txs: Array.from({ length: DEVNET.maxTxs + 1 }, () => new Uint8Array(0)) }), BlockInvalidReason.TOO_LARGE, /10001 txs/);

  const wrongHeight = signBlock({ height: 2, prevHash: blockHash(genesis), timestampMs: T0 + 5000n, txs: [] }, key1);
  expectInvalid(wrongHeight, BlockInvalidReason.BAD_HEIGHT, /height 2, expected 1/);

  const wrongPrev = signBlock({ height: 1, prevHash: new Uint8Array(32), timestampMs: T0 + 5000n, txs: [] }, key1);
  expectInvalid(wrongPrev, BlockInvalidReason.BAD_PREV_HASH, /prev_hash 0{64}, parent is 1a872f67/);

  const stranger = signBlock({ height: 1, prevHash: blockHash(genesis), timestampMs: T0 + 1n, txs: [] }, devnetProducerKey(3));
  expectInvalid(stranger, BlockInvalidReason.UNKNOWN_PRODUCER, /is not a devnet producer/);

  const forged = child();
  forged.header!.producerId = devnetProducerKey(2).publicKey; // claims another producer, signed by producer 1
  expectInvalid(forged, BlockInvalidReason.BAD_SIGNATURE, /does not verify/);
  const edited = child();
  edited.header!.timestampMs += 1n; // changed after signing
  expectInvalid(edited, BlockInvalidReason.BAD_SIGNATURE, /does not verify/);
  const unsigned = child();
  unsigned.header!.signature = new Uint8Array(0);
  expectInvalid(unsigned, BlockInvalidReason.BAD_SIGNATURE, /does not verify/);

  const swapped = child();
  swapped.txs = [tx("a"), tx("B")];
  expectInvalid(swapped, BlockInvalidReason.BAD_MERKLE_ROOT, /merkle_root .*, txs give/);

  expectInvalid(child({ timestampMs: T0 - 1n }), BlockInvalidReason.TIMESTAMP_BEFORE_PARENT, /before the parent's/);
  expectInvalid(
    child({ timestampMs: BigInt(NOW + DEVNET.maxFutureDriftMs + 1) }),
    BlockInvalidReason.TIMESTAMP_IN_FUTURE,
    new RegExp(`${DEVNET.maxFutureDriftMs + 1} ms ahead of now, at most ${DEVNET.maxFutureDriftMs}`),
  );
  // Exactly at the drift limit is fine; without a clock (Infinity) the drift is not checked.
  assert.equal(validateBlock(child({ timestampMs: BigInt(NOW + DEVNET.maxFutureDriftMs) }), genesis, DEVNET, NOW).ok, true);
  assert.equal(validateBlock(child({ timestampMs: BigInt(NOW + 3_600_000) }), genesis, DEVNET, Number.POSITIVE_INFINITY).ok, true);
});

test("the schedule is a rule: a block before its producer's turn is BEFORE_TURN", () => {
  // The expected producer: from one interval after the parent, not a millisecond sooner.
  assert.equal(validateBlock(child({ timestampMs: T0 + 5000n }), genesis, DEVNET, NOW).ok, true);
  expectInvalid(child({ timestampMs: T0 + 4999n }), BlockInvalidReason.BEFORE_TURN, /before .*rank 0 at height 1.*1 ms early/);
  expectInvalid(child({ timestampMs: T0 }), BlockInvalidReason.BEFORE_TURN, /5000 ms early/);
  // Producer 2 is the first stand-in at height 1 (rank 1): two intervals; producer 0 (rank 2): three.
  expectInvalid(child({ timestampMs: T0 + 5000n }, devnetProducerKey(2)), BlockInvalidReason.BEFORE_TURN, /rank 1 at height 1/);
  assert.equal(validateBlock(child({ timestampMs: T0 + 10_000n }, devnetProducerKey(2)), genesis, DEVNET, NOW + 10_000).ok, true);
  expectInvalid(child({ timestampMs: T0 + 10_000n }, devnetProducerKey(0)), BlockInvalidReason.BEFORE_TURN, /rank 2 at height 1/);
  assert.equal(validateBlock(child({ timestampMs: T0 + 15_000n }, devnetProducerKey(0)), genesis, DEVNET, NOW + 10_000).ok, true);
});

test("a 100-block devnet chain validates; a tampered tx in block 57 is caught at index 57", () => {
  const blocks: Block[] = [DEVNET.genesis];
  for (let height = 1; height < 100; height++) {
    const parent = blocks[height - 1]!.header!;
    const producer = [0, 1, 2].map(devnetProducerKey).find((k) => hashHex(k.publicKey) === hashHex(expectedProducer(height, DEVNET)))!;
    const txs = Array.from({ length: height % 5 }, (_, i) => tx(`block ${height} tx ${i}`));
    blocks.push(signBlock({ height, prevHash: blockHash(parent), timestampMs: parent.timestampMs + 5000n, txs }, producer));
  }
  const now = Number(blocks[99]!.header!.timestampMs);
  const result = validateChain(blocks, undefined, DEVNET, now);
  assert.equal(result.ok, true);
  if (result.ok) {
    assert.equal(result.hashes.length, 100);
    assert.equal(hashHex(result.hashes[0]!), hashHex(DEVNET.genesisHash));
  }
  // Continuing from a stored parent works the same.
  assert.equal(validateChain(blocks.slice(40), blocks[39]!.header, DEVNET, now).ok, true);

  const tampered = blocks.map((b) => clone(BlockSchema, b));
  tampered[57]!.txs[0]![0]! ^= 1;
  const bad = validateChain(tampered, undefined, DEVNET, now);
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.index, 57);
    assert.equal(bad.reason, BlockInvalidReason.BAD_MERKLE_ROOT);
  }
});

test("expectedProducer is round-robin over the producers", () => {
  assert.equal(hashHex(expectedProducer(0, DEVNET)), hashHex(DEVNET.producers[0]!));
  assert.equal(hashHex(expectedProducer(4, DEVNET)), hashHex(DEVNET.producers[1]!));
  assert.equal(hashHex(expectedProducer(8, DEVNET)), hashHex(DEVNET.producers[2]!));
});

test("a block that repeats a transaction is malformed", () => {
  const a = tx("a");
  const b = signBlock({ height: 1, prevHash: blockHash(genesis), timestampMs: T0 + 5000n, txs: [a, tx("b"), a] }, devnetProducerKey(1));
  const r = validateBlock(b, genesis, DEVNET, NOW);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, BlockInvalidReason.MALFORMED);
});
