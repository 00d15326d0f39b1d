import { randomBytes } from "node:crypto";
import type { Registry } from "prom-client";
import type { TypedEvents } from "@timenet/events";
import { Buckets, Direction, GatewayService } from "@timenet/proto";
import { StateBucket } from "@timenet/bus";
import { ServiceFrame } from "@timenet/service-runtime";
import { PeerLabeler, type Logger } from "@timenet/telemetry";
import { AdmissionControl } from "./admission.js";
import { ChainTipLink } from "./chain-tip-link.js";
import { systemClock } from "./clock.js";
import { ClockOffsets, type ClockVerdict } from "./clock-offsets.js";
import { ConnectionManager, type ConnectionManagerEvents } from "./connection-manager.js";
import { ConnectionStatePublisher } from "./connection-state.js";
import { gatewayServiceImpl } from "./grpc-service.js";
import { PROTOCOL_VERSION, type LocalIdentity } from "./hello.js";
import { createChannelIdentity } from "./channel-identity.js";
import { GatewayMetrics } from "./metrics.js";
import { FramePrices } from "./frame-prices.js";
import { maxTxBytes } from "@timenet/chain";
import { NatsBridge } from "./nats-bridge.js";
import { resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from "./options.js";
import { RegistryLink } from "./registry-link.js";
import { RecentDisconnects } from "./recent-disconnects.js";
import { SourceIpWatch } from "./source-ip-watch.js";
import type { CloseInfo, PeerConnection } from "./peer-connection.js";

const CLOCK_EVALUATE_MS = 30_000;
/** How often the source-IP alarm drops evidence older than its window. */
const SOURCE_IP_EVALUATE_MS = 10_000;

/** The clock fields of GetInfo. */
function clockInfo(v: ClockVerdict, o: ResolvedGatewayOptions) {
  return { clockOffsetMs: v.offsetMs, clockPeers: v.peers, clockSuspect: v.suspect, clockMinPeers: o.clockMinPeers, clockWarnOffsetMs: BigInt(o.clockWarnOffsetMs) };
}

export interface Gateway {
  readonly nodeId: string;
  readonly p2pPort: number;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedGatewayOptions;
  /** The connection manager's events (ConnectionManagerEvents). */
  readonly events: TypedEvents<ConnectionManagerEvents>;
  readonly manager: ConnectionManager;
  readonly registry: Registry;
  readonly admission: AdmissionControl;
  readonly logger: Logger;
  /** The best height and hash announced in Hellos. */
  setTip(height: number, hash: Uint8Array): void;
  stop(): Promise<void>;
}

/**
 * Starts a p2p-gateway: P2P listener, dialler, NATS bridge, gRPC and
 * metrics. Several can run in one process (tests, devnet).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const o = resolveGatewayOptions(options);
  return ServiceFrame.start("p2p-gateway", o, async (frame) => {
    const { logger, registry, cleanups } = frame;
    const metrics = new GatewayMetrics(registry);
    const labeler = new PeerLabeler(o.namedPeers);
    const admission = new AdmissionControl();

    const bus = await frame.connectBus();

    let tip: { height: number; hash: Uint8Array } = { height: 0, hash: new Uint8Array(o.genesisHash) };
    const local: LocalIdentity = {
      key: o.nodeKey,
      network: o.network,
      genesisHash: o.genesisHash,
      protocolVersion: PROTOCOL_VERSION,
      minProtocolVersion: o.minProtocolVersion,
      softwareVersion: o.softwareVersion,
      listenPort: 0, // set once the listener is bound
      sessionId: randomBytes(16),
      sessionStartedMs: BigInt(o.wallClock()),
      tip: () => tip,
    };

    const manager: ConnectionManager = new ConnectionManager({
      local,
      // A fresh static Noise key per process, signed once by the node key.
      channelIdentity: createChannelIdentity(o.nodeKey, o.network, o.genesisHash),
      dialLocalAddress: o.dialLocalAddress,
      dialTimeoutMs: o.dialTimeoutMs,
      maxConnections: o.maxConnections,
      maxSocketsPerIp: o.maxSocketsPerIp,
      handshakeEvictableAfterMs: o.handshakeEvictableAfterMs,
      tuning: {
        pingIntervalMs: o.pingIntervalMs,
        missedPongs: o.missedPongs,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        maxFrameBytes: o.maxFrameBytes,
        maxSendQueueBytes: o.maxSendQueueBytes,
        closeGraceMs: o.closeGraceMs,
        maxPendingRequests: o.maxPendingRequests,
        rateLimits: o.rateLimits,
        prices: new FramePrices({ maxFrameBytes: o.maxFrameBytes, maxBlockBytes: o.maxBlockBytes, maxTxs: o.maxTxs }),
      },
      logger,
      metrics,
      labeler,
      isBanned: (ip) => admission.isBanned(ip),
      admit: (ip) => admission.admit(ip, manager.inboundIps()),
      subnetOf: (ip) => admission.subnetOf(ip),
      isProtected: (ip) => admission.allowList.has(ip),
      acceptRates: o.acceptRates,
      wallClock: o.wallClock,
    });

    // One IP = one peer needs real source IPs: a proxy that hides them is reported, never acted on.
    const sourceIps = new SourceIpWatch({ ...o.sourceIpWatch, gauge: metrics.sourceIpMasked, logger });
    manager.events.on("connected", (c) => {
      const nodeId = c.secureSession?.remoteNodeId ?? c.peerHello?.nodeId;
      if (c.direction === Direction.INBOUND && nodeId) sourceIps.inbound(c.remoteIp, nodeId);
    });
    // The alarm ends when its evidence is older than the window, with or without a new connection or a /readyz.
    const sourceIpTimer = setInterval(() => sourceIps.evaluate(), SOURCE_IP_EVALUATE_MS).unref();
    cleanups.push(() => clearInterval(sourceIpTimer));

    // Our clock against our peers': observed, never held against anyone.
    const clockOffsets = new ClockOffsets({ clock: systemClock, wallClock: o.wallClock, warnOffsetMs: o.clockWarnOffsetMs, minPeers: o.clockMinPeers, metrics, logger });
    metrics.refreshClock = () => void clockOffsets.evaluate();
    manager.events.on("connected", (c) => {
      if (c.clockSample) clockOffsets.add(c.remoteIp, c.clockSample);
    });
    manager.events.on("disconnected", (c) => clockOffsets.remove(c.remoteIp));
    // Between connection events and scrapes, a step of our clock (NTP) is still noticed and logged.
    const clockTimer = setInterval(() => clockOffsets.evaluate(), CLOCK_EVALUATE_MS).unref();
    cleanups.push(() => clearInterval(clockTimer));
    // The policy (bans) is in place, and dial orders are heard, before this
    // run announces itself: the registry dials as soon as it sees the new run.
    const link = new RegistryLink({ bus, manager, admission, metrics, logger, labeler, maxNamedPeers: 64 });
    await link.start(o.admissionWaitMs);
    cleanups.push(() => link.stop());

    // The connection set is state others watch: this run's entry goes before
    // any connection's.
    const connectionState = new ConnectionStatePublisher({
      bucket: await StateBucket.open(bus, Buckets.connections),
      runId: local.sessionId,
      nodeId: o.nodeKey.nodeId,
      logger,
      metrics,
      current: () => manager.connections(),
    });
    // Listening before start(): the registry answers our run entry with dial
    // orders at once, and a connection made while start() awaits NATS must not
    // go unpublished (its entry waits in the queue until the run entry is written).
    manager.events.on("connected", (c) => connectionState.connected(c));
    manager.events.on("disconnected", (c, info) => connectionState.closed(c, info));
    await connectionState.start();
    // Runs after the manager's stop (cleanups run in reverse): the Goodbyes' closes are written too.
    cleanups.push(() => connectionState.stop());
    const p2pPort = await manager.listen(o.listenHost, o.listenPort);
    local.listenPort = o.announcePort ?? p2pPort;
    cleanups.push(() => manager.stop(o.closeGraceMs));

    const bridge = new NatsBridge({
      bus,
      manager,
      metrics,
      logger,
      seenCacheSize: o.seenCacheSize,
      defaultRequestTimeoutMs: o.peerRequestTimeoutMs,
      maxTxBytes: maxTxBytes(o),
      maxRequestTimeoutMs: o.maxPeerRequestTimeoutMs,
      maxBlockRequestsPerPeer: o.maxBlockRequestsPerPeer,
      getBlocksPace: o.getBlocksPace,
      pushPace: o.pushPace,
      blockPushMaxBytes: o.blockPushMaxBytes,
      blockPushFanout: o.blockPushFanout,
      tip: () => tip,
      onAnnounced: (c) => connectionState.announced(c),
    });
    bridge.start();
    cleanups.push(() => bridge.stop());


    const tipLink = new ChainTipLink({
      bus,
      logger,
      genesisHash: o.genesisHash,
      announceMaxAgeMs: o.announceMaxAgeMs,
      announce: (t) => bridge.announceBlock(t),
      setTip: (height, hash) => {
        tip = { height, hash };
      },
    });
    tipLink.start();
    cleanups.push(() => tipLink.stop());

    const recent = new RecentDisconnects();
    manager.events.on("disconnected", (c: PeerConnection, info: CloseInfo) =>
      recent.add({ ip: c.remoteIp, reason: info.reason, initiator: info.initiator, atMs: BigInt(Date.now()), livedMs: BigInt(info.livedMs) }),
    );
    const info = () => ({
      nodeId: o.nodeKey.nodeId,
      softwareVersion: o.softwareVersion,
      protocolVersion: PROTOCOL_VERSION,
      network: o.network,
      genesisHash: o.genesisHash,
      bestHeight: tip.height,
      bestHash: tip.hash,
      listenPort: local.listenPort,
      startedAtMs: local.sessionStartedMs,
      recentDisconnects: recent.list(),
      ...clockInfo(clockOffsets.evaluate(), o),
    });
    await frame.serve([{ service: GatewayService, impl: gatewayServiceImpl(manager, info) }], [
      { name: "nats", check: () => bus.connected },
      { name: "source_ips_visible", check: () => !sourceIps.masked, reason: () => sourceIps.reason },
    ]);

    frame.started({
      p2p: `${o.listenHost}:${p2pPort}`,
      node_id: o.nodeKey.nodeId,
      network: o.network,
      admission_policy: admission.hasPolicy,
    });

    return {
      nodeId: o.nodeKey.nodeId,
      p2pPort,
      grpcPort: frame.grpcPort,
      metricsPort: frame.metricsPort,
      options: o,
      events: manager.events,
      manager,
      registry,
      admission,
      logger,
      setTip(height, hash) {
        tip = { height, hash };
      },
      stop: () => frame.stop(),
    };
  });
}
