import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerMessageSchema, PeerRequestSchema, PeerResponseSchema, SendToPeerSchema, Subjects } from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import type { Bus, BusSubscription } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { RegistryMetrics } from "./metrics.js";
import type { PeerAddresses } from "./peer-addresses.js";
import type { PeerRecords } from "./peer-records.js";

export interface PeerExchangeOptions {
  bus: Bus;
  addresses: PeerAddresses;
  records: PeerRecords;
  metrics: RegistryMetrics;
  logger: Logger;
  /** How often each connected peer is asked. */
  intervalMs: number;
  /** Addresses asked for and answered. */
  max: number;
}

/**
 * Peer exchange over the gateway: answers peers' GetPeers from the book, asks
 * each connected peer for its peers on connect and then every interval, and
 * hands what comes back (asked for or not) to PeerAddresses.
 */
export class PeerExchange {
  private readonly subs: BusSubscription[] = [];
  /** When each connected peer was last asked; entries go with the connection. */
  private readonly lastAsked = new Map<PeerIp, number>();

  constructor(private readonly o: PeerExchangeOptions) {
    o.records.events.on("removed", (ip) => this.lastAsked.delete(ip));
  }

  start(): void {
    const { bus, addresses, metrics } = this.o;
    this.subs.push(
      bus.subscribe(Subjects.peerIn("get_peers"), PeerMessageSchema, (m) => {
        const env = m.envelope;
        if (!env || env.payload.case !== "getPeers" || !isValidIp(m.peerIp)) return;
        const ip = normalizeIp(m.peerIp);
        const peers = addresses.share(ip, env.payload.value.max || this.o.max, Date.now());
        bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
          peerIp: ip,
          connId: m.connId,
          envelope: { requestId: env.requestId, payload: { case: "peers", value: { peers } } },
        });
        metrics.peerExchangeRequests.inc({ result: "answered" });
      }),
      // Unsolicited announcements count against the same budget.
      bus.subscribe(Subjects.peerIn("peers"), PeerMessageSchema, (m) => {
        const env = m.envelope;
        if (env?.payload.case === "peers" && isValidIp(m.peerIp)) addresses.ingest(normalizeIp(m.peerIp), env.payload.value.peers, Date.now());
      }),
    );
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  onConnected(ip: PeerIp, now: number): void {
    void this.ask(ip, now);
  }

  onDisconnected(ip: PeerIp): void {
    this.lastAsked.delete(ip);
  }

  /** Asks every connected peer not asked within the interval. */
  tick(connected: PeerIp[], now: number): void {
    for (const ip of connected) {
      if (now - (this.lastAsked.get(ip) ?? 0) >= this.o.intervalMs) void this.ask(ip, now);
    }
  }

  private async ask(ip: PeerIp, now: number): Promise<void> {
    const { bus, metrics, logger } = this.o;
    this.lastAsked.set(ip, now);
    try {
      const res = await bus.request(
        Subjects.peerRequest,
        PeerRequestSchema,
        { peerIp: ip, envelope: create(EnvelopeSchema, { payload: { case: "getPeers", value: { max: this.o.max } } }), timeoutMs: 5_000 },
        PeerResponseSchema,
        { timeoutMs: 6_000 },
      );
      if (res.result.case === "envelope" && res.result.value.payload.case === "peers") {
        metrics.peerExchangeRequests.inc({ result: "asked_ok" });
        this.o.addresses.ingest(ip, res.result.value.payload.value.peers, Date.now());
      } else {
        metrics.peerExchangeRequests.inc({ result: "asked_failed" });
        logger.debug({ peer_ip: ip, error: res.result.case === "error" ? res.result.value.message : "unexpected answer" }, "peer exchange request failed");
      }
    } catch (err) {
      metrics.peerExchangeRequests.inc({ result: "asked_failed" });
      logger.debug({ peer_ip: ip, err: (err as Error).message }, "peer exchange request failed");
    }
  }
}
