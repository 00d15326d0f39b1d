import type { NetworkParams } from "./network-params.js";

/**
 * Bytes a signed header takes in an encoded Block, rounded up (the largest
 * is 188: tag, length, and height, hashes, timestamp, producer, signature).
 */
export const BLOCK_HEADER_RESERVE = 256;

/**
 * The largest transaction that fits a block of the network on its own: the
 * network's transaction size limit. The producer refuses larger ones from its
 * mempool, and gateways neither accept nor relay them.
 */
export function maxTxBytes(network: Pick<NetworkParams, "maxBlockBytes">): number {
  return network.maxBlockBytes - BLOCK_HEADER_RESERVE - 6;
}
