import { atMost, bytes, durationMs, int, oneOf, parseConfig, serviceEnvSchema, str, type ConfigOf, type CrossCheck, type Env } from "@timenet/config";
import { BLOCK_STORE_DEFAULTS as D } from "./options.js";

/** The block-store's environment variables (the README's configuration table is generated from this). */
export const blockStoreEnvSchema = {
  ...serviceEnvSchema({ service: "block-store", grpcServices: "BlockStoreService" }),
  NETWORK: str({ description: "Network: `devnet` (built in), a name in deploy/networks/, or the path of a network JSON file", default: "devnet" }),
  STORE_DB_PATH: str({ description: "LMDB directory of the chain (keep it on a volume)", default: "data/blocks" }),
  SERVE_MAX_BLOCKS: int({ description: "Most blocks in one answer to a peer's GetBlocks", default: D.serveMaxBlocks, min: 1, max: 100_000 }),
  SERVE_MAX_BYTES: bytes({ description: "Most bytes of blocks in one answer to a peer's GetBlocks (also capped by NATS max_payload)", default: D.serveMaxBytes, min: 1024 }),
  SERVE_PEER_RATE: bytes({ description: "Bytes per second of blocks served to one peer IP (token bucket); beyond it GetBlocks are answered short or with no blocks", default: D.servePeerRate, min: 1024 }),
  SERVE_PEER_BURST: bytes({ description: "Bytes one peer IP may be served at once after a quiet spell (at least SERVE_MAX_BYTES)", default: D.servePeerBurst, min: 1024 * 1024 }),
  SERVE_GLOBAL_RATE: bytes({ description: "Bytes per second of blocks served to all peers together", default: D.serveGlobalRate, min: 1024 }),
  SERVE_GLOBAL_BURST: bytes({ description: "Bytes all peers together may be served at once (at least SERVE_PEER_BURST)", default: D.serveGlobalBurst, min: 1024 * 1024 }),
  SERVE_MAX_PEERS: int({ description: "Peers with a serving budget tracked at once (idle ones forgotten first; beyond, new peers are refused)", default: D.serveMaxPeers, min: 1, max: 1_000_000 }),
  SERVE_QUEUE: int({ description: "GetBlocks handed to the serving thread and not yet answered; beyond, refused with no blocks", default: D.serveQueue, min: 1, max: 10_000 }),
  SERVE_QUEUE_PER_PEER: int({ description: "The same for one peer IP (at most SERVE_QUEUE)", default: D.serveQueuePerPeer, min: 1, max: 10_000 }),
  SERVE_MAX_BACKLOG: bytes({ description: "Bytes of answers published and not yet taken by the NATS server; while above, GetBlocks are refused", default: D.serveMaxBacklog, min: 1024 * 1024 }),
  STORE_VALIDATION: oneOf(["workers", "sequential"], { description: "Where PutBlocks checks signatures, merkle roots and sizes: `workers` (worker threads, overlapping the commit of the put before) or `sequential` (the writer's thread, the old path)", default: D.validation }),
  STORE_VERIFY_THREADS: int({ description: "Validation worker threads (0: one per core)", default: D.verifyThreads, min: 0, max: 256 }),
  STORE_GROUP_COMMIT_PUTS: int({ description: "Most queued PutBlocks calls written by one LMDB transaction (group commit: one sync for several puts); 1 writes every put alone", default: D.groupCommitPuts, min: 1, max: 64 }),
  STORE_PARENT_WAIT: durationMs({ description: "How long a PutBlocks call that came before the call ending at its parent waits for it (calls sent together can arrive out of order); 0 answers it PARENT_UNKNOWN at once", default: D.parentWaitMs, min: 0, max: 10_000 }),
  STORE_IMPORT_QUEUE: int({ description: "PutBlocks calls waiting for the writer; beyond, a put is refused (RESOURCE_EXHAUSTED) and its caller asks again", default: D.importQueue, min: 1, max: 10_000 }),
  STORE_VERIFY_QUEUE: int({ description: "Chunks of blocks waiting for the validation workers; beyond, a put is checked on the writer's thread", default: D.verifyQueue, min: 1, max: 10_000 }),
  TIP_REPUBLISH: durationMs({ description: "How often the tip is re-published on chain.tip (also on every change)", default: D.tipRepublishMs, min: 100 }),
  STORE_SIDE_MAX_BLOCKS: int({ description: "Most blocks kept aside on branches the fork choice does not prefer (lowest heights evicted first)", default: D.sideMaxBlocks, min: 1 }),
  STORE_SIDE_MAX_BYTES: bytes({ description: "Most bytes of blocks kept aside", default: D.sideMaxBytes, min: 1024 * 1024 }),
  STORE_HOLD_MAX_BLOCKS: int({ description: "Most blocks held in memory because their timestamps are ahead of our clock", default: D.holdMaxBlocks, min: 1 }),
  STORE_HOLD_MAX_BYTES: bytes({ description: "Most bytes of early blocks held", default: D.holdMaxBytes, min: 1024 * 1024 }),
  STORE_HOLD_MAX_AHEAD: durationMs({ description: "Blocks further ahead of our clock than the drift bound plus this are answered TOO_EARLY, not held", default: D.holdMaxAheadMs, min: 1000 }),
};

/** Values each valid alone that do not work together. */
export const blockStoreEnvChecks: Array<CrossCheck<typeof blockStoreEnvSchema>> = [
  // A budget smaller than one full answer would cut every full answer short.
  atMost("SERVE_MAX_BYTES", "SERVE_PEER_BURST"),
  atMost("SERVE_PEER_BURST", "SERVE_GLOBAL_BURST"),
  atMost("SERVE_QUEUE_PER_PEER", "SERVE_QUEUE"),
];

export type BlockStoreEnv = ConfigOf<typeof blockStoreEnvSchema>;

export function parseBlockStoreEnv(env: Env = process.env): BlockStoreEnv {
  return parseConfig(blockStoreEnvSchema, env, blockStoreEnvChecks);
}
