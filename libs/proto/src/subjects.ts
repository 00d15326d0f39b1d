// NATS subject names, as documented in proto/timenet/p2p/v1/bus.proto.
// Kept beside the generated code so every service uses the same strings.

/** Kinds of post-handshake peer message published on `p2p.in.<kind>`. */
export const PEER_MESSAGE_KINDS = ["blocks", "new_block", "tx", "peers", "get_blocks", "get_peers"] as const;
export type PeerMessageKind = (typeof PEER_MESSAGE_KINDS)[number];

export const Subjects = {
  peerIn: (kind: PeerMessageKind) => `p2p.in.${kind}` as const,
  peerOutSend: "p2p.out.send",
  peerOutBroadcast: "p2p.out.broadcast",
  peerRequest: "p2p.request",
  offence: "p2p.offence",
  dialFailed: "p2p.peer.dial_failed",
  /** See proto/timenet/registry/v1/registry.proto. */
  registryDial: "registry.dial",
  /** See proto/timenet/chain/v1/block_store.proto. */
  chainTip: "chain.tip",
  /** See proto/timenet/sync/v1/sync.proto. */
  syncBatch: "sync.batch",
  syncWorkerHeartbeat: "sync.worker.heartbeat",
} as const;

/**
 * State published as NATS JetStream KV buckets, each written by one service
 * (see proto/timenet/p2p/v1/state.proto and proto/timenet/registry/v1/registry.proto).
 */
export const Buckets = {
  /** The gateway's connection set: keys `run` and `c.<ip>`. */
  connections: "P2P_CONNECTIONS",
  /** The registry's admission policy: key `policy`. */
  admission: "REGISTRY_ADMISSION",
  /** chain-sync's planner lease among its replicas: key `planner` (see proto/timenet/sync/v1/sync.proto). */
  syncLeader: "SYNC_LEADER",
} as const;

/** JetStream streams other than KV buckets, with their durable consumers. */
export const Streams = {
  /** chain-sync's work queue of `sync.batch` messages, taken by every replica. */
  syncBatches: { name: "SYNC_BATCHES", consumer: "sync-workers", subject: Subjects.syncBatch },
} as const;

export const StateKeys = {
  gatewayRun: "run",
  admissionPolicy: "policy",
  /** Every connection entry (a KV watch filter). */
  allConnections: "c.>",
  /** The entry of one peer IP: KV keys allow `.` but not `:`, so IPv6 colons become `_`. */
  connection: (ip: string) => `c.${ip.replaceAll(":", "_")}`,
  /** The IP a connection key names (as written, not yet validated), or undefined for another key. */
  ipOf: (key: string): string | undefined => (key.startsWith("c.") ? key.slice(2).replaceAll("_", ":") : undefined),
} as const;
