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
  peerConnected: "p2p.peer.connected",
  peerDisconnected: "p2p.peer.disconnected",
  offence: "p2p.offence",
  dialFailed: "p2p.peer.dial_failed",
  /** See proto/timenet/registry/v1/registry.proto. */
  registryDial: "registry.dial",
  admissionPolicy: "registry.admission",
  admissionPolicyGet: "registry.admission.get",
  /** See proto/timenet/chain/v1/block_store.proto. */
  chainTip: "chain.tip",
  /** See proto/timenet/sync/v1/sync.proto. */
  syncBatch: "sync.batch",
  syncWorkerHeartbeat: "sync.worker.heartbeat",
} as const;
