import type { NetworkParams } from "@timenet/chain";
import type { Logger } from "@timenet/telemetry";

/** Everything startBlockStore needs. Only NATS, the store path and the network are required; the rest have the defaults shown. */
export interface BlockStoreOptions {
  /** Name in every log line (`node`). Default "block-store". */
  node?: string;
  natsUrl: string;
  natsUser?: string;
  natsPass?: string;
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
  grpcHost?: string;
  /** Default 50054; 0 = ephemeral. */
  grpcPort?: number;
  metricsHost?: string;
  /** Default 9104; 0 = ephemeral. */
  metricsPort?: number;
  logger?: Logger;
  logLevel?: string;
  /** The clock validation compares block timestamps with. Default Date.now. */
  now?: () => number;
}

type Optional = "natsUser" | "natsPass" | "logger";
export type ResolvedBlockStoreOptions = Required<Omit<BlockStoreOptions, Optional>> & Pick<BlockStoreOptions, Optional>;

export const DEFAULT_MAX_REORG_DEPTH = 100;
export const DEFAULT_SERVE_MAX_BLOCKS = 256;
export const DEFAULT_SERVE_MAX_BYTES = 4 * 1024 * 1024;

export function resolveBlockStoreOptions(o: BlockStoreOptions): ResolvedBlockStoreOptions {
  return {
    node: o.node ?? "block-store",
    natsUrl: o.natsUrl,
    natsUser: o.natsUser,
    natsPass: o.natsPass,
    dbPath: o.dbPath,
    network: o.network,
    maxReorgDepth: o.maxReorgDepth ?? DEFAULT_MAX_REORG_DEPTH,
    serveMaxBlocks: o.serveMaxBlocks ?? DEFAULT_SERVE_MAX_BLOCKS,
    serveMaxBytes: o.serveMaxBytes ?? DEFAULT_SERVE_MAX_BYTES,
    tipRepublishMs: o.tipRepublishMs ?? 5_000,
    grpcHost: o.grpcHost ?? "127.0.0.1",
    grpcPort: o.grpcPort ?? 50054,
    metricsHost: o.metricsHost ?? "127.0.0.1",
    metricsPort: o.metricsPort ?? 9104,
    logger: o.logger,
    logLevel: o.logLevel ?? "info",
    now: o.now ?? Date.now,
  };
}
