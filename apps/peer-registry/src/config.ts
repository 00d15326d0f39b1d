import { PORT_PLAN, atMost, custom, durationMs, int, list, optional, parseConfig, serviceEnvSchema, str, type ConfigOf, type CrossCheck, type Env } from "@timenet/config";
import { normalizeIp, parseEndpoint } from "@timenet/net-address";
import { formatRate, parseRate } from "@timenet/rate-limit";
import { DEFAULT_SCORE_POLICY as S, REGISTRY_DEFAULTS as D } from "./options.js";

/** The registry's environment variables (the README's configuration table is generated from this). */
export const registryEnvSchema = {
  ...serviceEnvSchema({ service: "peer-registry", grpcServices: "PeerRegistryService" }),
  REGISTRY_DB_PATH: str({ description: "LMDB directory of the peer book (keep it on a volume)", default: "data/peers" }),
  PUBLIC_IP: optional(custom({ description: "This host's public IP; the higher IP of a pair dials. Unset: always dial", expected: "an IPv4 or IPv6 address", parse: (raw) => normalizeIp(raw) })),
  BOOTSTRAP_PEERS: list({ description: "Peers always kept connected, `ip:port,...`", default: D.bootstrapPeers, itemExpected: "ip:port", item: (s) => parseEndpoint(s, PORT_PLAN.p2p) }),
  ALLOW_LIST: list({ description: "IPs exempt from inbound limits and never banned automatically", default: D.allowList, itemExpected: "IP addresses", item: (s) => normalizeIp(s) }),
  TARGET_OUTBOUND: int({ description: "Outbound connections to keep", default: D.targetOutbound, min: 0, max: 1000 }),
  MAX_INBOUND: int({ description: "Inbound sockets admitted from peers not allow-listed", default: D.maxInbound, min: 0 }),
  MAX_PER_SUBNET: int({ description: "Inbound sockets admitted from one subnet (/24, /64)", default: D.maxPerSubnet, min: 1 }),
  SUBNET_PREFIX_V4: int({ description: "IPv4 subnet size for MAX_PER_SUBNET", default: D.subnetPrefixV4, min: 8, max: 32 }),
  SUBNET_PREFIX_V6: int({ description: "IPv6 subnet size for MAX_PER_SUBNET", default: D.subnetPrefixV6, min: 16, max: 128 }),
  PASSIVE_WAIT: durationMs({ description: "How long the lower IP waits to be dialled before dialling", default: D.passiveWaitMs, min: 0 }),
  BACKOFF_MIN: durationMs({ description: "First redial delay (grows x2 per failure, with jitter)", default: D.backoffMinMs, min: 1 }),
  BACKOFF_MAX: durationMs({ description: "Longest redial delay", default: D.backoffMaxMs, min: 1 }),
  STABLE_AFTER: durationMs({ description: "Connection age that resets a peer's failure count", default: D.stableAfterMs, min: 0 }),
  DIAL_GIVE_UP: durationMs({ description: "A dial the gateway neither completed nor reported within this is retried (not counted against the peer)", default: D.dialGiveUpMs, min: 100 }),
  FORGET_AFTER_FAILURES: int({ description: "Learned peers are forgotten after this many consecutive failures", default: D.forgetAfterFailures, min: 1 }),
  UNVERIFIED_MAX_FAILURES: int({
    description: "An address learned from peer exchange that never completed a handshake is dropped after this many failed dials (never counted against the IP; at most FORGET_AFTER_FAILURES)",
    default: D.unverifiedMaxFailures,
    min: 1,
  }),
  MAX_BOOK_SIZE: int({ description: "Peer book entries; the worst learned ones are evicted beyond this", default: D.maxBookSize, min: 10 }),
  // At most 4096: the admission policy lists every ban (at most ~150 bytes each, its reason cut to POLICY_REASON_LIMIT) in one NATS value of at most 1 MiB.
  MAX_BANS: int({ description: "Bans in force at once; a new ban beyond this lifts the one ending soonest (an offender's before an operator's)", default: D.maxBans, min: 1, max: 4096 }),
  POLICY_MIN_INTERVAL: durationMs({
    description: "The admission policy (every ban, one NATS value) is written at most once per this; bans meanwhile go out together (the offender's own link is closed at once either way)",
    default: D.policyMinIntervalMs,
    min: 0,
    max: 10_000,
  }),
  SCORE_LOW_PENALTY: int({ description: "Score lost per low-grade offence (ping/handshake timeout, rate limit)", default: S.lowPenalty, min: 0 }),
  SCORE_MID_PENALTY: int({ description: "Score lost per mid-grade offence (bad frame, protocol violation, invalid block)", default: S.midPenalty, min: 0 }),
  BAN_THRESHOLD: int({ description: "Score at or below which an IP is banned", default: S.banThreshold, max: -1 }),
  SCORE_HALF_LIFE: durationMs({ description: "Scores halve back towards 0 in this time", default: S.halfLifeMs, min: 1_000 }),
  BAN_DURATION: durationMs({ description: "First ban; each later ban of the same IP doubles it", default: S.banBaseMs, min: 1_000 }),
  BAN_MAX: durationMs({ description: "Longest automatic ban", default: S.banMaxMs, min: 1_000 }),
  PEER_EXCHANGE_INTERVAL: durationMs({ description: "How often each connected peer is asked for its peers", default: D.peerExchangeIntervalMs, min: 100 }),
  PEER_EXCHANGE_MAX: int({ description: "Addresses per Peers answer, sent or read", default: D.peerExchangeMax, min: 1, max: 1000 }),
  PEER_EXCHANGE_CANDIDATES: custom({
    description: "New candidates accepted from one peer: count/period:burst",
    default: D.candidateRate,
    expected: "a rate such as 64/10m:64 (count/period:burst)",
    parse: parseRate,
    show: formatRate,
  }),
  PEER_EXCHANGE_SOURCES: int({ description: "Peers whose candidate budget is remembered across their reconnects; beyond this the fullest budget is forgotten", default: D.peerExchangeSources, min: 1 }),
};

/** Values each valid alone that do not work together. */
export const registryEnvChecks: Array<CrossCheck<typeof registryEnvSchema>> = [
  atMost("BACKOFF_MIN", "BACKOFF_MAX"),
  atMost("BAN_DURATION", "BAN_MAX"),
  // A mid-grade offence must weigh at least a low-grade one.
  atMost("SCORE_LOW_PENALTY", "SCORE_MID_PENALTY"),
];

export type RegistryEnv = ConfigOf<typeof registryEnvSchema>;

export function parseRegistryEnv(env: Env = process.env): RegistryEnv {
  return parseConfig(registryEnvSchema, env, registryEnvChecks);
}
