// Builds valid devnet chains for the tests: producers take turns by height
// (like expectedProducer), signed with the devnet's public producer keys.
import { blockHash, devnetProducerKey, DEVNET, earliestTimestampMs, rankAt, signBlock } from "@timenet/chain";
import type { Block } from "@timenet/proto";

const keys = DEVNET.producers.map((_, i) => devnetProducerKey(i));

/** The block a run is built on. */
export interface ChainEnd {
  height: number;
  hash: Uint8Array;
  timestampMs: bigint;
}

export function endOf(block: Block): ChainEnd {
  const h = block.header!;
  return { height: h.height, hash: blockHash(h), timestampMs: h.timestampMs };
}

export const GENESIS: ChainEnd = endOf(DEVNET.genesis);

export interface BuildOptions {
  /** Part of every tx: two runs from one parent with different salts are two forks. */
  salt?: string;
  /** Extra bytes per block (one more tx), to make large transactions. */
  padBytes?: number;
  /** Every block by this one devnet producer (a rogue key's branch), each at the earliest timestamp its turn allows. */
  producer?: number;
  /** Added to every block's timestamp (blocks from a clock ahead of ours). */
  lateByMs?: number;
}

/** `count` valid blocks after `from`, by their heights' own producers one block interval apart (or see `producer`). */
export function buildChain(from: ChainEnd, count: number, o: BuildOptions = {}): Block[] {
  const out: Block[] = [];
  let parent = from;
  for (let i = 0; i < count; i++) {
    const height = parent.height + 1;
    const txs = [new TextEncoder().encode(`tx ${o.salt ?? "main"} ${height}`)];
    if (o.padBytes) txs.push(new Uint8Array(o.padBytes).fill(height % 251));
    const index = o.producer ?? height % keys.length;
    const timestampMs = earliestTimestampMs(parent.timestampMs, rankAt(height, index, DEVNET), DEVNET) + BigInt(o.lateByMs ?? 0);
    const block = signBlock({ height, prevHash: parent.hash, timestampMs, txs }, keys[index]!);
    out.push(block);
    parent = endOf(block);
  }
  return out;
}

export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
