// Blocks cross the node as the bytes a peer sent (its gateway carries the
// answer on, chain-sync puts the same bytes, the store keeps them): so a
// peer that pads the blocks it serves must be caught on those bytes.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, ChainTipSchema, EnvelopeSchema, OffenceKind, OffenceSchema, PeerMessageSchema, SendToPeerSchema, Subjects, type Block } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { repeatedEmbeddedField, withEmbeddedField } from "@timenet/wire";
import { batchBlocks, buildChain, nodePool, putChain, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const CHAIN = buildChain(DEVNET.genesis.header!, 400);
const tipHex = (b: Block) => Buffer.from(blockHash(b.header!)).toString("hex");

// Field 99 (unknown to Block), length-delimited: tag 99 << 3 | 2.
const PAD_TAG = (99 << 3) | 2;
const ENVELOPE_BLOCKS_TAG = (17 << 3) | 2;
const SEND_ENVELOPE_TAG = (3 << 3) | 2;

/**
 * A block's canonical bytes and 50 KB of an unknown field after them: the same block once decoded. Big
 * enough that, counted as the chain's block size, they would shrink c's batches (4 MiB / ~51 KB: 82 blocks).
 */
function padded(b: Block): Uint8Array {
  return withEmbeddedField(toBinary(BlockSchema, b), PAD_TAG, new Uint8Array(50_000).fill(0xee));
}

describe("a peer that pads the blocks it serves", () => {
  test("its blocks are refused as MALFORMED and it is reported; the node syncs the same chain from an honest peer, with no padding kept", async () => {
    const good = await node(194);
    await putChain(good, CHAIN);
    // The padder's gateway is real; a responder in place of its store answers GetBlocks with the real
    // blocks, each padded, spliced byte by byte (an encoder would drop nothing it did not decode).
    const bad = await node(195);
    bad.bus.publish(Subjects.chainTip, ChainTipSchema, { height: 400, hash: blockHash(CHAIN[399]!.header!), timestampMs: 1n, genesisHash: DEVNET.genesisHash, header: CHAIN[399]!.header });
    await bad.storeProcess.stop();
    let served = 0;
    bad.bus.subscribe(Subjects.peerIn("get_blocks"), PeerMessageSchema, (m) => {
      const q = m.envelope!.payload.value as { fromHeight: number; count: number };
      // At most 16 (~800 KB): one answer within the harness NATS' 1 MB payloads.
      const blocks = CHAIN.slice(q.fromHeight - 1, q.fromHeight - 1 + Math.min(q.count, 16)).map(padded);
      const envelope = withEmbeddedField(toBinary(EnvelopeSchema, create(EnvelopeSchema, { requestId: m.envelope!.requestId })), ENVELOPE_BLOCKS_TAG, repeatedEmbeddedField(0x0a, blocks));
      const head = toBinary(SendToPeerSchema, create(SendToPeerSchema, { peerIp: m.peerIp, connId: m.connId }));
      bad.bus.publishEncoded(Subjects.peerOutSend, withEmbeddedField(head, SEND_ENVELOPE_TAG, envelope));
      served += blocks.length;
    });
    await bad.bus.flush();

    const c = await node(196);
    const offences: Array<{ ip: string; kind: OffenceKind; detail: string }> = [];
    let badReported: () => void;
    const reported = new Promise<void>((r) => (badReported = r));
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => {
      offences.push({ ip: off.ip, kind: off.kind, detail: off.detail });
      if (off.ip === bad.ip && off.kind === OffenceKind.INVALID_BLOCK) badReported();
    });
    // The padder first and alone, so it is surely asked.
    await c.dial(bad);
    // One batch of window before anything is measured: later batches are planned after the padder answered.
    await c.startSync({ windowMinBatches: 1 });
    await Promise.race([reported, new Promise((_, reject) => setTimeout(() => reject(new Error("padding peer not reported within 20 s")), 20_000).unref())]);
    assert.ok(served > 0, "the padder was asked");
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

