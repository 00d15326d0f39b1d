import type { Registry } from "prom-client";
import { Buckets, decodeGatewayState, DialFailedSchema, DialRequestSchema, OffenceSchema, PeerMessageSchema, PeerRegistryService, PeerState, Subjects } from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import { StateBucket, type BusSubscription } from "@timenet/bus";
import { ServiceFrame } from "@timenet/service-runtime";
import type { Logger } from "@timenet/telemetry";
import { AdmissionPublisher } from "./admission-publisher.js";
import { resolveRegistryOptions, type RegistryOptions, type ResolvedRegistryOptions } from "./options.js";
import type { PeerAddresses } from "./peer-addresses.js";
import { openPeerBook } from "./peer-book.js";
import { PeerExchange } from "./peer-exchange.js";
import type { PeerRecords } from "./peer-records.js";
import { PeerStore } from "./peer-store.js";
import { registryServiceImpl } from "./registry-service.js";

export interface PeerRegistry {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedRegistryOptions;
  /** The peer book's records (read them; the units own their fields). */
  readonly records: PeerRecords;
  readonly addresses: PeerAddresses;
  readonly registry: Registry;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/**
 * Starts a peer-registry: the peer book (LMDB) and the units that each own a
 * part of it — the gateway's connection state, the dial planner, the judge
 * (offences, bans, admission policy), peer exchange — wired here, plus gRPC
 * and metrics. State flows one way each: the registry watches the gateway's
 * connection set and publishes its admission policy; the gateway gets dial
 * orders and reports failed dials and offences as events. Several registries
 * can run in one process (tests, devnet).
 */
export async function startRegistry(options: RegistryOptions): Promise<PeerRegistry> {
  const o = resolveRegistryOptions(options);
  return ServiceFrame.start("peer-registry", o, async (frame) => {
    const { logger, registry, cleanups } = frame;

    const store = await PeerStore.open(o.dbPath);
    cleanups.push(() => store.close());
    const { records, planner, judge, connections, addresses, metrics } = openPeerBook({ store, options: o, registry, logger, now: Date.now() });

    const bus = await frame.connectBus();
    const exchange = new PeerExchange({ bus, addresses, records, metrics, logger, intervalMs: o.peerExchangeIntervalMs, max: o.peerExchangeMax });

    connections.events.on("connected", (p, at) => exchange.onConnected(p.ip as PeerIp, at));
    connections.events.on("disconnected", (p) => exchange.onDisconnected(p.ip as PeerIp));

    const admission = new AdmissionPublisher({ bucket: await StateBucket.open(bus, Buckets.admission), judge, metrics, logger, minIntervalMs: o.policyMinIntervalMs });
    judge.events.on("policyChanged", () => admission.publishSoon());
    await admission.start();
    cleanups.push(() => admission.stop());

    // The gateway's connection set: read whole first, then followed.
    const gatewayState = await StateBucket.follow(bus, Buckets.connections);
    const watch = await gatewayState.watch({ decode: decodeGatewayState }, (change) => connections.apply(change, Date.now()));
    cleanups.push(() => watch.stop());
    await watch.initialized;
    connections.markInitialized(Date.now());

    const subs: BusSubscription[] = [
      bus.subscribe(Subjects.dialFailed, DialFailedSchema, (ev) => {
        if (isValidIp(ev.ip)) planner.onDialFailed({ ...ev, ip: normalizeIp(ev.ip) }, Date.now());
      }),
      bus.subscribe(Subjects.offence, OffenceSchema, (off) => {
        if (isValidIp(off.ip)) judge.onOffence({ ...off, ip: normalizeIp(off.ip) }, Date.now());
      }),
      bus.subscribe(Subjects.peerIn("new_block"), PeerMessageSchema, (m) => {
        const p = m.envelope?.payload;
        if (p?.case !== "newBlock" || !isValidIp(m.peerIp)) return;
        const peer = records.get(normalizeIp(m.peerIp));
        if (peer) records.raiseClaim(peer, p.value.height, p.value.hash);
      }),
    ];
    cleanups.push(() => subs.forEach((s) => s.unsubscribe()));
    exchange.start();
    cleanups.push(() => exchange.stop());

    const tick = () => {
      const at = Date.now();
      judge.tick(at);
      planner.tick(at);
      for (const d of planner.due(at)) {
        if (!bus.publish(Subjects.registryDial, DialRequestSchema, { ip: d.ip, port: d.port, reason: d.why })) break;
        planner.markSent(d.ip, at);
        metrics.dialAttempts.inc({ why: d.why });
        logger.info({ peer_ip: d.ip, port: d.port, why: d.why }, "asking the gateway to dial");
      }
      exchange.tick(records.list(PeerState.CONNECTED).map((p) => p.ip as PeerIp), at);
      records.saveClaims(at, o.claimSaveEveryMs);
    };
    const timer = setInterval(tick, o.tickMs);
    cleanups.push(() => {
      clearInterval(timer);
      // Before the book's store closes (cleanups run in reverse).
      records.saveClaims(Date.now(), 0);
    });
    tick();

    await frame.serve(
      [{ service: PeerRegistryService, impl: registryServiceImpl({ records, planner, judge, targetOutbound: o.targetOutbound }) }],
      [{ name: "nats", check: () => bus.connected }],
    );

    frame.started({
      db: o.dbPath,
      public_ip: o.publicIp ?? null,
      bootstrap: o.bootstrapPeers.length,
      allow_listed: o.allowList.length,
      target_outbound: o.targetOutbound,
    });

    return { grpcPort: frame.grpcPort, metricsPort: frame.metricsPort, options: o, records, addresses, registry, logger, stop: () => frame.stop() };
  });
}
