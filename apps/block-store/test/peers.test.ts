// Serving peers: GetBlocks arrives from the gateway on p2p.in.get_blocks; the
// answer goes to p2p.out.send on the same connection with the same request id.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { DEVNET, hashHex } from "@timenet/chain";
import { BlocksSchema, PutResult } from "@timenet/proto";
import { tempDir } from "@timenet/testkit";
import { startBlockStore } from "../src/service.js";
import { batches, buildChain, endOf, GENESIS } from "./chain-builder.js";
import { startTestStore, testLogger, type TestStore } from "./harness.js";
import { peerAsker } from "./peer-asker.js";

const PEER = "203.0.113.7";

/** Publishes GetBlocks as the gateway would, from one peer, and records the replies. */
async function peerSide(s: TestStore) {
  const asker = await peerAsker(s.bus);
  return { replies: asker.replies, ask: (fromHeight: number, count: number, connId = 42) => asker.ask(PEER, fromHeight, count, connId) };
}

describe("answering peers' GetBlocks", () => {
  let s: TestStore;
  let peer: Awaited<ReturnType<typeof peerSide>>;
  const chain = buildChain(GENESIS, 300);

  before(async () => {
    s = await startTestStore();
    for (const batch of batches(chain, 150)) assert.equal((await s.client.putBlocks({ blocks: batch })).result, PutResult.APPLIED);
    peer = await peerSide(s);
  });
  after(() => s?.stop());

  test("main-chain blocks from from_height, paired by request id, at most SERVE_MAX_BLOCKS (256)", async () => {
    const answer = await peer.ask(1, 1000);
    assert.equal(answer.blocks.length, 256);
    answer.blocks.forEach((b, i) => assert.equal(hashHex(endOf(b).hash), hashHex(endOf(chain[i]!).hash), `block ${i + 1}`));
    const fromGenesis = await peer.ask(0, 3, 43);
    assert.deepEqual(fromGenesis.blocks.map((b) => b.header!.height), [0, 1, 2]);
    assert.equal(hashHex(endOf(fromGenesis.blocks[0]!).hash), hashHex(DEVNET.genesisHash));
    assert.equal(await s.metric("timenet_store_blocks_served_total"), 259);
  });

  test("up to the tip, and an empty Blocks beyond it", async () => {
    assert.deepEqual((await peer.ask(290, 50)).blocks.map((b) => b.header!.height), [290, 291, 292, 293, 294, 295, 296, 297, 298, 299, 300]);
    assert.equal((await peer.ask(301, 10)).blocks.length, 0);
    assert.equal((await peer.ask(1_000_000, 10)).blocks.length, 0);
  });

  test("replicas share the subject as a queue group: each request is answered once", async () => {
    const dir = await tempDir("replica-");
    const replica = await startBlockStore({ node: "r2", natsUrl: s.nats.url, dbPath: join(dir.path, "blocks"), network: DEVNET, grpcPort: 0, metricsPort: 0, logger: testLogger("r2") });
    try {
      const before = peer.replies.size;
      for (let i = 0; i < 10; i++) await peer.ask(0, 1);
      await s.bus.flush();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(peer.replies.size - before, 10);
    } finally {
      await replica.stop();
      await dir.remove();
    }
  });
});

describe("SERVE_MAX_BYTES", () => {
  test("caps an answer's encoded blocks; a single block larger than the cap is still sent", async () => {
    const s = await startTestStore({ serveMaxBytes: 10_000 });
    try {
      const chain = buildChain(GENESIS, 20, { padBytes: 3_000 });
      const big = buildChain(endOf(chain.at(-1)!), 1, { padBytes: 20_000 });
      assert.equal((await s.client.putBlocks({ blocks: [...chain, ...big] })).result, PutResult.APPLIED);
      const peer = await peerSide(s);
      const answer = await peer.ask(1, 100);
      assert.equal(answer.blocks.length, 3, "three ~3 KB blocks fit in 10 000 bytes, four do not");
      assert.ok(toBinary(BlocksSchema, answer).length <= 10_000);
      assert.ok(toBinary(BlocksSchema, create(BlocksSchema, { blocks: chain.slice(0, 4) })).length > 10_000);
      const single = await peer.ask(21, 5);
      assert.equal(single.blocks.length, 1);
      assert.equal(hashHex(endOf(single.blocks[0]!).hash), hashHex(endOf(big[0]!).hash));
    } finally {
      await s.stop();
    }
  });
});
