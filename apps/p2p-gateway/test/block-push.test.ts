// A small new block goes with its announcement (NewBlock.block) to each peer
// that has not announced it to us; the receiving gateway lets a pushed block
// through only if it is the block announced. Real sockets: the peers are
// scripted clients speaking the real protocol.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { blockHash, DEVNET, devnetProducerKey, signBlock } from "@timenet/chain";
import { BlockSchema, ChainTipSchema, DisconnectReason, EnvelopeSchema, OffenceKind, OffenceSchema, PeerMessageSchema, Subjects, type Block, type Envelope, type NewBlock } from "@timenet/proto";
import { FIELD_LIMITS } from "@timenet/wire";
import { waitFor } from "@timenet/testkit";
import { dialVia, FAST, metricValue, nodePool, record, ScriptedPeer, waitConnected, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

/** A signed devnet block on `parent`, made now (a gateway announces only a fresh tip), with `txBytes` of transaction. */
function blockOn(parent: Block["header"], txBytes: number, salt = "x"): Block {
  const tx = Buffer.alloc(txBytes, 0);
  tx.write(salt);
  const height = parent!.height + 1;
  return signBlock({ height, prevHash: blockHash(parent!), timestampMs: BigInt(Date.now()), txs: [tx] }, devnetProducerKey(height % 3));
}

function newBlock(b: Block, block?: Uint8Array): Envelope {
  return create(EnvelopeSchema, { payload: { case: "newBlock", value: { height: b.header!.height, hash: blockHash(b.header!), header: b.header, block } } });
}

/** Publishes a tip on the node's chain.tip as its store does after the put that made it (with its block). */
function storeTip(n: TestNode, b: Block): void {
  n.bus.publish(Subjects.chainTip, ChainTipSchema, {
    height: b.header!.height,
    hash: blockHash(b.header!),
    timestampMs: b.header!.timestampMs,
    genesisHash: DEVNET.genesisHash,
    header: b.header,
    block: toBinary(BlockSchema, b),
  });
}

async function peer(n: TestNode, ip: string): Promise<ScriptedPeer> {
  const p = await ScriptedPeer.dial(n.endpoint, ip);
  await p.handshake();
  p.answerPings();
  return p;
}

const established = (n: TestNode) => n.gateway.manager.connections().filter((c) => c.state === "established").length;
const nb = (e: Envelope | undefined) => e?.payload.value as NewBlock;
const same = (x: Uint8Array, y: Uint8Array) => Buffer.from(x).equals(Buffer.from(y));

describe("new blocks pushed with their announcement", () => {
  test("our new tip's block goes to a peer that has not announced it; a peer that announced it gets nothing; a block over BLOCK_PUSH_MAX_BYTES goes as its announcement alone", async () => {
    const a = await node(240, { blockPushMaxBytes: 4096 });
    const heard = record(a.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const p1 = await peer(a, "127.0.0.241");
    const p2 = await peer(a, "127.0.0.242");
    await waitFor(() => established(a) === 2, { message: "both peers established" });

    const small = blockOn(DEVNET.genesis.header, 100);
    // p2's store has it already: it announced it to us (a's gateway publishes that first announcement).
    p2.send(newBlock(small));
    await waitFor(() => heard.length === 1, { message: "p2's announcement heard" });
    storeTip(a, small);
    const to1 = await p1.next((e) => e.payload.case === "newBlock" && nb(e).height === 1);
    assert.ok(same(nb(to1).block, toBinary(BlockSchema, small)), "pushed to the peer that did not announce it");
    assert.ok(same(nb(to1).hash, blockHash(small.header!)));

    const big = blockOn(small.header, 5_000);
    storeTip(a, big);
    const big1 = await p1.next((e) => e.payload.case === "newBlock" && nb(e).height === 2);
    // The first NewBlock p2 gets is block 2's (one socket, in order): block 1, which it announced to us, was withheld.
    const first2 = await p2.next((e) => e.payload.case === "newBlock");
    assert.equal(nb(first2).height, 2, "nothing sent to the peer that announced block 1");
    assert.equal(nb(big1).block.length, 0, "a block over BLOCK_PUSH_MAX_BYTES is only announced");
    assert.equal(nb(first2).block.length, 0);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_sent_total", { how: "pushed" }), 1);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_sent_total", { how: "announced" }), 2);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_withheld_total"), 1);
    assert.equal(established(a), 2, "the peer we withheld from keeps its link");
    await a.bus.flush();
    assert.deepEqual(offences, [], "nothing held against either peer");
  });

  test("a new block is pushed to max(BLOCK_PUSH_FANOUT, ⌈√n⌉) of n peers, our outbound peers first, the rest chosen afresh per block; every other peer hears its announcement", async () => {
    const a = await node("127.0.31.1", { blockPushFanout: 2 });
    // Two peers we dialled (real gateways) and ten strangers who connected in.
    const chosen = await Promise.all(["127.0.31.2", "127.0.31.3"].map((ip) => node(ip)));
    const chosenHeard = chosen.map((n) => record(n.bus, Subjects.peerIn("new_block"), PeerMessageSchema));
    for (const n of chosen) {
      await dialVia(a, n);
      await waitConnected(a, n);
    }
    const strangers: ScriptedPeer[] = [];
    for (let i = 0; i < 10; i++) strangers.push(await peer(a, `127.0.31.${10 + i}`));
    await waitFor(() => established(a) === 12, { message: "12 peers established" });
    const everPushed = new Set<number>();
    let parent = DEVNET.genesis.header;
    for (let height = 1; height <= 5; height++) {
      const b = blockOn(parent, 100, `fanout-${height}`);
      storeTip(a, b);
      const got = await Promise.all(strangers.map((p) => p.next((e) => e.payload.case === "newBlock" && nb(e).height === height)));
      for (const e of got) assert.ok(same(nb(e).hash, blockHash(b.header!)), "every stranger hears of it");
      // ⌈√12⌉ = 4 beats the fan-out of 2: both outbound peers, and 2 of the 10 strangers.
      for (const heard of chosenHeard) {
        await waitFor(() => heard.length === height, { message: `an outbound peer hears block ${height}` });
        assert.ok(same(nb(heard[height - 1]!.envelope).block, toBinary(BlockSchema, b)), `block ${height} pushed to an outbound peer`);
      }
      // As if their stores wrote it: the next push extends their tip (else it is passed on as an announcement).
      for (const n of chosen) n.gateway.setTip(height, blockHash(b.header!));
      const withBlock = got.flatMap((e, i) => (nb(e).block.length > 0 ? [i] : []));
      assert.equal(withBlock.length, 2, `block ${height} pushed to ${withBlock.length} of 10 strangers`);
      for (const i of withBlock) assert.ok(same(nb(got[i]).block, toBinary(BlockSchema, b)));
      for (const i of withBlock) everPushed.add(i);
      parent = b.header;
    }
    // The same 2 of 10 five times running by chance: (1/45)⁴ ≈ 2 in 10 million.
    assert.ok(everPushed.size > 2, `chosen afresh per block (${everPushed.size} strangers ever pushed to)`);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_sent_total", { how: "pushed" }), 20);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_sent_total", { how: "beyond_fanout" }), 40);
    for (const p of strangers) p.close();
  });

  test("a pushed block that is not the block announced, or over the protocol's 64 KiB, closes its link as a protocol error; an honest push is published whole when it extends our tip, as an announcement when not", async () => {
    const a = await node(243);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const heard = record(a.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    const honest = await peer(a, "127.0.0.245");
    const liar = await peer(a, "127.0.0.246");
    const stuffer = await peer(a, "127.0.0.250");
    await waitFor(() => established(a) === 3, { message: "three peers established" });

    const block = blockOn(DEVNET.genesis.header, 200);
    const other = blockOn(DEVNET.genesis.header, 200, "y");
    // The announcement names one block and carries another.
    liar.send(newBlock(block, toBinary(BlockSchema, other)));
    // Within the frame's price (the announcement is small), one byte over the pushed block's limit.
    stuffer.send(newBlock(block, new Uint8Array(FIELD_LIMITS.pushedBlockBytes + 1)));
    await liar.waitClosed();
    await stuffer.waitClosed();
    for (const p of [liar, stuffer]) assert.equal(p.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
    await waitFor(() => offences.length === 2, { message: "two offences" });
    assert.deepEqual(offences.map((o) => [o.ip, o.kind]).sort(), [
      ["127.0.0.246", OffenceKind.PROTOCOL_VIOLATION],
      ["127.0.0.250", OffenceKind.PROTOCOL_VIOLATION],
    ]);
    assert.match(offences.find((o) => o.ip === "127.0.0.246")!.detail, /not the block whose hash is announced/);

    honest.send(newBlock(block, toBinary(BlockSchema, block)));
    await waitFor(() => heard.length === 1, { message: "the honest push published" });
    assert.equal(heard[0]!.peerIp, "127.0.0.245");
    assert.ok(same(nb(heard[0]!.envelope).block, toBinary(BlockSchema, block)), "a block that extends our tip (genesis) goes on whole");
    // One that does not extend our tip (still genesis: no chain.tip came) goes on as an announcement alone, and costs its sender nothing.
    const next = blockOn(block.header, 200);
    honest.send(newBlock(next, toBinary(BlockSchema, next)));
    await waitFor(() => heard.length === 2, { message: "the second push published" });
    assert.equal(nb(heard[1]!.envelope).height, 2);
    assert.equal(nb(heard[1]!.envelope).block.length, 0, "not our tip's child: its bytes stop at the gateway");
    assert.equal(await metricValue(a.gateway, "timenet_gateway_gossip_total", { kind: "new_block", result: "push_not_next" }), 1);
    assert.equal(heard.filter((m) => m.peerIp !== "127.0.0.245").length, 0, "nothing of the liars reaches chain-sync");
    assert.equal(established(a), 1, "the honest link stays");
    assert.ok(!offences.some((o) => o.ip === "127.0.0.245"));
  });

  test("our pushes keep under the peer's push limit: beyond PUSH_PACE a new tip goes as its announcement alone, and the peer hears every one", async () => {
    // Both gateways with the same tight limit (two at once, then one a minute); the sender paces its pushes by it.
    const limit = { count: 1, periodMs: 60_000, burst: 2 };
    const a = await node("127.0.14.1", { pushPace: limit, rateLimits: { ...FAST.rateLimits, pushes: limit } });
    const b = await node("127.0.14.2", { rateLimits: { ...FAST.rateLimits, pushes: limit } });
    const heard = record(b.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    await dialVia(a, b);
    await waitConnected(a, b);

    // Four fresh tips in a row, as when a node writes the last few blocks of a burst.
    let parent = DEVNET.genesis.header;
    for (let i = 0; i < 4; i++) {
      const block = blockOn(parent, 100, `paced-${i}`);
      storeTip(a, block);
      parent = block.header;
    }
    await waitFor(() => heard.length === 4, { message: "b heard all four new tips" });
    assert.deepEqual(
      heard.map((m) => nb(m.envelope).height),
      [1, 2, 3, 4],
    );
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_sent_total", { how: "pushed" }), 2);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_new_blocks_sent_total", { how: "paced" }), 2, "the last two as announcements alone");
    assert.equal(await metricValue(b.gateway, "timenet_gateway_rate_limited_total", { kind: "new_block_push" }), 0, "no block sent to be skipped unread");
    assert.ok(a.gateway.manager.isConnected(b.ip) && b.gateway.manager.isConnected(a.ip), "the link stays");
  });

  test("pushes beyond a peer's push budget have their blocks skipped unread and their announcements heard, without blame: its link and another peer's pushes go on", async () => {
    // Three pushes at once, then one a minute: the flood below is all beyond it.
    const a = await node(251, { rateLimits: { ...FAST.rateLimits, pushes: { count: 1, periodMs: 60_000, burst: 3 } } });
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const heard = record(a.bus, Subjects.peerIn("new_block"), PeerMessageSchema);
    const flooder = await peer(a, "127.0.0.252");
    const other = await peer(a, "127.0.0.253");
    await waitFor(() => established(a) === 2, { message: "both peers established" });

    // 40 different valid 40 KiB blocks on our tip (genesis): each one, read, would be decoded, checked and published whole.
    const FLOOD = 40;
    const flood = Array.from({ length: FLOOD }, (_, i) => blockOn(DEVNET.genesis.header, 40_000, `flood-${i}`));
    for (const b of flood) flooder.send(newBlock(b, toBinary(BlockSchema, b)));
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_rate_limited_total", { kind: "new_block_push" })) === FLOOD - 3, {
      message: "every push beyond the burst over the limit",
    });
    assert.equal(await metricValue(a.gateway, "timenet_gateway_frames_skipped_total", { kind: "new_block", why: "push_over_limit" }), FLOOD - 3, "their blocks skipped unread");
    // Every block's announcement is heard, in order (frames on one socket are read in order): the flooder's tip is known, its blocks fetchable.
    await waitFor(() => heard.filter((m) => m.peerIp === "127.0.0.252").length === FLOOD, { message: "every announcement heard" });
    const fromFlooder = heard.filter((m) => m.peerIp === "127.0.0.252");
    assert.deepEqual(
      fromFlooder.map((m) => Buffer.from(nb(m.envelope).hash).toString("hex")),
      flood.map((b) => Buffer.from(blockHash(b.header!)).toString("hex")),
      "each push's announcement, in order",
    );
    assert.equal(fromFlooder.filter((m) => nb(m.envelope).block.length > 0).length, 3, "only the burst's pushes reach chain-sync with their blocks");
    for (const m of fromFlooder.slice(3)) assert.equal(nb(m.envelope).header?.height, 1, "the announcement's header is read whole");

    // Another peer's push has its own budget.
    const b = blockOn(DEVNET.genesis.header, 40_000, "other");
    other.send(newBlock(b, toBinary(BlockSchema, b)));
    await waitFor(() => heard.some((m) => m.peerIp === "127.0.0.253"), { message: "the other peer's push heard" });
    assert.ok(same(nb(heard.find((m) => m.peerIp === "127.0.0.253")!.envelope).block, toBinary(BlockSchema, b)), "published whole");
    assert.equal(established(a), 2, "no link closed");
    assert.deepEqual(offences, [], "over the push budget is no offence");
  });
});
