import type { Rate } from "@timenet/rate-limit";
import { DEFAULT_ACCEPT_RATES, type AcceptRates } from "./accept-rate-limit.js";
import { DEVNET } from "@timenet/chain";
import { FIELD_LIMITS } from "@timenet/wire";
import { PORT_PLAN } from "@timenet/config";
import type { NodeKey } from "@timenet/node-key";
import { systemWallClock, type WallClock } from "./clock.js";
import type { SourceIpWatchSettings } from "./source-ip-watch.js";
import { resolveServiceEndpoints, withDefaults, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";

/**
 * Everything startGateway needs. Only the identity and NATS are required; the
 * rest default to GATEWAY_DEFAULTS (node "gateway", the port plan's ports).
 */
export interface GatewayOptions extends ServiceEndpointOptions {
  /** P2P listen address. Default "0.0.0.0". */
  listenHost?: string;
  /** P2P listen port; 0 = ephemeral (tests). Default: the port plan's. */
  listenPort?: number;
  /** Port announced in Hello; default: the bound listen port. */
  announcePort?: number;
  /** Local address outbound sockets bind to. Default: listenHost when it is a specific address. */
  dialLocalAddress?: string;
  /** Detection of a proxy that hides peers' source IPs (SourceIpWatchSettings; defaults: the container's default gateway, RFC 1918/ULA, 3 peers). */
  sourceIpWatch?: SourceIpWatchSettings;
  /** IPs that get their own `peer` metrics label (the registry's allow-list adds to them). */
  namedPeers?: string[];
  network?: string;
  genesisHash?: Uint8Array;
  /** Oldest protocol version accepted from peers. Default 1. */
  minProtocolVersion?: number;
  softwareVersion?: string;
  nodeKey: NodeKey;
  /** Default 10 s. */
  pingIntervalMs?: number;
  /** Consecutive unanswered pings that close a connection. Default 3. */
  missedPongs?: number;
  /** Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Default 8 MiB. */
  maxFrameBytes?: number;
  /** The network's block size and transactions-per-block limits: the price of Tx frames and of answers to our GetBlocks. Default: the devnet's. */
  maxBlockBytes?: number;
  maxTxs?: number;
  /** Per-connection send buffer cap. Default 32 MiB. */
  maxSendQueueBytes?: number;
  /** Default 5 s. */
  dialTimeoutMs?: number;
  /** Per-peer limits by message kind; excess messages are dropped and counted. Defaults in DEFAULT_RATE_LIMITS. */
  rateLimits?: Partial<RateLimits>;
  /** How long the gateway waits at start for the registry's admission policy. Default 2 s. */
  admissionWaitMs?: number;
  /** Our tip is announced to peers (NewBlock) only while its timestamp is this fresh: not during catch-up. Default 60 s. */
  announceMaxAgeMs?: number;
  /**
   * Our new tip's block is pushed with its announcement to peers that have not
   * announced it to us when its encoding is at most this many bytes (at most
   * the protocol's 64 KiB, FIELD_LIMITS.pushedBlockBytes; 0: only announced).
   * Default 64 KiB.
   */
  blockPushMaxBytes?: number;
  /**
   * How many of the peers that could take our new block get it pushed: at
   * least this many, and ⌈√n⌉ of n when that is more (as Ethereum's devp2p
   * spreads new blocks); the others get the announcement alone and fetch it
   * if they still need it. Each node then receives a block from a few peers,
   * not from every peer that stored it first (up to MAX_CONNECTIONS copies).
   * Default 8: a six-node network pushes to every peer.
   */
  blockPushFanout?: number;
  /** Open peer sockets of any state. Default 128. */
  maxConnections?: number;
  /**
   * An inbound socket still in its handshake after this long is closed for a
   * newcomer when every slot is taken (MAX_CONNECTIONS, or the policy's
   * inbound limit), the longest-handshaking first: an honest handshake takes a
   * few round trips, a slowloris one holds its slot until handshakeTimeoutMs.
   * Default 2 s.
   */
  handshakeEvictableAfterMs?: number;
  /** Inbound sockets from one IP in any state (our dials to it do not count); more are refused at accept. Default 4. */
  maxSocketsPerIp?: number;
  /** New inbound sockets per IP and per subnet (allow-listed IPs exempt). Default DEFAULT_ACCEPT_RATES: 5/s:10 per IP, 20/s:40 per /24. */
  acceptRates?: Partial<AcceptRates>;
  /** Tx hashes (relay-once) and peer+block announcements (publish-once) remembered. Default 100 000. */
  seenCacheSize?: number;
  /** Default and cap for p2p.request timeouts. Default 10 s / 60 s. */
  peerRequestTimeoutMs?: number;
  maxPeerRequestTimeoutMs?: number;
  /** Requests waiting for a response on one connection. Default 256. */
  maxPendingRequests?: number;
  /**
   * GetBlocks asked of one peer through p2p.request and not yet answered,
   * for all local askers (every chain-sync replica) together; beyond, the
   * asker is told TOO_MANY_REQUESTS (about us, not the peer). Default 16:
   * Bitcoin Core keeps 16 blocks in flight per peer, CometBFT 20 requests.
   */
  maxBlockRequestsPerPeer?: number;
  /**
   * How fast we send GetBlocks to one peer through p2p.request, for every
   * local asker together. A peer skips GetBlocks beyond its
   * RATE_LIMIT_GET_BLOCKS unanswered (then they time out, and a timeout is
   * held against it), so we keep under the protocol's default there
   * (20/s:200) with a margin. Beyond, the asker is told TOO_MANY_REQUESTS
   * at once. Default DEFAULT_GET_BLOCKS_PACE: 16/s:160.
   */
  getBlocksPace?: Rate;
  /**
   * How fast our new tips go to one peer with their block (pushes); beyond,
   * as announcements alone. Kept under the protocol's default inbound limit
   * (RATE_LIMIT_PUSHES 2/s:8), over which a peer skips a push unread and so
   * never hears that announcement. Default DEFAULT_PUSH_PACE: 1.6/s:6.
   */
  pushPace?: Rate;
  /** How long a closing socket may take to flush its Goodbye. Default 2 s. */
  closeGraceMs?: number;
  /**
   * |our clock minus the median of our peers'| above which our clock is
   * suspect (a metric, a warning, `timenetctl status`; never a peer's
   * offence). Default 5 s: well under the network's 15 s bound on block
   * timestamps in the future.
   */
  clockWarnOffsetMs?: number;
  /** Peers whose Hello timestamps are needed to judge our clock. Default 3. */
  clockMinPeers?: number;
  /** Our wall clock (Hello timestamps, the clock offset). Default Date.now; tests run a gateway with a wrong one. */
  wallClock?: WallClock;
}

/** Token-bucket limits per peer and kind, and how many drops make an offence. */
export interface RateLimits {
  getBlocks: Rate;
  getPeers: Rate;
  ping: Rate;
  /** new_block, tx, and unsolicited blocks/peers/unknown kinds. */
  gossip: Rate;
  /** Bytes (on the wire) of those same messages: a peer is limited by what it costs, not only by how often it sends. */
  gossipBytes: Rate;
  /**
   * Bytes of those same messages (skipped ones included) from all peers
   * together: beyond it, the peers sending more than a fair share of it are
   * not read for a while (never an offence). See InboundByteBudget.
   */
  nodeBytes: Rate;
  /**
   * NewBlocks that carry their block (pushes, beyond the 1 KiB an announcement
   * takes), on top of the gossip limits. Over it a push is skipped unread and
   * never counts as abuse: an honest peer pushes once per tip change, and a
   * network with a short block interval or a branch race may push faster
   * than this node expects; its blocks are still fetched.
   */
  pushes: Rate;
  /** Drops tolerated before they count as sustained abuse (one RATE_LIMIT offence per emptied bucket). */
  abuse: Rate;
}

/**
 * A syncing peer asks for 256-block batches a few at a time: 20/s with a
 * burst of 200 is far above that and far below a flood. Pings come every
 * 10 s by default. A peer exchange is asked every few minutes.
 */
/** Our own pace of GetBlocks towards one peer: 80 % of the default inbound limit (below), for jitter. */
export const DEFAULT_GET_BLOCKS_PACE: Rate = { count: 16, periodMs: 1_000, burst: 160 };
/**
 * Our own pace of pushes (NewBlock with its block) towards one peer: 1.6 a
 * second, six at once, under the default inbound `pushes` limit (2/s:8). A
 * push the peer skips over its limit is skipped unread, announcement and all;
 * beyond this pace the peer gets the announcement alone and asks if it wants.
 */
export const DEFAULT_PUSH_PACE: Rate = { count: 1.6, periodMs: 1_000, burst: 6 };

export const DEFAULT_RATE_LIMITS: RateLimits = {
  getBlocks: { count: 20, periodMs: 1_000, burst: 200 },
  getPeers: { count: 1, periodMs: 10_000, burst: 5 },
  ping: { count: 1, periodMs: 1_000, burst: 10 },
  gossip: { count: 200, periodMs: 1_000, burst: 1_000 },
  // Four full-size transactions a second, sixteen at once: far above what a
  // producer can put in blocks, far below what fills a send queue.
  gossipBytes: { count: 4 * 1024 * 1024, periodMs: 1_000, burst: 16 * 1024 * 1024 },
  // Two peers at their full gossip rate, or a hundred 64 KiB pushes a
  // second: bounds what strangers make us decrypt whatever their number,
  // and the burst what they take at once.
  nodeBytes: { count: 8 * 1024 * 1024, periodMs: 1_000, burst: 16 * 1024 * 1024 },
  // A push is decoded, checked and handed to chain-sync: up to 64 KiB of work
  // each. Two a second, eight at once, is a new block every 0.5 s from every
  // peer; a flood of 64 KiB pushes within the byte budget (64 a second) is
  // cut to what an honest peer sends.
  pushes: { count: 2, periodMs: 1_000, burst: 8 },
  abuse: { count: 100, periodMs: 60_000, burst: 200 },
};

/** Every default of startGateway, in one place (the env schema reads them from here). */
export const GATEWAY_DEFAULTS = {
  listenHost: "0.0.0.0",
  listenPort: PORT_PLAN.p2p as number,
  namedPeers: [] as string[],
  network: "devnet",
  genesisHash: DEVNET.genesisHash,
  minProtocolVersion: 2,
  softwareVersion: "dev",
  pingIntervalMs: 10_000,
  missedPongs: 3,
  handshakeTimeoutMs: 10_000,
  maxFrameBytes: 8 * 1024 * 1024,
  maxBlockBytes: DEVNET.maxBlockBytes,
  maxTxs: DEVNET.maxTxs,
  maxSendQueueBytes: 32 * 1024 * 1024,
  dialTimeoutMs: 5_000,
  admissionWaitMs: 2_000,
  announceMaxAgeMs: 60_000,
  blockPushMaxBytes: FIELD_LIMITS.pushedBlockBytes,
  blockPushFanout: 8,
  maxConnections: 128,
  maxSocketsPerIp: 4,
  handshakeEvictableAfterMs: 2_000,
  seenCacheSize: 100_000,
  peerRequestTimeoutMs: 10_000,
  maxPeerRequestTimeoutMs: 60_000,
  maxPendingRequests: 256,
  maxBlockRequestsPerPeer: 16,
  getBlocksPace: DEFAULT_GET_BLOCKS_PACE,
  pushPace: DEFAULT_PUSH_PACE,
  closeGraceMs: 2_000,
  clockWarnOffsetMs: 5_000,
  clockMinPeers: 3,
  wallClock: systemWallClock,
};

export type ResolvedGatewayOptions = typeof GATEWAY_DEFAULTS &
  ResolvedServiceEndpoints &
  Pick<GatewayOptions, "dialLocalAddress" | "announcePort"> & { sourceIpWatch: SourceIpWatchSettings; nodeKey: NodeKey; rateLimits: RateLimits; acceptRates: AcceptRates };

export function resolveGatewayOptions(o: GatewayOptions): ResolvedGatewayOptions {
  const d = withDefaults(GATEWAY_DEFAULTS, o);
  return {
    ...resolveServiceEndpoints(o, { node: "gateway", service: "p2p-gateway" }),
    ...d,
    announcePort: o.announcePort,
    dialLocalAddress: o.dialLocalAddress ?? (d.listenHost === "0.0.0.0" || d.listenHost === "::" ? undefined : d.listenHost),
    sourceIpWatch: o.sourceIpWatch ?? {},
    nodeKey: o.nodeKey,
    rateLimits: { ...DEFAULT_RATE_LIMITS, ...o.rateLimits },
    acceptRates: { ...DEFAULT_ACCEPT_RATES, ...o.acceptRates },
  };
}
