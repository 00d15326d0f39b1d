import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockInvalidReason, BlockSchema, type Block } from "@timenet/proto";
import { blockHash, canonicalBlockSize, DEVNET, devnetProducerKey, signBlock, statelessChecks } from "../src/index.js";

test("canonicalBlockSize is the length protobuf-es encodes, for every field width and default", () => {
  const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
  const cases: Block[] = [
    create(BlockSchema, {}),
    create(BlockSchema, { header: {} }),
    create(BlockSchema, { txs: [new Uint8Array(0), bytes(1)] }),
    DEVNET.genesis,
  ];
  for (const height of [1, 127, 128, 16_383, 16_384, 0xffff_ffff]) {
    for (const timestampMs of [1n, 127n, 128n, 1_700_000_000_000n, (1n << 64n) - 1n]) {
      for (const txs of [[], [bytes(0)], [bytes(127), bytes(128)], [bytes(20_000)]]) {
        cases.push(create(BlockSchema, { header: { height, timestampMs, prevHash: bytes(32), merkleRoot: bytes(32), producerId: bytes(32), signature: bytes(64) }, txs }));
      }
    }
  }
  for (const b of cases) assert.equal(canonicalBlockSize(b), toBinary(BlockSchema, b).length, JSON.stringify(b.header?.height));
});

test("a block's bytes longer than its canonical encoding are MALFORMED: padding is never stored and served", () => {
  const block = signBlock({ height: 1, prevHash: blockHash(DEVNET.genesis.header!), timestampMs: DEVNET.genesis.header!.timestampMs + 5000n, txs: [new Uint8Array([1, 2])] }, devnetProducerKey(1));
  const size = toBinary(BlockSchema, block).length;
  const ok = statelessChecks(block, DEVNET, undefined, size);
  assert.equal(ok.ok, true);
  assert.equal(statelessChecks(block, DEVNET).ok, true, "without bytes, the canonical size is the size");
  for (const extra of [1, 2, 1000]) {
    const padded = statelessChecks(block, DEVNET, undefined, size + extra);
    assert.equal(padded.ok, false);
    assert.equal(!padded.ok && padded.reason, BlockInvalidReason.MALFORMED);
  }
  // Over the network's limit it is TOO_LARGE, whatever else is wrong.
  const huge = statelessChecks(block, DEVNET, undefined, DEVNET.maxBlockBytes + 1);
  assert.equal(!huge.ok && huge.reason, BlockInvalidReason.TOO_LARGE);
});
