import { sha256d } from "./block-hash.js";

/** A transaction's id: SHA-256d of its bytes. */
export function txHash(tx: Uint8Array): Uint8Array {
  return sha256d(tx);
}

/**
 * Bitcoin-style merkle root: the leaves are the tx hashes; each level hashes
 * pairs as SHA-256d(left || right), an odd last node paired with itself,
 * until one node is left. No txs: 32 zero bytes. One tx: its hash.
 */
export function merkleRoot(txs: readonly Uint8Array[]): Uint8Array {
  if (txs.length === 0) return new Uint8Array(32);
  let level = txs.map(txHash);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      next.push(sha256d(left, level[i + 1] ?? left));
    }
    level = next;
  }
  return level[0]!;
}
