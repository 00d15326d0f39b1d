import { atMost, bytes, custom, durationMs, int, list, optional, parseConfig, serviceEnvSchema, str, type ConfigOf, type CrossCheck, type Env } from "@timenet/config";
import { normalizeIp } from "@timenet/net-address";
import { FIELD_LIMITS } from "@timenet/wire";
import { formatRate, parseRate, type Rate } from "@timenet/rate-limit";
import { DEFAULT_GET_BLOCKS_PACE, DEFAULT_PUSH_PACE, DEFAULT_RATE_LIMITS, GATEWAY_DEFAULTS as D } from "./options.js";
import { DEFAULT_ACCEPT_RATES } from "./accept-rate-limit.js";

const rate = (description: string, def: Rate) =>
  custom({ description: `${description}: count/period:burst`, default: def, expected: "a rate such as 20/s:200 (count/period:burst)", parse: parseRate, show: formatRate });

const ip = (description: string) =>
  optional(custom({ description, expected: "an IPv4 or IPv6 address", parse: (raw) => normalizeIp(raw) }));

/** The gateway's environment variables (the README's configuration table is generated from this). */
export const gatewayEnvSchema = {
  ...serviceEnvSchema({ service: "p2p-gateway", grpcServices: "GatewayService" }),
  P2P_HOST: str({ description: "Address the P2P listener binds", default: D.listenHost }),
  P2P_PORT: int({ description: "P2P listen port (the only public port)", default: D.listenPort, min: 1, max: 65535 }),
  DIAL_LOCAL_ADDRESS: ip("Local address outbound sockets bind to (default: P2P_HOST when specific)"),
  NAMED_PEERS: list({ description: "Peer IPs that get their own `peer` metrics label (the registry's ALLOW_LIST adds to them)", default: D.namedPeers, itemExpected: "IP addresses", item: (s) => normalizeIp(s) }),
  NETWORK: str({ description: "Network parameters checked in every Hello: `devnet` or a JSON file (deploy/networks/<name>.json)", default: D.network }),
  GENESIS_HASH: optional(custom({
    description: "Override of the network's genesis hash (64 hex; tests and recovery only)",
    expected: "64 hexadecimal characters",
    parse: (raw) => {
      if (!/^[0-9a-fA-F]{64}$/.test(raw)) throw new Error("bad");
      return Buffer.from(raw, "hex");
    },
    show: (b) => Buffer.from(b).toString("hex").slice(0, 16) + "…",
  })),
  NODE_KEY_FILE: str({ description: "ed25519 node key (created on first start; keep it on a volume)", default: "data/node.key" }),
  PING_INTERVAL: durationMs({ description: "Ping period on every connection", default: D.pingIntervalMs, min: 10 }),
  MISSED_PONGS: int({ description: "Consecutive unanswered pings that close a connection", default: D.missedPongs, min: 1, max: 100 }),
  HANDSHAKE_TIMEOUT: durationMs({ description: "Time allowed for the Noise handshake, whose messages carry the Hellos", default: D.handshakeTimeoutMs, min: 10 }),
  MAX_FRAME_BYTES: bytes({ description: "Largest accepted frame", default: D.maxFrameBytes, min: 1024, max: 256 * 1024 * 1024 }),
  MAX_SEND_QUEUE: bytes({ description: "Per-connection send buffer; overflow closes the connection", default: D.maxSendQueueBytes, min: 64 * 1024 }),
  DIAL_TIMEOUT: durationMs({ description: "TCP connect timeout", default: D.dialTimeoutMs, min: 10 }),
  MAX_CONNECTIONS: int({ description: "Open peer sockets of any state", default: D.maxConnections, min: 1 }),
  HANDSHAKE_EVICTABLE_AFTER: durationMs({
    description: "An inbound socket still in its handshake after this long is closed for a newcomer when every slot (MAX_CONNECTIONS, or the registry's MAX_INBOUND) is taken: a slowloris stranger cannot hold a slot an honest peer reconnecting needs",
    default: D.handshakeEvictableAfterMs,
    min: 0,
  }),
  MAX_SOCKETS_PER_IP: int({ description: "Inbound sockets from one IP (handshaking included; our own dials to it do not count); more are refused at accept", default: D.maxSocketsPerIp, min: 2 }),
  GOSSIP_SEEN_CACHE: int({ description: "Tx hashes (relayed once) and peer+block announcements (published once) remembered", default: D.seenCacheSize, min: 100 }),
  PEER_REQUEST_TIMEOUT: durationMs({ description: "Default timeout of p2p.request", default: D.peerRequestTimeoutMs, min: 10 }),
  MAX_BLOCK_REQUESTS_PER_PEER: int({ description: "GetBlocks out to one peer at once for all local sync replicas together; beyond, p2p.request answers TOO_MANY_REQUESTS", default: D.maxBlockRequestsPerPeer, min: 1, max: 256 }),
  ACCEPT_RATE_PER_IP: rate("New inbound sockets per remote IP, checked at accept (allow-listed IPs exempt)", DEFAULT_ACCEPT_RATES.perIp),
  ACCEPT_RATE_PER_SUBNET: rate("New inbound sockets per /24 (IPv6 /64), checked at accept (allow-listed IPs exempt)", DEFAULT_ACCEPT_RATES.perSubnet),
  RATE_LIMIT_GET_BLOCKS: rate("GetBlocks requests per peer", DEFAULT_RATE_LIMITS.getBlocks),
  GET_BLOCKS_PACE: rate("GetBlocks we send one peer, all local sync replicas together (keep it under the peers' RATE_LIMIT_GET_BLOCKS, or they skip ours)", DEFAULT_GET_BLOCKS_PACE),
  RATE_LIMIT_GET_PEERS: rate("GetPeers requests per peer", DEFAULT_RATE_LIMITS.getPeers),
  RATE_LIMIT_PING: rate("Pings per peer (each is answered with a Pong)", DEFAULT_RATE_LIMITS.ping),
  RATE_LIMIT_GOSSIP: rate("NewBlock/Tx and unsolicited messages per peer", DEFAULT_RATE_LIMITS.gossip),
  RATE_LIMIT_GOSSIP_BYTES: rate("Bytes of NewBlock/Tx and unsolicited messages per peer", DEFAULT_RATE_LIMITS.gossipBytes),
  RATE_LIMIT_NODE_BYTES: rate(
    "Bytes of NewBlock/Tx and unsolicited messages (skipped ones too) from all peers together; beyond, the peers sending more than a fair share of it are not read for a while (never an offence)",
    DEFAULT_RATE_LIMITS.nodeBytes,
  ),
  RATE_LIMIT_PUSHES: rate("NewBlocks carrying their block per peer, within the gossip limits; beyond, the block is skipped unread and the announcement read (never an offence)", DEFAULT_RATE_LIMITS.pushes),
  PUSH_PACE: rate("Our new tips pushed with their block to one peer; beyond, announced alone (keep it under the peers' RATE_LIMIT_PUSHES, or they skip the blocks we send unread)", DEFAULT_PUSH_PACE),
  RATE_LIMIT_ABUSE: rate("Dropped messages tolerated per peer before a RATE_LIMIT offence is reported", DEFAULT_RATE_LIMITS.abuse),
  ANNOUNCE_MAX_AGE: durationMs({ description: "Our new tip is announced to peers only while this fresh (not during catch-up)", default: D.announceMaxAgeMs, min: 0 }),
  BLOCK_PUSH_MAX_BYTES: bytes({
    description: "Our new block goes with its announcement to peers that have not announced it (they write it without asking) when it is at most this big; 0: announce only",
    default: D.blockPushMaxBytes,
    min: 0,
    max: FIELD_LIMITS.pushedBlockBytes,
  }),
  BLOCK_PUSH_FANOUT: int({
    description: "Peers our new block is pushed to (of those that have not announced it): at least this many, ⌈√n⌉ of n when more; the others get the announcement alone",
    default: D.blockPushFanout,
    min: 1,
  }),
  CLOCK_WARN_OFFSET: durationMs({
    description: "Our clock is reported suspect (metric, warning, `timenetctl status`) when it is this far from the median of our peers' Hello timestamps; never a peer's offence",
    default: D.clockWarnOffsetMs,
    min: 1,
  }),
  CLOCK_MIN_PEERS: int({ description: "Connected peers needed to judge our clock (the median of their Hello timestamps)", default: D.clockMinPeers, min: 1, max: 1000 }),
  ADMISSION_WAIT: durationMs({ description: "How long start-up waits for the registry's admission policy (bans) before accepting", default: D.admissionWaitMs, min: 0 }),
  SOFTWARE_VERSION: optional(str({ description: "Version sent in Hello (default: git describe)" })),
};

/** Values each valid alone that do not work together. */
export const gatewayEnvChecks: Array<CrossCheck<typeof gatewayEnvSchema>> = [
  // A frame that cannot fit the send queue would close every connection it is sent on.
  atMost("MAX_FRAME_BYTES", "MAX_SEND_QUEUE"),
  atMost("MAX_SOCKETS_PER_IP", "MAX_CONNECTIONS"),
  // Peers run the same defaults: a pace above our own inbound limit would overrun theirs.
  paceWithin("GET_BLOCKS_PACE", "RATE_LIMIT_GET_BLOCKS"),
  paceWithin("PUSH_PACE", "RATE_LIMIT_PUSHES"),
];

/** `pace` no faster and no burstier than `limit`. */
function paceWithin(pace: "GET_BLOCKS_PACE" | "PUSH_PACE", limit: "RATE_LIMIT_GET_BLOCKS" | "RATE_LIMIT_PUSHES"): CrossCheck<typeof gatewayEnvSchema> {
  return {
    variables: [pace, limit],
    expected: `${pace} no faster and no burstier than ${limit}`,
    holds: (c) => c[pace].count / c[pace].periodMs <= c[limit].count / c[limit].periodMs && c[pace].burst <= c[limit].burst,
  };
}

export type GatewayEnv = ConfigOf<typeof gatewayEnvSchema>;

export function parseGatewayEnv(env: Env = process.env): GatewayEnv {
  return parseConfig(gatewayEnvSchema, env, gatewayEnvChecks);
}
