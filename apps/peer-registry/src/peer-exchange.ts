import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerMessageSchema, PeerRequestSchema, PeerResponseSchema, SendToPeerSchema, Subjects, type PeerAddress } from "@timenet/proto";
import { isPublicIp, isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import type { Bus, BusSubscription } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import { TokenBucket } from "@timenet/rate-limit";
import type { RegistryMetrics } from "./metrics.js";
import type { ResolvedRegistryOptions } from "./options.js";
import type { PeerBook } from "./peer-book.js";

export interface PeerExchangeOptions {
  bus: Bus;
  book: PeerBook;
  metrics: RegistryMetrics;
  logger: Logger;
  options: ResolvedRegistryOptions;
}

/**
 * Peer exchange: answers peers' GetPeers from the book, asks each connected
 * peer for its peers on connect and then every interval, and feeds what it
 * learns to the book as candidates, at most `candidateRate` new ones per
 * source peer, so one peer cannot flood the book.
 */
export class PeerExchange {
  private readonly subs: BusSubscription[] = [];
  private readonly lastAsked = new Map<PeerIp, number>();
  private readonly budgets = new Map<PeerIp, TokenBucket>();

  constructor(private readonly o: PeerExchangeOptions) {}

  start(): void {
    const { bus, book, metrics, options } = this.o;
    this.subs.push(
      bus.subscribe(Subjects.peerIn("get_peers"), PeerMessageSchema, (m) => {
        const env = m.envelope;
        if (!env || env.payload.case !== "getPeers" || !isValidIp(m.peerIp)) return;
        const ip = normalizeIp(m.peerIp);
        const max = Math.min(env.payload.value.max || options.peerExchangeMax, options.peerExchangeMax);
        const peers = book.sharePeers(ip, max);
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
        if (env?.payload.case === "peers" && isValidIp(m.peerIp)) this.ingest(normalizeIp(m.peerIp), env.payload.value.peers);
      }),
    );
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  onConnected(ip: PeerIp): void {
    void this.ask(ip);
  }

  onDisconnected(ip: PeerIp): void {
    this.lastAsked.delete(ip);
    this.budgets.delete(ip);
  }

  /** Asks every connected peer not asked within the interval. */
  tick(connected: PeerIp[], now = Date.now()): void {
    for (const ip of connected) {
      if (now - (this.lastAsked.get(ip) ?? 0) >= this.o.options.peerExchangeIntervalMs) void this.ask(ip, now);
    }
  }

  private async ask(ip: PeerIp, now = Date.now()): Promise<void> {
    const { bus, metrics, logger, options } = this.o;
    this.lastAsked.set(ip, now);
    try {
      const res = await bus.request(
        Subjects.peerRequest,
        PeerRequestSchema,
        { peerIp: ip, envelope: create(EnvelopeSchema, { payload: { case: "getPeers", value: { max: options.peerExchangeMax } } }), timeoutMs: 5_000 },
        PeerResponseSchema,
        { timeoutMs: 6_000 },
      );
      if (res.result.case === "envelope" && res.result.value.payload.case === "peers") {
        metrics.peerExchangeRequests.inc({ result: "asked_ok" });
        this.ingest(ip, res.result.value.payload.value.peers);
      } else {
        metrics.peerExchangeRequests.inc({ result: "asked_failed" });
        logger.debug({ peer_ip: ip, error: res.result.case === "error" ? res.result.value.message : "unexpected answer" }, "peer exchange request failed");
      }
    } catch (err) {
      metrics.peerExchangeRequests.inc({ result: "asked_failed" });
      logger.debug({ peer_ip: ip, err: (err as Error).message }, "peer exchange request failed");
    }
  }

  private ingest(from: PeerIp, addrs: PeerAddress[]): void {
    const { book, metrics, logger, options } = this.o;
    let budget = this.budgets.get(from);
    if (!budget) {
      budget = new TokenBucket(options.candidateRate);
      this.budgets.set(from, budget);
    }
    const fromPublic = isPublicIp(from);
    const tally: Record<string, number> = {};
    for (const a of addrs.slice(0, options.peerExchangeMax)) {
      let result: string;
      if (!isValidIp(a.ip)) result = "invalid";
      else {
        const ip = normalizeIp(a.ip);
        if (ip === from) result = "known";
        else if (book.get(ip)) result = "known";
        else if (!budget.take()) result = "rate_limited";
        else result = book.addCandidate(ip, a.port, fromPublic);
      }
      metrics.candidates.inc({ result });
      tally[result] = (tally[result] ?? 0) + 1;
    }
    const dropped = addrs.length - Math.min(addrs.length, options.peerExchangeMax);
    if (dropped > 0) metrics.candidates.inc({ result: "rate_limited" }, dropped);
    if (tally.accepted) logger.info({ peer_ip: from, ...tally }, "learned peers from peer exchange");
  }
}
