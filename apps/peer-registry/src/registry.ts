import type { Registry } from "prom-client";
import {
  AdmissionPolicyRequestSchema,
  AdmissionPolicySchema,
  type Connection,
  DialFailedSchema,
  DialRequestSchema,
  GatewayService,
  OffenceSchema,
  PeerConnectedSchema,
  PeerDisconnectedSchema,
  PeerMessageSchema,
  PeerRegistryService,
  PeerState,
  Subjects,
} from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import type { BusSubscription } from "@timenet/bus";
import { ServiceFrame } from "@timenet/service-runtime";
import { createGrpcClient, type ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import { RegistryMetrics } from "./metrics.js";
import { resolveRegistryOptions, type RegistryOptions, type ResolvedRegistryOptions } from "./options.js";
import { PeerBook } from "./peer-book.js";
import { PeerExchange } from "./peer-exchange.js";
import { PeerStore } from "./peer-store.js";
import { registryServiceImpl } from "./registry-service.js";

export interface PeerRegistry {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly options: ResolvedRegistryOptions;
  readonly book: PeerBook;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Compares the book with the gateway's connections now; resolves with the number of corrections. */
  reconcile(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts a peer-registry: the peer book (LMDB), its feeds from the gateway
 * over NATS, the dial planner, the admission policy, peer exchange, gRPC and
 * metrics. Several can run in one process (tests, devnet).
 */
export async function startRegistry(options: RegistryOptions): Promise<PeerRegistry> {
  const o = resolveRegistryOptions(options);
  const frame = new ServiceFrame("peer-registry", o);
  const { logger, registry, cleanups } = frame;

  try {
    const store = PeerStore.open(o.dbPath);
    cleanups.push(() => store.close());
    let publishSoon: () => void = () => undefined;
    // The metrics read their counts from the book, which reports through the metrics.
    const ref: { book?: PeerBook } = {};
    const metrics = new RegistryMetrics(registry, () => ref.book?.counts() ?? { connected: 0, disconnected: 0, banned: 0, size: 0 });
    const theBook = new PeerBook({ options: o, store, metrics, logger, onPolicyChange: () => publishSoon() });
    ref.book = theBook;
    theBook.load();

    const bus = await frame.connectBus();

    // The admission policy goes out after every change (coalesced within one
    // turn of the event loop) and periodically, for a gateway that restarted.
    let policyQueued = false;
    const publishPolicy = () => {
      policyQueued = false;
      if (bus.publish(Subjects.admissionPolicy, AdmissionPolicySchema, theBook.policy())) metrics.policyPublishes.inc();
    };
    publishSoon = () => {
      if (policyQueued) return;
      policyQueued = true;
      setImmediate(publishPolicy);
    };

    // The book corrected from the gateway's connections: periodically from
    // ListConnections, and at the gateway's start (when it holds none).
    const correctBook = (connections: Connection[], requestedAt: number): number => {
      const corrected = theBook.reconcile(connections, requestedAt);
      metrics.reconciliations.inc({ result: corrected > 0 ? "corrected" : "in_sync" });
      return corrected;
    };

    const pex = new PeerExchange({ bus, book: theBook, metrics, logger, options: o });
    const subs: BusSubscription[] = [
      bus.subscribe(Subjects.peerConnected, PeerConnectedSchema, (ev) => {
        if (!isValidIp(ev.ip)) return;
        theBook.onConnected({ ...ev, ip: normalizeIp(ev.ip) });
        pex.onConnected(normalizeIp(ev.ip));
      }),
      bus.subscribe(Subjects.peerDisconnected, PeerDisconnectedSchema, (ev) => {
        if (!isValidIp(ev.ip)) return;
        theBook.onDisconnected({ ...ev, ip: normalizeIp(ev.ip) });
        pex.onDisconnected(normalizeIp(ev.ip));
      }),
      bus.subscribe(Subjects.dialFailed, DialFailedSchema, (ev) => {
        if (isValidIp(ev.ip)) theBook.onDialFailed({ ...ev, ip: normalizeIp(ev.ip) });
      }),
      bus.subscribe(Subjects.offence, OffenceSchema, (off) => {
        if (isValidIp(off.ip)) theBook.onOffence({ ...off, ip: normalizeIp(off.ip) });
      }),
      bus.subscribe(Subjects.peerIn("new_block"), PeerMessageSchema, (m) => {
        const p = m.envelope?.payload;
        if (p?.case === "newBlock" && isValidIp(m.peerIp)) theBook.onAnnouncement(normalizeIp(m.peerIp), p.value.height, p.value.hash);
      }),
      bus.subscribe(Subjects.admissionPolicyGet, AdmissionPolicyRequestSchema, (req, ctx) => {
        // A starting gateway holds no connections; a crashed one sent no
        // disconnected events. Close what the book still holds, so that the
        // dial plan redials now rather than at the next reconciliation.
        if (req.starting) {
          const closed = correctBook([], Date.now());
          if (closed > 0) logger.warn({ closed }, "the gateway (re)started: the connections of its previous run are gone");
        }
        ctx.respond(AdmissionPolicySchema, theBook.policy());
      }),
    ];
    cleanups.push(() => subs.forEach((s) => s.unsubscribe()));
    pex.start();
    cleanups.push(() => pex.stop());

    const gateway: ServiceClient<typeof GatewayService> = createGrpcClient(GatewayService, o.gatewayGrpc);
    cleanups.push(() => gateway.close());
    const reconcile = async (): Promise<number> => {
      const requestedAt = Date.now();
      try {
        const res = await gateway.listConnections({}, { deadlineMs: 3_000 });
        return correctBook(
          res.connections.filter((c) => isValidIp(c.ip)).map((c) => ({ ...c, ip: normalizeIp(c.ip) })),
          requestedAt,
        );
      } catch (err) {
        metrics.reconciliations.inc({ result: "error" });
        logger.warn({ gateway: o.gatewayGrpc, err: (err as Error).message }, "cannot reach the gateway to reconcile the peer book");
        return 0;
      }
    };
    await reconcile();
    publishPolicy();

    const tick = () => {
      const now = Date.now();
      theBook.tick(now);
      for (const d of theBook.dueDials(now)) {
        if (!bus.publish(Subjects.registryDial, DialRequestSchema, { ip: d.ip, port: d.port, reason: d.why })) break;
        theBook.markDialSent(d.ip, now);
        metrics.dialAttempts.inc({ why: d.why });
        logger.info({ peer_ip: d.ip, port: d.port, why: d.why }, "asking the gateway to dial");
      }
      pex.tick(theBook.list(PeerState.CONNECTED).map((p) => p.ip as PeerIp), now);
    };
    const timers = [
      setInterval(tick, o.tickMs),
      setInterval(publishPolicy, o.policyRefreshMs),
      setInterval(() => void reconcile(), o.reconcileIntervalMs),
    ];
    cleanups.push(() => timers.forEach((t) => clearInterval(t)));
    tick();

    await frame.serve(
      [{ service: PeerRegistryService, impl: registryServiceImpl({ book: theBook, targetOutbound: o.targetOutbound, publishPolicy: publishSoon }) }],
      [{ name: "nats", check: () => bus.connected }],
    );

    logger.info(
      {
        grpc: frame.grpcPort,
        metrics: frame.metricsPort,
        db: o.dbPath,
        public_ip: o.publicIp ?? null,
        bootstrap: o.bootstrapPeers.length,
        allow_listed: o.allowList.length,
        target_outbound: o.targetOutbound,
      },
      "peer-registry started",
    );

    return {
      grpcPort: frame.grpcPort,
      metricsPort: frame.metricsPort,
      options: o,
      book: theBook,
      registry,
      logger,
      reconcile,
      stop: () => frame.stop(),
    };
  } catch (err) {
    await cleanups.run();
    throw err;
  }
}
