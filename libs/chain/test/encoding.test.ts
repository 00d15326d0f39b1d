import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { BlockHeaderSchema } from "@timenet/proto";
import { DEVNET, DEVNET_GENESIS_HASH, blockHash, hashHex, headerSigningBytes, merkleRoot, txHash } from "../src/index.js";

const sha256d = (b: Uint8Array): Buffer => createHash("sha256").update(createHash("sha256").update(b).digest()).digest();
/** merkleRoot(["tx-a", "tx-b", "tx-c"]), computed outside this code (node -e with node:crypto). */
const MERKLE_ABC = "4fcc714e7ee77dae1a54e7497744ec921112a67e52779549e051e1173bd6134b";
const fill = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

test("the devnet genesis hash is fixed (any change to the encoding or the genesis breaks this)", () => {
  assert.equal(hashHex(DEVNET_GENESIS_HASH), "1a872f679fba6230cfc4aea2adda68c2812c99d92f8e1fd572a4f10fb5418c84");
  assert.equal(hashHex(blockHash(DEVNET.genesis.header!)), hashHex(DEVNET_GENESIS_HASH));
  assert.deepEqual(
    DEVNET.producers.map(hashHex),
    [
      "959fed31c28ee566720ab4834f897ebd00c835091b9b75baaf0d9c531ffbedbd",
      "f777a122f251b15d16677d886309da9971572c154ef3c8f719979d6581e4ee72",
      "a6b7f23b2b8f22d33588c12edf34a217cdd6464d92e47396b2e168eaf3000482",
    ],
  );
});

test("headerSigningBytes is the fixed 112-byte layout", () => {
  const h = create(BlockHeaderSchema, {
    height: 0x01020304,
    prevHash: fill(0xaa),
    merkleRoot: fill(0xbb),
    timestampMs: 0x0102030405060708n,
    producerId: fill(0xcc),
    signature: new Uint8Array(64).fill(0xdd),
  });
  const bytes = headerSigningBytes(h);
  assert.equal(bytes.length, 112);
  const expected =
    "544e4831" + // "TNH1"
    "01020304" +
    "aa".repeat(32) +
    "bb".repeat(32) +
    "0102030405060708" +
    "cc".repeat(32);
  assert.equal(hashHex(bytes), expected);
  // The hash covers the signature, with its length byte.
  const withSig = Buffer.concat([bytes, Uint8Array.of(64), h.signature]);
  assert.equal(hashHex(blockHash(h)), sha256d(withSig).toString("hex"));
});

test("a header field of the wrong length is ERR_MALFORMED", () => {
  const good = { height: 1, prevHash: fill(0), merkleRoot: fill(0), timestampMs: 1n, producerId: fill(0) };
  for (const bad of [{ prevHash: fill(0).subarray(1) }, { merkleRoot: new Uint8Array(33) }, { producerId: new Uint8Array(0) }]) {
    const h = create(BlockHeaderSchema, { ...good, ...bad });
    assert.throws(() => headerSigningBytes(h), { name: "ChainError", code: "ERR_MALFORMED" });
  }
  assert.throws(() => blockHash(create(BlockHeaderSchema, { ...good, signature: new Uint8Array(63) })), {
    code: "ERR_MALFORMED",
    message: /signature is 63 bytes/,
  });
  assert.throws(() => headerSigningBytes(create(BlockHeaderSchema, { ...good, timestampMs: 1n << 64n })), { code: "ERR_MALFORMED" });
});

test("merkle root vectors (RFC 6962 with SHA-256d): 0 to 5 txs", () => {
  const [a, b, c, d, e] = ["tx-a", "tx-b", "tx-c", "tx-d", "tx-e"].map((s) => new TextEncoder().encode(s)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  assert.equal(hashHex(txHash(a)), sha256d(a).toString("hex"), "a tx's id is SHA-256d of its bytes, unchanged");
  const leaf = (tx: Uint8Array) => sha256d(Buffer.concat([Buffer.of(0), tx]));
  const node = (l: Buffer, r: Buffer) => sha256d(Buffer.concat([Buffer.of(1), l, r]));
  const [la, lb, lc, ld, le] = [leaf(a), leaf(b), leaf(c), leaf(d), leaf(e)];

  assert.equal(hashHex(merkleRoot([])), "00".repeat(32));
  assert.equal(hashHex(merkleRoot([a])), la.toString("hex"));
  assert.equal(hashHex(merkleRoot([a, b])), node(la, lb).toString("hex"));
  // Three: split at 2, the odd leaf is a subtree of its own (not paired with itself).
  assert.equal(hashHex(merkleRoot([a, b, c])), node(node(la, lb), lc).toString("hex"));
  const abcd = node(node(la, lb), node(lc, ld));
  assert.equal(hashHex(merkleRoot([a, b, c, d])), abcd.toString("hex"));
  assert.equal(hashHex(merkleRoot([a, b, c, d, e])), node(abcd, le).toString("hex"));
  // Fixed values, so a change of scheme cannot go unnoticed.
  assert.equal(hashHex(merkleRoot([a, b, c])), MERKLE_ABC);
});
