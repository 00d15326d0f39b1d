// The fork choice on headers: weights, the tie-break, and what one key can
// and cannot do with a private branch.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BlockHeader } from "@timenet/proto";
import { blockHash, DEVNET, devnetProducerKey, earliestTimestampMs, preferred, rankAt, signBlock, summariseBranch, weightWindow, type NetworkParams } from "../src/index.js";

const FIVE: NetworkParams = { ...DEVNET, producers: [0, 1, 2, 3, 4].map((i) => devnetProducerKey(i).publicKey) };

/** A branch on `parent` made by the producers in `who` (indexes), each at the earliest timestamp its turn allows. */
function branch(parent: BlockHeader, who: number[], params: NetworkParams, salt = ""): BlockHeader[] {
  const out: BlockHeader[] = [];
  let p = parent;
  for (const index of who) {
    const height = p.height + 1;
    const block = signBlock(
      { height, prevHash: blockHash(p), timestampMs: earliestTimestampMs(p.timestampMs, rankAt(height, index, params), params), txs: [new TextEncoder().encode(`${salt}${height}`)] },
      devnetProducerKey(index),
    );
    out.push(block.header!);
    p = block.header!;
  }
  return out;
}

test("the weight window is floor(n/2): one block back with three producers, two with five", () => {
  assert.equal(weightWindow(DEVNET), 1);
  assert.equal(weightWindow(FIVE), 2);
  assert.equal(weightWindow({ ...DEVNET, producers: [DEVNET.producers[0]!] }), 0);
});

test("a branch one key builds alone weighs at most 1, however long; one the others take turns on gains 1 a block", () => {
  for (const params of [DEVNET, FIVE]) {
    const genesis = params.genesis.header!;
    for (const rogue of [0, 1, 2]) {
      const lone = branch(genesis, Array(30).fill(rogue) as number[], params);
      assert.equal(summariseBranch(lone, [-1], params).weight, 1, `producer ${rogue} alone, ${params.producers.length} producers`);
    }
    const honest = branch(genesis, Array.from({ length: 30 }, (_, i) => (i + 1) % params.producers.length), params);
    assert.equal(summariseBranch(honest, [-1], params).weight, 30);
  }
});

test("a key that signed the fork point adds nothing at all on its own", () => {
  const genesis = DEVNET.genesis.header!;
  const [first] = branch(genesis, [1], DEVNET);
  const lone = branch(first!, [1, 1, 1], DEVNET);
  assert.equal(summariseBranch(lone, [1], DEVNET).weight, 0);
});

test("the heavier branch wins whatever its length; equal weight goes to the lower rank, then the lower hash", () => {
  const genesis = DEVNET.genesis.header!;
  // Height 1 is producer 1's. Producer 2 builds 20 blocks alone (rank 1 first); producers 1 and 0 make 2.
  const rogue = summariseBranch(branch(genesis, Array(20).fill(2) as number[], DEVNET), [-1], DEVNET);
  const honest = summariseBranch(branch(genesis, [1, 0], DEVNET), [-1], DEVNET);
  assert.equal(rogue.weight, 1);
  assert.equal(honest.weight, 2);
  assert.equal(preferred(honest, rogue), true);
  assert.equal(preferred(rogue, honest), false);
  // One block each: the schedule's own producer (rank 0) wins over a stand-in.
  const own = summariseBranch(branch(genesis, [1], DEVNET), [-1], DEVNET);
  const standIn = summariseBranch(branch(genesis, [2], DEVNET), [-1], DEVNET);
  assert.equal(own.firstRank, 0);
  assert.equal(standIn.firstRank, 1);
  assert.equal(preferred(own, standIn), true);
  assert.equal(preferred(standIn, own), false);
  // Same producer, same height, two versions: the lower hash, both ways round, and never both.
  const a = summariseBranch(branch(genesis, [1], DEVNET, "a"), [-1], DEVNET);
  const b = summariseBranch(branch(genesis, [1], DEVNET, "b"), [-1], DEVNET);
  assert.notEqual(preferred(a, b), preferred(b, a));
  assert.equal(preferred(a, b), Buffer.compare(a.firstHash, b.firstHash) < 0);
  assert.equal(preferred(a, a), false, "a branch is not preferred to itself");
});
