import type { NetworkParams } from "@timenet/chain";
import type { NodeKey } from "@timenet/node-key";
import { grpcAddress } from "@timenet/config";
import { resolveServiceEndpoints, withDefaults, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";

/** Where the producer's key comes from: a key itself, a key file (created when missing), or a public devnet key. */
export type ProducerKeySource = NodeKey | { file: string } | { devnetIndex: number };

/** Everything startBlockProducer needs. Only NATS, the network and the key are required; the rest default to BLOCK_PRODUCER_DEFAULTS. */
export interface BlockProducerOptions extends ServiceEndpointOptions {
  network: NetworkParams;
  key: ProducerKeySource;
  /** The block-store's gRPC address. Default 127.0.0.1:50054. */
  blockStoreGrpc?: string;
  /** Mempool bounds. Default 10000 transactions and 64 MiB. */
  mempoolMaxTxs?: number;
  mempoolMaxBytes?: number;
  /** Deadline of each call to the block-store. Default 5 s. */
  storeDeadlineMs?: number;
  /** How long to wait before asking the block-store again when it did not answer. Default: the network's block interval, at most 1 s. */
  retryMs?: number;
  /** Most blocks read back from the store to take their txs out of the mempool when the tip jumps. Default 64. */
  evictionDepth?: number;
  /** The clock turns and block timestamps come from. Default Date.now. */
  now?: () => number;
}

/** Every default of startBlockProducer, in one place (the env schema reads them from here). */
export const BLOCK_PRODUCER_DEFAULTS = {
  blockStoreGrpc: grpcAddress("block-store"),
  mempoolMaxTxs: 10_000,
  mempoolMaxBytes: 64 * 1024 * 1024,
  storeDeadlineMs: 5_000,
  evictionDepth: 64,
  now: Date.now as () => number,
};

export type ResolvedBlockProducerOptions = typeof BLOCK_PRODUCER_DEFAULTS &
  ResolvedServiceEndpoints & { network: NetworkParams; key: ProducerKeySource; retryMs: number };

export function resolveBlockProducerOptions(o: BlockProducerOptions): ResolvedBlockProducerOptions {
  return {
    ...resolveServiceEndpoints(o, { node: "block-producer", service: "block-producer" }),
    ...withDefaults(BLOCK_PRODUCER_DEFAULTS, o),
    network: o.network,
    key: o.key,
    // The block interval is a rule of the network (the schedule is checked by every node), not a setting.
    retryMs: o.retryMs ?? Math.min(o.network.blockIntervalMs, 1_000),
  };
}
