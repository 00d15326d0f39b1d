import type { Registry } from "prom-client";
import type { PeerIp } from "@timenet/net-address";
import type { Logger } from "@timenet/telemetry";
import { DialPlanner } from "./dial-planner.js";
import { GatewayConnections } from "./gateway-connections.js";
import { RegistryMetrics } from "./metrics.js";
import type { ResolvedRegistryOptions } from "./options.js";
import { PeerAddresses } from "./peer-addresses.js";
import { PeerJudge } from "./peer-judge.js";
import { PeerRecords } from "./peer-records.js";
import type { PeerStore } from "./peer-store.js";

/** The peer book: its records and the units that each own a part of them. */
export interface PeerBook {
  records: PeerRecords;
  planner: DialPlanner;
  judge: PeerJudge;
  connections: GatewayConnections;
  addresses: PeerAddresses;
  metrics: RegistryMetrics;
}

/**
 * Builds the peer book over a store and loads it with this run's
 * configuration (bootstrap peers, allow-list). The units are wired to each
 * other here, in one place, by typed events; what talks to NATS (peer
 * exchange, the policy publisher, the state watch) is wired by the registry.
 * No network, and every call takes its `now`: tests use exactly this.
 */
export function openPeerBook(o: { store: PeerStore; options: ResolvedRegistryOptions; registry: Registry; logger: Logger; now: number; random?: () => number }): PeerBook {
  const { store, options, logger } = o;
  // The metrics read their counts from the records, which report through the metrics.
  let countsOf: () => ReturnType<PeerRecords["counts"]> = () => ({ connected: 0, disconnected: 0, banned: 0, size: 0 });
  const metrics = new RegistryMetrics(o.registry, () => countsOf());
  // A throwing listener is a registry bug: counted and logged; the emitter and the other listeners carry on.
  const onListenerError = (event: string, err: unknown) => {
    metrics.listenerErrors.inc({ event });
    logger.error({ event, err }, "peer-book listener failed");
  };
  // A dial in flight pins its entry (the planner is created next; pinned runs only later).
  const records: PeerRecords = new PeerRecords({ store, maxBookSize: options.maxBookSize, metrics, logger, onListenerError, pinned: (p): boolean => planner.isPending(p.ip as PeerIp) });
  countsOf = () => records.counts();
  const planner: DialPlanner = new DialPlanner({
    records,
    metrics,
    logger,
    publicIp: options.publicIp,
    targetOutbound: options.targetOutbound,
    maxDialsPerTick: options.maxDialsPerTick,
    passiveWaitMs: options.passiveWaitMs,
    backoffMinMs: options.backoffMinMs,
    backoffMaxMs: options.backoffMaxMs,
    stableAfterMs: options.stableAfterMs,
    dialGiveUpMs: options.dialGiveUpMs,
    forgetAfterFailures: options.forgetAfterFailures,
    unverifiedMaxFailures: options.unverifiedMaxFailures,
    random: o.random,
  });
  const firstDialAt = (ip: string, now: number) => planner.firstDialAt(ip, now);
  const judge = new PeerJudge({
    records,
    metrics,
    logger,
    onListenerError,
    score: options.score,
    maxBans: options.maxBans,
    limits: { maxInbound: options.maxInbound, maxPerSubnet: options.maxPerSubnet, subnetPrefixV4: options.subnetPrefixV4, subnetPrefixV6: options.subnetPrefixV6 },
    firstDialAt,
  });
  const connections = new GatewayConnections({ records, metrics, logger, onListenerError, firstDialAt });
  const addresses = new PeerAddresses({
    records,
    metrics,
    logger,
    publicIp: options.publicIp,
    max: options.peerExchangeMax,
    maxAgeMs: options.peerExchangeMaxAgeMs,
    candidateRate: options.candidateRate,
    maxSources: options.peerExchangeSources,
    firstDialAt,
  });

  connections.events.on("gatewayRestarted", (at) => planner.onGatewayRestarted(at));
  connections.events.on("connected", (p) => planner.onConnected(p.ip as PeerIp));
  connections.events.on("disconnected", (p, reason, livedMs, at) => planner.onDisconnected(p, reason, livedMs, at));
  judge.events.on("banned", (ip) => planner.onBanned(ip));

  const loaded = records.load(o.now);
  planner.applyBootstrap(options.bootstrapPeers, o.now);
  judge.applyAllowList(options.allowList, o.now);
  logger.info({ peers: loaded.length, bootstrap: options.bootstrapPeers.length, allow_listed: options.allowList.length }, "peer book loaded");
  return { records, planner, judge, connections, addresses, metrics };
}
