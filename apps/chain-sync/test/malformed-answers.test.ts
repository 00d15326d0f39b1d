// Blocks cross the node as the bytes a peer sent (its gateway carries the
// answer on unread but for its price and shape, chain-sync decodes it and
// puts the same bytes, the store keeps them): so a peer that pads the
// blocks it serves, or serves bytes that are no blocks at all, must be
// caught on those bytes, and only that peer blamed.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { toBinary } from "@bufbuild/protobuf";
import { BlockSchema, OffenceKind, OffenceSchema, Subjects, type Block } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { withEmbeddedField } from "@timenet/wire";
import { answerInPlaceOfStore, batchBlocks, buildChain, nodePool, putChain, waitHeight, type SyncNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const CHAIN = buildChain(DEVNET.genesis.header!, 400);
const tipHex = (b: Block) => Buffer.from(blockHash(b.header!)).toString("hex");

// Field 99 (unknown to Block), length-delimited: tag 99 << 3 | 2.
const PAD_TAG = (99 << 3) | 2;

/**
 * A block's canonical bytes and 50 KB of an unknown field after them: the same block once decoded. Big
 * enough that, counted as the chain's block size, they would shrink c's batches (4 MiB / ~51 KB: 82 blocks).
 */
function padded(b: Block): Uint8Array {
  return withEmbeddedField(toBinary(BlockSchema, b), PAD_TAG, new Uint8Array(50_000).fill(0xee));
}

/**
 * A node whose gateway is real and whose store is replaced by a responder: it claims the chain's tip and
 * answers each GetBlocks with the entries `entriesFor` makes of the blocks asked (at most 16: ~800 KB
 * padded, one answer within the harness NATS' 1 MB payloads), spliced byte by byte (an encoder would
 * drop nothing it did not decode). Returns how many entries it served so far.
 */
async function rogue(k: number, entriesFor: (blocks: Block[]) => Uint8Array[]): Promise<{ node: SyncNode; served: () => number }> {
  const bad = await node(k);
  let served = 0;
  await answerInPlaceOfStore(
    bad,
    (q) => {
      const entries = entriesFor(CHAIN.slice(q.fromHeight - 1, q.fromHeight - 1 + Math.min(q.count, 16)));
      q.answer(entries);
      served += entries.length;
    },
    CHAIN[399]!.header!,
  );
  return { node: bad, served: () => served };
}

/** Offences c reports, and a promise of the first against `ip` of `kind`. */
function offencesOf(c: SyncNode, ip: string, kind: OffenceKind) {
  const offences: Array<{ ip: string; kind: OffenceKind; detail: string }> = [];
  let seen: () => void;
  const reported = new Promise<void>((r) => (seen = r));
  c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => {
    offences.push({ ip: off.ip, kind: off.kind, detail: off.detail });
    if (off.ip === ip && off.kind === kind) seen();
  });
  const within = (ms: number) => Promise.race([reported, new Promise((_, reject) => setTimeout(() => reject(new Error(`${ip} not reported within ${ms / 1000} s`)), ms).unref())]);
  return { offences, within };
}

describe("a peer that pads the blocks it serves", () => {
  test("its blocks are refused as MALFORMED and it is reported; the node syncs the same chain from an honest peer, with no padding kept", async () => {
    const good = await node(194);
    await putChain(good, CHAIN);
    const { node: bad, served } = await rogue(195, (blocks) => blocks.map(padded));
    const c = await node(196);
    const { offences, within } = offencesOf(c, bad.ip, OffenceKind.INVALID_BLOCK);
    // The padder first and alone, so it is surely asked.
    await c.dial(bad);
    // One batch of window before anything is measured: later batches are planned after the padder answered.
    await c.startSync({ windowMinBatches: 1 });
    await within(20_000);
    assert.ok(served() > 0, "the padder was asked");
    assert.equal(await c.height(), 0, "nothing of the padded blocks was written");
    assert.match(offences.find((o) => o.ip === bad.ip)!.detail, /canonical/);
    // The padder's bytes are not the chain's block size: batches keep their size (only applied blocks count).
    // Sampled for ten planner ticks (100 ms each) after the report; the padded answers came before it.
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const b = await batchBlocks(c);
      if (b !== undefined) sizes.push(b);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sizes.length > 0, "the planner planned");
    assert.deepEqual([...new Set(sizes)], [128], "the batch size stays SYNC_BATCH_SIZE");
    await c.dial(good);
    await waitHeight(c, 400, 60_000);
    assert.equal(await c.tipHash(), tipHex(CHAIN[399]!));
    assert.ok(!offences.some((o) => o.ip === good.ip), "the honest peer is never reported");
    // What c keeps (and would serve) is each block's canonical encoding.
    for (const h of [1, 200, 400]) {
      let got: Block | undefined;
      for await (const r of c.store.getBlocks({ fromHeight: h, count: 1 })) got = r.block;
      assert.equal(toBinary(BlockSchema, got!).length, toBinary(BlockSchema, CHAIN[h - 1]!).length, `block ${h} stored without padding`);
    }
  });
});

describe("a peer whose answers are no blocks at all", () => {
  test("its gateway-forwarded answers are decoded by chain-sync alone: it is reported for a PROTOCOL_VIOLATION, nothing is written, and the node syncs from an honest peer", async () => {
    const good = await node(197);
    await putChain(good, CHAIN);
    // Each entry a Block whose header (field 1) is one byte of a truncated varint: within the answer's
    // price and shape (which is all the gateway reads of it), but no Block.
    const { node: bad, served } = await rogue(198, (blocks) => blocks.map(() => Uint8Array.of(0x0a, 0x01, 0xff)));
    const c = await node(199);
    const { offences, within } = offencesOf(c, bad.ip, OffenceKind.PROTOCOL_VIOLATION);
    await c.dial(bad);
    await c.startSync();
    await within(20_000);
    assert.ok(served() > 0, "the rogue was asked");
    assert.match(offences.find((o) => o.ip === bad.ip)!.detail, /malformed: its answer does not decode/);
    assert.equal(await c.height(), 0, "nothing was written");
    await c.dial(good);
    await waitHeight(c, 400, 60_000);
    assert.equal(await c.tipHash(), tipHex(CHAIN[399]!));
    assert.ok(!offences.some((o) => o.ip === good.ip), "the honest peer is never reported");
  });
});
