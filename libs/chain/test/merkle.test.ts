// The merkle tree's second preimage: a leaf that hashes like an interior node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlockInvalidReason } from "@timenet/proto";
import { DEVNET, blockHash, devnetProducerKey, hashHex, merkleRoot, sha256d, signBlock, txHash, validateBlock } from "../src/index.js";

const a = new TextEncoder().encode("pay alice 5");
const b = new TextEncoder().encode("pay bob 7");
/** The 64-byte transaction whose bytes are the two tx ids side by side. */
const forged = new Uint8Array([...txHash(a), ...txHash(b)]);

/** The scheme before RFC 6962 prefixes: leaves are the tx ids, nodes SHA-256d(left || right), an odd node paired with itself. */
function oldSchemeRoot(txs: Uint8Array[]): Uint8Array {
  if (txs.length === 0) return new Uint8Array(32);
  let level = txs.map(txHash);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(sha256d(level[i]!, level[i + 1] ?? level[i]!));
    level = next;
  }
  return level[0]!;
}

test("the old scheme gave [a, b] and the single tx H(a)||H(b) one root; leaf and node prefixes tell them apart", () => {
  assert.equal(forged.length, 64);
  // The collision that was: two different bodies under one merkle root.
  assert.equal(hashHex(oldSchemeRoot([a, b])), hashHex(oldSchemeRoot([forged])));
  // Now: different roots, and neither equals the old one.
  assert.notEqual(hashHex(merkleRoot([a, b])), hashHex(merkleRoot([forged])));
  assert.notEqual(hashHex(merkleRoot([a, b])), hashHex(oldSchemeRoot([a, b])));
  // The same trick one level up: [a, b, c, d] against [H(ab) || H(cd)] built from the new nodes' inputs.
  const [c, d] = [new TextEncoder().encode("c"), new TextEncoder().encode("d")];
  const forged4 = new Uint8Array([...merkleRoot([a, b]), ...merkleRoot([c, d])]);
  assert.notEqual(hashHex(merkleRoot([a, b, c, d])), hashHex(merkleRoot([forged4])));
});

test("an odd node is not paired with itself: [a,b,c] and [a,b,c,c] have different roots", () => {
  const c = new TextEncoder().encode("c");
  assert.equal(hashHex(oldSchemeRoot([a, b, c])), hashHex(oldSchemeRoot([a, b, c, c])), "the old scheme's CVE-2012-2459 shape");
  assert.notEqual(hashHex(merkleRoot([a, b, c])), hashHex(merkleRoot([a, b, c, c])));
});

test("a block whose body is swapped for the 64-byte tx under the same header is BAD_MERKLE_ROOT", () => {
  const parent = DEVNET.genesis.header!;
  const timestampMs = parent.timestampMs + BigInt(DEVNET.blockIntervalMs); // height 1 is producer 1's, one interval after genesis
  const now = Number(timestampMs);
  const block = signBlock({ height: 1, prevHash: blockHash(parent), timestampMs, txs: [a, b] }, devnetProducerKey(1));
  const honest = validateBlock(block, parent, DEVNET, now);
  assert.equal(honest.ok, true, honest.ok ? "" : honest.detail);
  const swapped = { ...block, txs: [forged] };
  const r = validateBlock(swapped, parent, DEVNET, now);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, BlockInvalidReason.BAD_MERKLE_ROOT);
});
