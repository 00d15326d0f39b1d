import { test } from "node:test";
import assert from "node:assert/strict";
import { CachedVerifier, NodeKey, verifySignature } from "../src/index.js";

test("CachedVerifier answers what verifySignature answers, for good and bad signatures and keys, across cache clears", () => {
  const keys = [NodeKey.generate(), NodeKey.generate(), NodeKey.generate()];
  const data = new TextEncoder().encode("a header");
  const cached = new CachedVerifier(2); // smaller than the key count: the cache empties itself
  const smallOrder = new Uint8Array(32); // y = 0: an order-4 point, never a key
  const cases: Array<[Uint8Array, Uint8Array]> = [];
  for (const k of keys) {
    const sig = k.sign(data);
    const flipped = new Uint8Array(sig);
    flipped[0]! ^= 1;
    cases.push([k.publicKey, sig], [k.publicKey, flipped], [k.publicKey, sig.subarray(0, 63)], [smallOrder, sig]);
  }
  cases.push([keys[0]!.publicKey, keys[1]!.sign(data)]);
  for (let round = 0; round < 2; round++) {
    for (const [pub, sig] of cases) assert.equal(cached.verify(pub, data, sig), verifySignature(pub, data, sig));
  }
  assert.equal(cached.verify(keys[2]!.publicKey, data, keys[2]!.sign(data)), true);
  assert.equal(cached.verify(keys[2]!.publicKey, data, keys[1]!.sign(data)), false);
});
