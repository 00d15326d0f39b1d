import type { NetworkParams } from "@timenet/chain";
import { resolveServiceEndpoints, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";

/** Everything startBlockStore needs. Only NATS, the store path and the network are required; the rest have the defaults shown. */
export interface BlockStoreOptions extends ServiceEndpointOptions {
  /** LMDB directory of the chain. */
  dbPath: string;
  /** The network whose chain this is: its genesis is written to an empty store and checked against a full one. */
  network: NetworkParams;
  /** Deepest fork (main-chain blocks replaced) that is switched to. Default 100. */
  maxReorgDepth?: number;
  /** Most blocks in one answer to a peer's GetBlocks. Default 256. */
  serveMaxBlocks?: number;
  /** Most bytes of blocks in one answer to a peer's GetBlocks (at least one block is sent). Default 4 MiB. */
  serveMaxBytes?: number;
  /** How often the tip is re-published on chain.tip (it is also sent on every change). Default 5 s. */
  tipRepublishMs?: number;
  /** The clock validation compares block timestamps with. Default Date.now. */
  now?: () => number;
}

export type ResolvedBlockStoreOptions = Required<Omit<BlockStoreOptions, keyof ServiceEndpointOptions>> & ResolvedServiceEndpoints;

export const DEFAULT_MAX_REORG_DEPTH = 100;
export const DEFAULT_SERVE_MAX_BLOCKS = 256;
export const DEFAULT_SERVE_MAX_BYTES = 4 * 1024 * 1024;

export function resolveBlockStoreOptions(o: BlockStoreOptions): ResolvedBlockStoreOptions {
  return {
    ...resolveServiceEndpoints(o, { node: "block-store", grpcPort: 50054, metricsPort: 9104 }),
    dbPath: o.dbPath,
    network: o.network,
    maxReorgDepth: o.maxReorgDepth ?? DEFAULT_MAX_REORG_DEPTH,
    serveMaxBlocks: o.serveMaxBlocks ?? DEFAULT_SERVE_MAX_BLOCKS,
    serveMaxBytes: o.serveMaxBytes ?? DEFAULT_SERVE_MAX_BYTES,
    tipRepublishMs: o.tipRepublishMs ?? 5_000,
    now: o.now ?? Date.now,
  };
}
