import type { PeerEndpoint, PeerIp } from "@timenet/net-address";
import { resolveServiceEndpoints, withDefaults, type ResolvedServiceEndpoints, type ServiceEndpointOptions } from "@timenet/service-runtime";
import type { Rate } from "@timenet/rate-limit";

/** Score penalties, the ban threshold and how bans grow. */
export interface ScorePolicy {
  /** Points an offence of each grade takes off (fatal offences ban at once). */
  lowPenalty: number;
  midPenalty: number;
  /** At or below this score the IP is banned. */
  banThreshold: number;
  /** Scores halve towards 0 in this time. */
  halfLifeMs: number;
  /** First ban; each later ban of the same IP doubles it, up to banMaxMs. */
  banBaseMs: number;
  banMaxMs: number;
}

/**
 * Everything startRegistry needs. Only NATS and the store path are required;
 * the rest default to REGISTRY_DEFAULTS (node "registry", the port plan's ports).
 */
export interface RegistryOptions extends ServiceEndpointOptions {
  /** LMDB directory of the peer book. */
  dbPath: string;
  /** This node's public IP: decides dial direction (the higher IP dials). Unset: always dial. */
  publicIp?: PeerIp;
  /** Peers kept connected whatever the target. */
  bootstrapPeers?: PeerEndpoint[];
  /** IPs exempt from inbound limits and automatic bans. */
  allowList?: PeerIp[];
  /** Outbound connections to keep. Default 8. */
  targetOutbound?: number;
  /** Inbound sockets admitted from strangers. Default 64. */
  maxInbound?: number;
  /** Inbound sockets admitted from one subnet. Default 4. */
  maxPerSubnet?: number;
  /** Subnet sizes for maxPerSubnet. Default /24 and /64. */
  subnetPrefixV4?: number;
  subnetPrefixV6?: number;
  /** How long the lower IP waits for the higher to dial before dialling itself. Default 30 s. */
  passiveWaitMs?: number;
  /** Redial backoff bounds. Default 1 s to 5 min. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A connection that lived this long resets its peer's failure count. Default 60 s. */
  stableAfterMs?: number;
  /** A dial the gateway neither completes nor reports within this is a failure. Default 20 s. */
  dialGiveUpMs?: number;
  /** Learned (not configured) peers are forgotten after this many consecutive failures. Default 8. */
  forgetAfterFailures?: number;
  /**
   * An address learned from peer exchange and never verified (no handshake
   * with that IP yet) is dropped after this many failed dials, never counted
   * against the IP. At most forgetAfterFailures. Default 3.
   */
  unverifiedMaxFailures?: number;
  /** How often dials, ban expiry and stable connections are evaluated. Default 1 s. */
  tickMs?: number;
  /**
   * How often peers' raised claims (the best block each announced) are
   * written to the book on disk, in ms; they are kept in memory at once.
   * Default 10 s. A crash forgets at most this much of them, and each peer's
   * next announcement makes its claim again.
   */
  claimSaveEveryMs?: number;
  /** Most dials sent in one tick. Default 8. */
  maxDialsPerTick?: number;
  /** Book entries kept; the worst are evicted beyond this. Default 5000. */
  maxBookSize?: number;
  /**
   * Bans in force at once. A new ban beyond this lifts the one that ends
   * soonest (an offender's before an operator's): an attacker with many IPs
   * can then neither grow the book without bound nor push the admission
   * policy, which lists every ban, past what NATS carries. Default 1024.
   */
  maxBans?: number;
  /**
   * The admission policy (every ban, one NATS value) is written at most once
   * per this: with many addresses an attacker changes it with every ban (120
   * writes a second in the attack suite's ban-list-overflow). The offender's
   * own connection is closed by the gateway at once either way. Default 100 ms.
   */
  policyMinIntervalMs?: number;
  score?: Partial<ScorePolicy>;
  /** How often each connected peer is asked for its peers. Default 5 min. */
  peerExchangeIntervalMs?: number;
  /** Addresses in one Peers answer we send, and read from one we get. Default 32. */
  peerExchangeMax?: number;
  /** Only peers seen within this are shared. Default 3 h. */
  peerExchangeMaxAgeMs?: number;
  /** New candidates accepted from one peer. Default 64 per 10 min. */
  candidateRate?: Rate;
  /** Telling peers whose candidate budget is remembered, whatever they do; beyond this the fullest budget is forgotten. Default 1024. */
  peerExchangeSources?: number;
}

export const DEFAULT_SCORE_POLICY: ScorePolicy = {
  lowPenalty: 10,
  midPenalty: 60,
  banThreshold: -100,
  halfLifeMs: 10 * 60_000,
  banBaseMs: 60 * 60_000,
  banMaxMs: 7 * 24 * 60 * 60_000,
};

/** Every default of startRegistry, in one place (the env schema reads them from here). */
export const REGISTRY_DEFAULTS = {
  bootstrapPeers: [] as PeerEndpoint[],
  allowList: [] as PeerIp[],
  targetOutbound: 8,
  maxInbound: 64,
  maxPerSubnet: 4,
  subnetPrefixV4: 24,
  subnetPrefixV6: 64,
  passiveWaitMs: 30_000,
  backoffMinMs: 1_000,
  backoffMaxMs: 5 * 60_000,
  stableAfterMs: 60_000,
  dialGiveUpMs: 20_000,
  forgetAfterFailures: 8,
  unverifiedMaxFailures: 3,
  tickMs: 1_000,
  claimSaveEveryMs: 10_000,
  maxDialsPerTick: 8,
  maxBookSize: 5_000,
  maxBans: 1_024,
  policyMinIntervalMs: 100,
  peerExchangeIntervalMs: 5 * 60_000,
  peerExchangeMax: 32,
  peerExchangeMaxAgeMs: 3 * 60 * 60_000,
  candidateRate: { count: 64, periodMs: 10 * 60_000, burst: 64 } as Rate,
  peerExchangeSources: 1_024,
};

export type ResolvedRegistryOptions = typeof REGISTRY_DEFAULTS &
  ResolvedServiceEndpoints & { dbPath: string; publicIp: PeerIp | undefined; score: ScorePolicy };

export function resolveRegistryOptions(o: RegistryOptions): ResolvedRegistryOptions {
  return {
    ...resolveServiceEndpoints(o, { node: "registry", service: "peer-registry" }),
    ...withDefaults(REGISTRY_DEFAULTS, o),
    dbPath: o.dbPath,
    publicIp: o.publicIp,
    score: { ...DEFAULT_SCORE_POLICY, ...o.score },
  };
}
