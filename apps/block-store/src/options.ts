import type { NetworkParams } from "@timenet/chain";
import { resolveServiceEndpoints, withDefaults, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";

/** Everything startBlockStore needs. Only NATS, the store path and the network are required; the rest default to BLOCK_STORE_DEFAULTS. */
export interface BlockStoreOptions extends ServiceEndpointOptions {
  /** LMDB directory of the chain. */
  dbPath: string;
  /** The network whose chain this is: its genesis is written to an empty store and checked against a full one. */
  network: NetworkParams;
  /** Most blocks in one answer to a peer's GetBlocks. Default 256. */
  serveMaxBlocks?: number;
  /** Most bytes of blocks in one answer to a peer's GetBlocks (at least one block is sent). Default 4 MiB. */
  serveMaxBytes?: number;
  /** Bytes per second of blocks served to one peer IP (a token bucket). Default 8 MiB/s. */
  servePeerRate?: number;
  /** Bytes one peer IP may be served at once after a quiet spell; at least serveMaxBytes, or a full answer never fits. Default 16 MiB. */
  servePeerBurst?: number;
  /** Bytes per second of blocks served to all peers together. Default 32 MiB/s. */
  serveGlobalRate?: number;
  /** Bytes all peers may be served at once. Default 64 MiB. */
  serveGlobalBurst?: number;
  /** Peers with a byte budget tracked at once (idle ones are forgotten first). Default 1024. */
  serveMaxPeers?: number;
  /** GetBlocks handed to the serving thread and not yet answered; more are refused. Default 64. */
  serveQueue?: number;
  /** The same, for one peer IP. Default 16. */
  serveQueuePerPeer?: number;
  /** Bytes of answers published and not yet taken by the NATS server; while above, GetBlocks are refused. Default 64 MiB. */
  serveMaxBacklog?: number;
  /**
   * Where answers to peers are read and encoded: "worker" (a thread of its
   * own, so serving never delays PutBlocks) or "main" (the store's thread,
   * as before; kept to measure the difference). Default "worker".
   */
  serveThread?: "worker" | "main";
  /**
   * How PutBlocks validates: "workers" (the stateless checks — signatures,
   * merkle roots, sizes — on worker threads, overlapping the commit of the
   * put before) or "sequential" (everything on the writer's thread, as
   * before; kept to measure the difference). Default "workers".
   */
  validation?: "workers" | "sequential";
  /** Validation worker threads; 0 means one per core (os.availableParallelism()). Default 0. */
  verifyThreads?: number;
  /** Chunks of blocks handed to the validation workers and not yet checked; beyond, a put is checked on the writer's thread. Default 64. */
  verifyQueue?: number;
  /** PutBlocks calls accepted and waiting for the writer (their blocks in memory); beyond, a put is refused with RESOURCE_EXHAUSTED and asked again. Default 32. */
  importQueue?: number;
  /** Most queued puts written by one LMDB transaction (group commit); 1 writes every put alone. Default 8. */
  groupCommitPuts?: number;
  /** How long a put that came before the put ending at its parent waits for it (puts sent together can arrive out of order); 0 answers it at once. Default 200 ms. */
  parentWaitMs?: number;
  /** How often the tip is re-published on chain.tip (it is also sent on every change). Default 5 s. */
  tipRepublishMs?: number;
  /** Most blocks kept aside on branches the fork choice does not prefer (oldest heights evicted first). Default 2048. */
  sideMaxBlocks?: number;
  /** Most bytes kept aside. Default 64 MiB. */
  sideMaxBytes?: number;
  /** Most blocks held in memory because they are early by our clock. Default 512. */
  holdMaxBlocks?: number;
  /** Most bytes held. Default 16 MiB. */
  holdMaxBytes?: number;
  /** Blocks further ahead of our clock than max_future_drift_ms + this are not held but answered TOO_EARLY. Default 5 min. */
  holdMaxAheadMs?: number;
  /** The clock validation compares block timestamps with. Default Date.now. */
  now?: () => number;
}

/** Every default of startBlockStore, in one place (the env schema reads them from here). */
export const BLOCK_STORE_DEFAULTS = {
  serveMaxBlocks: 256,
  serveMaxBytes: 4 * 1024 * 1024,
  servePeerRate: 8 * 1024 * 1024,
  servePeerBurst: 16 * 1024 * 1024,
  serveGlobalRate: 32 * 1024 * 1024,
  serveGlobalBurst: 64 * 1024 * 1024,
  serveMaxPeers: 1024,
  serveQueue: 64,
  serveQueuePerPeer: 16,
  serveMaxBacklog: 64 * 1024 * 1024,
  serveThread: "worker" as "worker" | "main",
  validation: "workers" as "workers" | "sequential",
  verifyThreads: 0,
  verifyQueue: 64,
  importQueue: 32,
  groupCommitPuts: 8,
  parentWaitMs: 200,
  tipRepublishMs: 5_000,
  sideMaxBlocks: 2048,
  sideMaxBytes: 64 * 1024 * 1024,
  holdMaxBlocks: 512,
  holdMaxBytes: 16 * 1024 * 1024,
  holdMaxAheadMs: 5 * 60_000,
  now: Date.now as () => number,
};

export type ResolvedBlockStoreOptions = typeof BLOCK_STORE_DEFAULTS & ResolvedServiceEndpoints & { dbPath: string; network: NetworkParams };

export function resolveBlockStoreOptions(o: BlockStoreOptions): ResolvedBlockStoreOptions {
  return {
    ...resolveServiceEndpoints(o, { node: "block-store", service: "block-store" }),
    ...withDefaults(BLOCK_STORE_DEFAULTS, o),
    dbPath: o.dbPath,
    network: o.network,
  };
}
