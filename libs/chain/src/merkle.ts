import { sha256d } from "./block-hash.js";

/** A transaction's id: SHA-256d of its bytes. Not a merkle leaf (see merkleRoot). */
export function txHash(tx: Uint8Array): Uint8Array {
  return sha256d(tx);
}

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/**
 * The merkle root of a block's txs, built as RFC 6962's Merkle Tree Hash
 * with SHA-256d:
 *
 *   leaf(tx)      = SHA-256d(0x00 || tx)
 *   node(l, r)    = SHA-256d(0x01 || l || r)
 *   root([])      = 32 zero bytes (so genesis, with no txs, keeps its hash)
 *   root([tx])    = leaf(tx)
 *   root(txs[n])  = node(root(txs[0:k]), root(txs[k:n])), k the largest power of two < n
 *
 * The different prefixes keep a leaf from ever hashing like an interior node:
 * under the old scheme (leaves = tx ids, nodes = SHA-256d(l || r)) the block
 * [a, b] and the block whose only tx is the 64 bytes txHash(a) || txHash(b)
 * had the same root, so a body could be swapped under a signed header.
 *
 * An odd node is never paired with itself (Bitcoin's way, which let [a,b,c]
 * and [a,b,c,c] share a root, CVE-2012-2459): the tree is split at the largest
 * power of two below n, so the last subtree is simply smaller, and every list
 * of txs has its own shape.
 */
export function merkleRoot(txs: readonly Uint8Array[]): Uint8Array {
  if (txs.length === 0) return new Uint8Array(32);
  const leaves = txs.map((tx) => sha256d(LEAF_PREFIX, tx));
  return subtreeRoot(leaves, 0, leaves.length);
}

/** The root over leaves[from, to) (to - from >= 1); recursion depth is log2 of the count. */
function subtreeRoot(leaves: readonly Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from;
  if (n === 1) return leaves[from]!;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return sha256d(NODE_PREFIX, subtreeRoot(leaves, from, from + k), subtreeRoot(leaves, from + k, to));
}
